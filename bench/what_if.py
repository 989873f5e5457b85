"""What-if variants of intake, to measure an optimisation through the real gunicorn path before anyone
changes intake for it. NOT the product: nothing here is deployed, and nothing in intake imports it.

    python -m bench.intake_bench --what-if cached_form_page

``cached_form_page()``: intake, with the GET of the form page served from a page rendered once per language,
the CSRF token (the one per-request part of an empty form) filled in per request. The POST path (and every
error re-render) is intake's own.
"""

from __future__ import annotations

from typing import Any

TOKEN_MARKER = "CSRF-TOKEN-GOES-HERE"


def cached_form_page() -> Any:
    from flask import g, request
    from flask_wtf.csrf import generate_csrf

    from intake import views
    from intake.wsgi import app

    slow = app.view_functions["intake.request_form"]
    pages: dict[str, str] = {}

    def request_form() -> Any:
        if request.method != "GET":
            return slow()
        token = generate_csrf()  # sets the session's token (and the cookie) as the form's rendering would
        page = pages.get(g.lang)
        if page is None:
            text, _status = views._form_page(views.request_form_class()())
            pages[g.lang] = page = text.replace(token, TOKEN_MARKER)
        return page.replace(TOKEN_MARKER, token)

    app.view_functions["intake.request_form"] = request_form
    return app
