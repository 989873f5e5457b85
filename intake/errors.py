"""Error pages in the person's language that say what to do next. Never a stack trace, never client data."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, redirect, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound
from werkzeug.wrappers import Response

from intake import once
from intake.views import FORMS, posted_once, render_form_page, request_form_class

log = logging.getLogger("intake")

PAGES: dict[int, tuple[Any, Any]] = {
    400: (_l("This page could not be used"),
          _l("Something in what your browser sent did not make sense to us. Go back, reload the page and try "
             "again.")),
    404: (_l("This page does not exist"),
          _l("The address may be mistyped. Start again from the first page.")),
    405: (_l("This page cannot be used this way"),
          _l("Start again from the first page and use the buttons on the pages.")),
    413: (_l("What you sent is too large"),
          _l("Please go back, shorten your text, and send it again.")),
    415: (_l("This page could not read what was sent"),
          _l("This form takes typed text only, not files. Go back, reload the page and send the form again.")),
    429: (_l("Too many attempts, please wait"),
          _l("Too many attempts came in a short time. Please wait a minute, then try again. "
             "If you already received a receipt, your request is safe with us.")),
    500: (_l("Something went wrong on our side"),
          _l("Your request may not have been saved. If you did not see a receipt, please try again in a few "
             "minutes.")),
    503: (_l("The service is not taking requests right now"),
          _l("Please try again later today or tomorrow. If you already received a receipt, your request is "
             "safe with us.")),
}  # fmt: skip

CSRF_BANNER = _l("For your safety this form expired. Please check your answers and send the form again.")


def _language(app: Flask) -> str:
    config = app.extensions["intake"].config
    if g.get("lang") in config.languages:
        return str(g.lang)
    first = request.path.strip("/").split("/", 1)[0]
    return first if first in config.languages else str(config.default_locale)


def error_page(app: Flask, code: int) -> tuple[str, int]:
    g.lang = _language(app)
    title, advice = PAGES.get(code, PAGES[500 if code >= 500 else 400])
    return render_template("error.html", code=code, title=title, advice=advice), code


def default_language_redirect(app: Flask) -> Response | None:
    """``/status`` means ``/<default>/status``: an address typed or shared without its language is not a 404.

    Only for GET/HEAD of a path that matched no route and does match one under the default language; the
    target is a path on this site, so the redirect can never lead elsewhere.
    """
    if request.method not in ("GET", "HEAD") or not isinstance(request.routing_exception, NotFound):
        return None
    target = f"/{app.extensions['intake'].config.default_locale}{request.path}"
    try:
        endpoint, _args = app.url_map.bind("localhost").match(target, method="GET")
    except HTTPException:  # no such page there either, or a redirect of its own (a missing slash)
        return None
    return redirect(target) if endpoint != "intake.index" else None


def install(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        has_session = request.cookies.get(app.config["SESSION_COOKIE_NAME"]) is not None
        if request.endpoint in FORMS and request.method == "POST" and has_session:
            # Give the person their answers back (in this response only) rather than lose a long story. Not
            # without a session: after the quick exit (which drops it), Back and "resend" would otherwise
            # have the browser post the answers it keeps in its history and get them shown again.
            g.lang = _language(app)
            try:
                form = request_form_class()(meta={"csrf": True})
            except HTTPException:
                return error_page(app, 400)
            # The one-time token stays: if this form was stored before, sending it again stores nothing.
            return render_form_page(request.endpoint, form, CSRF_BANNER, posted_once() or once.new_token()), 400
        return error_page(app, 400)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        if error.code is None or error.code < 400:
            return error
        if error.code == NotFound.code:
            found = default_language_redirect(app)
            if found is not None:
                return found
        return error_page(app, error.code)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        if isinstance(error, HTTPException):
            return _http(error)  # type: ignore[no-any-return]
        log.error("unhandled error: %s", type(error).__name__)  # the type only: no message, no client data
        return error_page(app, InternalServerError.code)
