"""``create_app(state)``: the desk's Flask application and the checks every request passes first.

In order, before any view runs: the path must begin with this desk's random prefix (404 otherwise: a
page on another loopback port cannot name a desk address, and the cookie, whose Path is the prefix,
never reaches another port's server); the Host header must name this desk's loopback address (a DNS
rebinding page gets 400); the browser's Fetch Metadata must say the person or one of the desk's own
pages asked for a top-level page (``guard.fetch_refusal``: 403, GET included, so an image on a page
elsewhere neither reads anything nor counts as use for the idle lock); a POST must come from a form of
this origin with this process's CSRF token (403); the request must carry this desk's session cookie
(traded once for the one-time code in the opened address, or for the passphrase on the unlock page:
without it, only the unlock page); and a locked or idle desk answers only with the unlock page. None of
these refusals contains a word of any case.
"""

from __future__ import annotations

import importlib.resources
import io
from typing import IO, Any

from flask import Flask, Response, g, redirect, request, url_for
from flask.wrappers import Request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from triage.desk import files, replies, usb, views  # noqa: F401 - usb, replies, files add routes to the blueprint
from triage.desk import queue as q
from triage.desk.guard import COOKIE, fetch_refusal, refuse, same
from triage.desk.headers import security_headers
from triage.desk.state import DeskState
from triage.i18n import LANGUAGE_NAMES, translator
from triage.labels import LEVEL_LABELS, STATUS_LABELS, answer_text, field_label
from triage.text import clean

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
OPEN_WHEN_LOCKED = {"views.unlock", "views.language", "views.locked_notice"}
OPEN_WITHOUT_SESSION = {"views.unlock", "views.language"}
FILTER_ARGS = ("status", "level", "assignee", "q", "unread")
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


class UnderPrefix:
    """WSGI: serve only paths under ``/<prefix>/``; Flask then sees the prefix as its root, so url_for adds it."""

    def __init__(self, app: Any, state: DeskState, headers: dict[str, str]) -> None:
        self.app, self.state, self.headers = app, state, headers

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        root = "/" + self.state.prefix
        path = environ.get("PATH_INFO", "")
        if path.startswith(root + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + root
            environ["PATH_INFO"] = path[len(root) :]
            return self.app(environ, start_response)
        # Not a desk address: the same few words for every such path, nothing that says a desk is here.
        words = translator(self.state.lang).gettext("There is nothing at this address.").encode("utf-8")
        start_response("404 NOT FOUND", [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(words))), *self.headers.items()])  # fmt: skip
        return [words]


def _case_converter(state: DeskState) -> type[BaseConverter]:
    class CaseToken(BaseConverter):
        """A case address holds a random token, never the case id (history keeps addresses)."""

        regex = r"[A-Za-z0-9_-]{1,64}"

        def to_python(self, value: str) -> str:
            found = state.cases.value(value)
            return found if isinstance(found, str) else "-"  # "-" matches no case: the page says so

        def to_url(self, value: Any) -> str:
            return state.cases.token(str(value))

    return CaseToken


def create_app(state: DeskState) -> Flask:
    package = importlib.resources.files("triage.desk")
    css = package.joinpath("desk.css").read_text(encoding="utf-8")
    app = DeskFlask("triage.desk", template_folder=str(package.joinpath("templates")), static_folder=None)
    app.config.update(TESTING=False, MAX_CONTENT_LENGTH=MAX_BODY_BYTES, MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES)
    app.extensions["desk"] = state
    headers = security_headers(css)
    app.url_map.converters["case"] = _case_converter(state)
    app.wsgi_app = UnderPrefix(app.wsgi_app, state, headers)  # type: ignore[method-assign]

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
        g.has_session = False
        if request.host not in state.allowed_hosts:
            return refuse(400)
        opening = request.endpoint == "views.open_desk"
        picture = request.endpoint == files.PICTURE_ENDPOINT  # a rebuilt page, for an <img> on a desk page only
        refusal = fetch_refusal(dict(request.headers), request.method, may_arrive_from_elsewhere=opening,
                                may_be_image=picture)  # fmt: skip
        if refusal is not None:
            return refuse(refusal)
        if request.method not in ("GET", "HEAD"):
            if request.mimetype not in FORM_TYPES or not same(request.form.get("csrf"), state.csrf):
                return refuse(403)
            origin = request.headers.get("Origin")
            if origin is not None and origin not in {f"http://{host}" for host in state.allowed_hosts}:
                return refuse(403)
        if opening:
            return None  # the one-time code in the address is checked (and spent) by the view
        g.has_session = state.is_session(request.cookies.get(COOKIE))
        if not g.has_session:
            if request.endpoint in OPEN_WITHOUT_SESSION:
                return None  # the unlock page: the passphrase gives this browser a new session
            return redirect(url_for("views.unlock"), code=303)  # type: ignore[return-value]
        if state.lock_if_idle() and request.endpoint not in OPEN_WHEN_LOCKED:
            return redirect(url_for("views.unlock"), code=303)  # type: ignore[return-value]
        state.touch()
        return None

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        return {"css": css, "csrf": state.csrf, "lang": state.lang, "languages": LANGUAGE_NAMES,
                "locked": state.locked or not g.get("has_session"),
                "t": g.t, "level_labels": LEVEL_LABELS, "status_labels": STATUS_LABELS,
                "answer_text": answer_text, "field_label": field_label}  # fmt: skip

    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in headers.items():
            response.headers[name] = value
        if g.get("images_from_self"):  # the safe view page shows its rebuilt pictures, served by this desk
            response.headers["Content-Security-Policy"] += "; img-src 'self'"
        response.headers.pop("Server", None)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        return refuse(error.code or 500)

    @app.errorhandler(Exception)
    def _any_error(error: Exception) -> Response:
        return refuse(500)

    @app.url_defaults
    def _filters_behind_a_token(endpoint: str, values: dict[str, Any]) -> None:
        """``url_for('views.queue', level=...)`` keeps working, but the address holds only a random token."""
        if endpoint != "views.queue" or not any(name in values for name in FILTER_ARGS):
            return
        picked = {name: str(values.pop(name)) for name in FILTER_ARGS if name in values}
        filters = q.Filters.from_args(picked.get("status", ""), picked.get("level", ""), picked.get("assignee", ""),
                                      picked.get("q", ""), picked.get("unread", ""))  # fmt: skip
        if filters.active:
            values["view"] = state.views.token(filters)

    app.register_blueprint(views.blueprint)

    return app


def desk_state(app: Flask) -> DeskState:
    found: DeskState = app.extensions["desk"]
    return found
