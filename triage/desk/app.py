"""``create_app(state)``: the desk's Flask application and the checks every request passes first.

In order, before any view runs: the Host header must name this desk's loopback address (a DNS
rebinding page gets 400); the request must carry the desk's secret (from the printed address,
exchanged once for a cookie that only this origin receives: 403 otherwise); a POST must come from a
form of this origin with this process's CSRF token (403); and a locked or idle desk answers only
with the unlock page. None of these refusals contains a word of any case.
"""

from __future__ import annotations

import importlib.resources
import io
from typing import IO, Any

from flask import Flask, Response, g, redirect, request, url_for
from flask.wrappers import Request
from werkzeug.exceptions import HTTPException

from triage.desk import replies, usb, views  # noqa: F401 - usb and replies add their routes to the views blueprint
from triage.desk.guard import COOKIE, refuse, same
from triage.desk.headers import security_headers
from triage.desk.state import DeskState
from triage.i18n import LANGUAGE_NAMES, translator
from triage.labels import LEVEL_LABELS, STATUS_LABELS, choice_text
from triage.text import clean

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
OPEN_WHEN_LOCKED = {"views.unlock", "views.language", "views.locked_notice"}
MAX_BODY_BYTES = 64 * 1024


class InMemoryRequest(Request):
    """Never spool a request body to a temp file: bodies are small (MAX_CONTENT_LENGTH) and stay in memory."""

    def _get_file_stream(
        self, total_content_length: int | None, content_type: str | None, filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:  # fmt: skip
        return io.BytesIO()


class DeskFlask(Flask):
    request_class = InMemoryRequest

    def log_exception(self, exc_info: Any) -> None:
        """Nothing from the request goes to the terminal: not the path (it may hold a search), not a trace."""


def create_app(state: DeskState) -> Flask:
    package = importlib.resources.files("triage.desk")
    css = package.joinpath("desk.css").read_text(encoding="utf-8")
    app = DeskFlask("triage.desk", template_folder=str(package.joinpath("templates")), static_folder=None)
    app.config.update(TESTING=False, MAX_CONTENT_LENGTH=MAX_BODY_BYTES, MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES)
    app.extensions["desk"] = state
    headers = security_headers(css)

    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: g.t.catalogue.gettext(message),
        ngettext=lambda singular, plural, n: g.t.catalogue.ngettext(singular, plural, n),
        newstyle=True,
    )
    app.jinja_env.filters["inert"] = clean

    @app.before_request
    def _guard() -> Response | None:
        g.t = translator(state.lang)
        if request.host not in state.allowed_hosts:
            return refuse(400)
        if request.endpoint == "views.open_desk":
            return None  # checks the secret in the address itself
        if not same(request.cookies.get(COOKIE), state.secret):
            return refuse(403)
        if request.method not in ("GET", "HEAD"):
            if request.mimetype not in FORM_TYPES or not same(request.form.get("csrf"), state.csrf):
                return refuse(403)
            origin = request.headers.get("Origin")
            if origin is not None and origin not in {f"http://{host}" for host in state.allowed_hosts}:
                return refuse(403)
            if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
                return refuse(403)
        if state.lock_if_idle() and request.endpoint not in OPEN_WHEN_LOCKED:
            return redirect(url_for("views.unlock"), code=303)  # type: ignore[return-value]
        state.touch()
        return None

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        return {"css": css, "csrf": state.csrf, "lang": state.lang, "languages": LANGUAGE_NAMES,
                "locked": state.locked, "t": g.t, "level_labels": LEVEL_LABELS, "status_labels": STATUS_LABELS,
                "choice_text": choice_text}  # fmt: skip

    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in headers.items():
            response.headers[name] = value
        response.headers.pop("Server", None)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        return refuse(error.code or 500)

    @app.errorhandler(Exception)
    def _any_error(error: Exception) -> Response:
        return refuse(500)

    app.register_blueprint(views.blueprint)

    return app


def desk_state(app: Flask) -> DeskState:
    found: DeskState = app.extensions["desk"]
    return found
