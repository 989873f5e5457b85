"""``create_app(config)``: the Flask application, with every piece of state hung on the app itself."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from dataclasses import dataclass
from typing import IO, Any

from flask import Flask, abort, g, request
from flask.sessions import SessionInterface
from flask.wrappers import Request
from flask_babel import Babel

from intake import conversation, csrf, errors, headers, once, uploads, views
from intake import questionnaires as served_versions
from intake.blobs import Stager
from intake.config import RTL_LANGUAGES, IntakeConfig
from intake.fastform import FormReader
from intake.fastpath import LIMIT_ASKED, FastPath
from intake.formbody import FastFormDataParser
from intake.instance import Instance
from intake.limits import DailyCap, RateLimiter
from intake.questionnaire_form import enabled_languages, questionnaire_form
from intake.resources import resource_dir, translations_dir
from intake.status_fastpath import StatusFastPath
from intake.storage import Storage, today

log = logging.getLogger("intake")
# The body our pages send; multipart only where a form has a file input (intake.uploads), read by our own parser.
FORM_TYPE = "application/x-www-form-urlencoded"


class InMemoryRequest(Request):
    """Never spool an upload to a temp file: bodies are bounded (MAX_CONTENT_LENGTH) and stay in memory."""

    form_data_parser_class = FastFormDataParser

    def _get_file_stream(
        self, total_content_length: int | None, content_type: str | None, filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:  # fmt: skip
        return io.BytesIO()


class IntakeFlask(Flask):
    request_class = InMemoryRequest

    def log_exception(self, exc_info: Any) -> None:
        # Flask would log the path, method and a traceback; we log the type only (no client data).
        log.error("unhandled error: %s", exc_info[0].__name__ if exc_info and exc_info[0] else "unknown")


class NoSessions(SessionInterface):
    """intake keeps no server or cookie session: its one cookie is the CSRF cookie (intake.csrf).

    Flask's signed-cookie session would try to verify that cookie as a session on every request (its name
    is the session cookie's name, which the quick exit and the CSRF refusal rely on); this interface never
    reads or writes a session, and a view that tried to store something in one would fail loudly.
    """

    def open_session(self, app: Flask, request: Request) -> Any:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


@dataclass(frozen=True)
class Services:
    config: IntakeConfig
    storage: Storage
    receipt_secret: bytes
    reply_secret: bytes
    once_key: bytes
    csrf_key: bytes
    submit_limiter: RateLimiter
    status_limiter: RateLimiter
    followup_cap: DailyCap
    css: str
    stager: Stager


def services(app: Flask | None = None) -> Services:
    from flask import current_app

    found: Services = (app or current_app).extensions["intake"]
    return found


def _session_key(secret: bytes) -> bytes:
    return hashlib.blake2b(b"", key=secret, person=b"intake-session", digest_size=32).digest()


def create_app(config: IntakeConfig) -> Flask:
    """The WSGI app for ``config``. The instance must be initialised (``intake init``).

    The questionnaire is read once, here (ConfigError with the loader's sentence: the server does not
    start); the pages speak the languages both it and the interface are complete in.
    """
    questionnaire = served_versions.served_questionnaire(config)
    languages = enabled_languages(config, questionnaire)
    if languages != config.languages:
        config = dataclasses.replace(config, languages=languages)
    secret = Instance(config).secret()
    templates = resource_dir("templates")
    app = IntakeFlask("intake", template_folder=str(templates), static_folder=None)
    app.session_interface = NoSessions()
    app.config.update(
        TESTING=False,
        SECRET_KEY=_session_key(secret),
        SESSION_COOKIE_NAME="intake_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        WTF_CSRF_TIME_LIMIT=config.csrf_hours * 3600,
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        MAX_FORM_MEMORY_SIZE=config.max_body_bytes,
        MAX_FORM_PARTS=config.max_form_parts,
        BABEL_DEFAULT_LOCALE=config.default_locale,
        BABEL_TRANSLATION_DIRECTORIES=str(translations_dir()),
        TRAP_HTTP_EXCEPTIONS=False,
    )
    css = (templates / "intake.css").read_text(encoding="utf-8")
    app.extensions["intake"] = Services(
        config=config,
        storage=Storage(config.database_url),
        receipt_secret=secret,
        reply_secret=conversation.reply_secret(secret),
        once_key=once.token_key(secret),
        csrf_key=csrf.csrf_key(secret),
        # Burst 2 a circuit (a form, and its correction), refilling at the per-minute rate; the global bucket
        # fills to at least 600 while quiet, so even 299 circuits starting at the same instant cannot empty it
        # (issue 21 item 3); a new worker starts with a minute's worth (intake.limits).
        submit_limiter=RateLimiter(
            config.circuit_per_minute,
            config.global_per_minute,
            per_key_burst=min(2, config.circuit_per_minute),
            global_burst=max(config.global_per_minute, 600),
        ),
        # Look-ups store nothing: ten times the submissions' global rate, their own budget.
        status_limiter=RateLimiter(config.circuit_per_minute * 2, config.global_per_minute * 10),
        followup_cap=DailyCap(config.followups_per_day),
        css=css,
        stager=Stager(config.instance_dir / "staging"),
    )
    app.extensions["questionnaire"] = questionnaire
    app.extensions["questionnaire_form"] = questionnaire_form(questionnaire)
    app.extensions["questionnaire_reader"] = FormReader(questionnaire)
    # Before anyone is asked with it: every export must carry the questionnaire version served (invariant 20).
    served_versions.record(app.extensions["intake"].storage, questionnaire, today())
    # Staged ciphertext a killed process left (its keys died with it) is deleted at the next start.
    app.extensions["intake"].stager.clean_dead(app.extensions["intake"].storage, today())
    Babel(app, locale_selector=lambda: g.get("lang", config.default_locale))

    @app.before_request
    def _forms_only() -> None:
        # Registered before the CSRF check so it runs first: only our pages' own kind of body is ever parsed (a
        # JSON or multipart body would reach the form with types a browser filling in our page cannot send).
        if request.routing_exception is not None:
            return  # 404/405 first
        # Files come only to the request form and the follow-up form, as multipart (intake.uploads).
        files = uploads.is_multipart() and uploads.accepts_multipart()
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype != FORM_TYPE and not files:
            abort(415)

    @app.before_request
    def _limit_first() -> Any:
        # A flood is refused before anything that costs more (issue 21 item 3): before the CSRF check, the
        # body's parsing and validation. Requests and follow-ups spend one budget (issue 18 item 6).
        submission = request.method == "POST" and request.endpoint in views.SUBMISSIONS
        if not submission:
            return None
        # intake.fastpath may have asked the limiter already (then handed the request here): never twice.
        allowed = request.environ.get(LIMIT_ASKED)
        if allowed is None:
            allowed = app.extensions["intake"].submit_limiter.allow(views.circuit())
        if allowed:
            return None
        uploads.receive_fields_only()  # a multipart body: its answers come back, its files are not kept
        return views.rate_limited()

    # A multipart body is read here, before the CSRF check reads its token (intake.uploads); what it staged
    # and did not store is deleted when the request ends, on every path.
    app.before_request(uploads.receive)
    app.teardown_request(uploads.discard)

    @app.before_request
    def _csrf() -> None:
        # Every POST to a page (not a 404/405: those are answered first) carries a live token (intake.csrf).
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.endpoint:
            csrf.protect()

    app.after_request(csrf.set_cookie)

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        lang = g.get("lang", config.default_locale)
        return {"lang": lang, "dir": "rtl" if lang in RTL_LANGUAGES else "ltr", "css": css,
                "exit_url": config.exit_url, "languages": config.languages, "endpoint": request.endpoint,
                "view_args": {k: v for k, v in (request.view_args or {}).items() if k != "lang"}}  # fmt: skip

    # The files block (templates/_files.html) and what arrived (intake.uploads), for the templates.
    app.jinja_env.globals.update(files_limits=config, files_dropped=uploads.files_dropped,
                                 sent_files_list=uploads.sent_list)  # fmt: skip
    app.url_map.converters["lang"] = views.language_converter(config.languages)
    app.register_blueprint(views.blueprint)
    errors.install(app)
    headers.install(app, css)
    # The status page's GET and receipt POST in front of Flask (intake.status_fastpath), then the form pages'
    # GET (intake.fastpath); everything else reaches Flask unchanged.
    app.wsgi_app = StatusFastPath(app, app.wsgi_app, css)  # type: ignore[method-assign]
    app.wsgi_app = FastPath(app, app.wsgi_app, css)  # type: ignore[method-assign]
    return app
