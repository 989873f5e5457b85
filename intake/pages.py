"""Pages rendered once per language and filled in per request (issue 14 item 2).

An empty form page (the request form, the short form, the status page) differs from one visitor to the next
only in its CSRF token, and the landing page not at all; rendering them (Jinja, a dozen WTForms widgets,
Babel) cost more CPU than storing a submission. So each is rendered once per (page, language, mount point)
and kept split around the token; a later visitor gets the two halves joined by their own token. Every page
that shows answers or errors (a failed POST, a refusal keeping the answers, a language switch) is rendered in
full, as before. Headers and cookies are untouched: the view still returns the page, the session still gets
its token from ``generate_csrf``, and the response hooks add the same headers.

tests/intake/test_page_cache.py proves the joined page is byte-identical to a fresh render for any token,
language and page.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import current_app, g, request
from flask_wtf.csrf import generate_csrf

_PAGES = "intake_pages"
# What a token from generate_csrf is made of (itsdangerous: URL-safe base64 and dots). HTML escaping leaves
# these unchanged, so the raw token is exactly what the widget would have written into the page.
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]+")


def cached_page(render: Callable[[], str], *, with_token: bool) -> str:
    """The page ``render()`` would give for this request, rendered at most once per page and language.

    ``render`` must build the page from nothing but the language, the endpoint and (``with_token``) this
    request's CSRF token: no answers, no errors, no query string.
    """
    token = generate_csrf() if with_token else ""
    if with_token and not _TOKEN.fullmatch(token):
        return render()  # cannot happen with itsdangerous; a token needing escaping is never spliced in
    key = (request.endpoint, g.get("lang"), request.script_root)
    pages: dict[tuple[object, ...], tuple[str, ...]] = current_app.extensions.setdefault(_PAGES, {})
    parts = pages.get(key)
    if parts is None:
        page = render()
        parts = tuple(page.split(token)) if with_token else (page,)
        if len(parts) != (2 if with_token else 1):
            return page  # the token shows up more than once (or not at all): serve this render, keep none
        pages[key] = parts
        return page
    return token.join(parts)
