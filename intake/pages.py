"""Pages rendered once per language and filled in per request (issue 14 item 2).

An empty form page (the request form, the short form, the status page) differs from one visitor to the next
only in its CSRF token (a request form also in its one-time submission token), and the landing page not at
all; rendering them (Jinja, a dozen WTForms widgets, Babel) cost more CPU than storing a submission. So each
is rendered once per (page, language, mount point) and kept split around those values; a later visitor gets
the pieces joined by their own. Every page
that shows answers or errors (a failed POST, a refusal keeping the answers, a language switch) is rendered in
full, as before. Headers and cookies are untouched: the view still returns the page, the token still comes
from ``intake.csrf.generate`` (which draws the visitor's cookie), and the response hooks add the same headers.

tests/intake/test_page_cache.py proves the joined page is byte-identical to a fresh render for any token,
language and page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import AnyStr

from flask import current_app, g, request

from intake import csrf, once

PAGES_KEY = "intake_pages"  # app.extensions[PAGES_KEY]: {(endpoint, lang, script root): (parts, order)}
# What a token from intake.csrf is made of (digits, a dot, URL-safe base64). HTML escaping leaves
# these unchanged, so the raw token is exactly what the widget would have written into the page.
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]+")


def cached_page(render: Callable[[], str], *, with_token: bool, with_once: bool = False) -> str:
    """The page ``render()`` would give for this request, rendered at most once per page and language.

    ``render`` must build the page from nothing but the language, the endpoint, (``with_token``) this
    request's CSRF token and (``with_once``) ``g.once_token``, a fresh one-time submission token that this
    function sets (intake.once): no answers, no errors, no query string.
    """
    values: list[str] = []
    if with_token:
        values.append(csrf.generate())
        if not _TOKEN.fullmatch(values[0]):
            return render()  # cannot happen with itsdangerous; a token needing escaping is never spliced in
    if with_once:
        g.once_token = once.new_token()
        values.append(g.once_token)
    key = (request.endpoint, g.get("lang"), request.script_root)
    pages: dict[tuple[object, ...], tuple[tuple[str, ...], tuple[int, ...]]]
    pages = current_app.extensions.setdefault(PAGES_KEY, {})
    cached = pages.get(key)
    if cached is None:
        page = render()
        if any(page.count(value) != 1 for value in values):
            return page  # a value shows up more than once (or not at all): serve this render, keep none
        order = tuple(sorted(range(len(values)), key=lambda i: page.index(values[i])))
        parts: list[str] = []
        rest = page
        for i in order:
            head, _, rest = rest.partition(values[i])
            parts.append(head)
        parts.append(rest)
        if join(parts, order, values) != page:
            return page  # the values overlap in the page: serve this render, keep none
        pages[key] = (tuple(parts), order)
        return page
    return join(*cached, values)


def join(parts: Sequence[AnyStr], order: Sequence[int], values: Sequence[AnyStr]) -> AnyStr:
    """The page from its pieces and values, as text or (pieces encoded once, ASCII values) as bytes."""
    pieces = [parts[0]]
    for n, i in enumerate(order):
        pieces += [values[i], parts[n + 1]]
    return parts[0][:0].join(pieces)
