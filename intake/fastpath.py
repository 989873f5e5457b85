"""The form pages' GET served in front of Flask (issue 21 item 2).

A person's journey starts with the empty form page. Since issue 14 it is rendered once per language and
page (intake.pages) and only its CSRF and one-time tokens change; what remained was the framework around
it: Flask's request context, routing, the language preprocessor, Babel, the response object and its hooks,
several times the cost of joining the page. ``FastPath`` wraps the Flask app's WSGI callable and answers
exactly those requests itself: ``GET /<lang>/request`` and ``GET /<lang>/urgent``, no query string, once
Flask has rendered that page (the cache is primed by the first visitor). It does what the slow path does,
in the same order: reads the visitor's cookie the way werkzeug does, draws a cookie for a visitor without
one, makes the token bound to it (intake.csrf), draws the one-time token (intake.once), joins the page,
and sends the same status, headers and cookie. Anything else goes to Flask unchanged.

The submission POST of the same two pages (issue 21 item 2) goes the same way, with the same checks in the
same order: the rate limit (asked once: the answer travels with a request handed to Flask, LIMIT_ASKED),
then the body (only our pages' kind, of a size Flask reads), the CSRF token, the one-time token, the
answers (decoded by intake.fastform, validated once by crypto.answers), sealing and storage
(``views.store_request``, the view's own code), then the receipt page. Anything but that success, a
refusal of any kind included, is handed to Flask with the body as it came, and Flask answers it as it
always did (it never asks the limiter again).

The request form has a file input, so a browser posts it as multipart/form-data even when no file was
chosen (the input then sends an empty part, filename=""). Such a body is taken here too: it is no larger
than the text limit the app sets for bodies without files (MAX_CONTENT_LENGTH; a larger one is not read
and goes to Flask), so it is read whole, parsed by intake.multipart as intake.uploads parses it, and
handed to Flask as these same bytes when anything is unusual: a file chosen (a part with a file name),
a body the parser refuses, the urgent page (it takes no files), files turned off.

tests/intake/test_fastpath.py proves, for arbitrary requests, that the answer is byte for byte the answer
Flask gives (status, every header in order, body) under the same clock and random draws.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.datastructures import MultiDict

from intake import csrf, once, uploads
from intake.fast_answer import FastAnswers
from intake.formbody import unquote
from intake.multipart import MalformedUpload, read_multipart
from intake.pages import PAGES_KEY, join

_FORMS = {"request": "intake.request_form", "urgent": "intake.urgent_form"}
LIMIT_ASKED = "intake.limit_asked"  # environ: the limiter's answer for a POST handed to Flask (app._limit_first)
_FORM_TYPE = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data;"  # exactly as browsers send it, its boundary after; any other spelling: Flask


class FastPath:
    def __init__(self, app: Flask, slow: Callable[..., Iterable[bytes]], css: str) -> None:
        self.app = app
        self.slow = slow
        services = app.extensions["intake"]
        self._key = services.csrf_key
        self._routes = {f"/{lang}/{page}": (endpoint, lang) for lang in services.config.languages
                        for page, endpoint in _FORMS.items()}  # fmt: skip
        self._answers = FastAnswers(app, css)
        self._max_body = int(app.config["MAX_CONTENT_LENGTH"])
        # Only these names are decoded: the questionnaire's fields and the form's own controls.
        self._names = frozenset({*app.extensions["questionnaire_form"].field_ids, "csrf_token", "once", "relang"})
        self._field_ids = app.extensions["questionnaire_form"].field_ids
        self._csrf_minutes = int(app.config["WTF_CSRF_TIME_LIMIT"]) // 60
        # The endpoints whose multipart body intake.uploads reads (the request form, when files are on).
        config = services.config
        self._multipart_endpoints = uploads.ENDPOINTS if config.files_enabled else frozenset()
        self._limits = uploads.limits(config)
        # The cached pages encoded, by page (each beside the page it was made from, so that a new one is noticed).
        self._pieces: dict[tuple[str, ...], tuple[tuple[tuple[str, ...], tuple[int, ...]], tuple[bytes, ...]]] = {}
        self._receipts: dict[str, tuple[str, tuple[bytes, ...]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = self._routes.get(environ.get("PATH_INFO", ""))
        if route is None or environ.get("QUERY_STRING"):
            return self.slow(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST":
            return self._post(environ, start_response, *route)
        if environ.get("REQUEST_METHOD") != "GET":
            return self.slow(environ, start_response)
        script_root = environ.get("SCRIPT_NAME", "").rstrip("/")
        key = (*route, script_root)
        cached = self.app.extensions.get(PAGES_KEY, {}).get(key)
        if cached is None:
            return self.slow(environ, start_response)  # the first visitor's render primes the cache
        cookie, new_cookie = self._answers.cookie_or_new(environ)
        token = csrf.make_token(self._key, cookie, csrf.now_minute())
        parts, order = self._encoded(key, cached)
        values = [token.encode("ascii"), once.new_token().encode("ascii")]
        return self._answers.page(start_response, join(parts, order, values), new_cookie)

    def _encoded(self, key: tuple[str, ...], cached: tuple[tuple[str, ...], tuple[int, ...]]
                 ) -> tuple[tuple[bytes, ...], tuple[int, ...]]:  # fmt: skip
        """A cached page's pieces as UTF-8, encoded once: the tokens are ASCII, so joining the encoded pieces
        gives the bytes of the joined page (encoding the 18 KB page per visitor was half of this path's time)."""
        found = self._pieces.get(key)
        if found is None or found[0] is not cached:
            found = self._pieces[key] = (cached, tuple(part.encode("utf-8") for part in cached[0]))
        return found[1], cached[1]

    def _receipt(self, lang: str, page: str, receipt: str) -> bytes:
        """``views.fill_receipt(page, receipt).encode("utf-8")`` (no files: this path takes none), the page
        split around its receipt marker and encoded once per page."""
        from intake import views

        if not receipt.replace(" ", "").isdigit():
            raise ValueError("a receipt is digits and spaces")
        found = self._receipts.get(lang)
        if found is None or found[0] is not page:
            pieces = tuple(piece.replace(views.FILES_MARKER, "").encode("utf-8") for piece in page.split(views.MARKER))
            found = self._receipts[lang] = (page, pieces)
        return receipt.encode("ascii").join(found[1])

    def _post(self, environ: dict[str, Any], start_response: Callable[..., Any], endpoint: str,
              lang: str) -> Iterable[bytes]:  # fmt: skip
        from intake import views  # (views imports this module's app through app.py)

        length = environ.get("CONTENT_LENGTH", "")
        receipt_page = self.app.extensions.get(views.RECEIPT_PAGES, {}).get(lang)
        content_type = environ.get("CONTENT_TYPE", "")
        # The request form posts multipart (it has a file input): taken here only when files are on (as
        # intake.uploads takes it), and only for that page; a body with a real file goes to Flask (below).
        multipart = content_type.startswith(_MULTIPART) and endpoint in self._multipart_endpoints
        if ((content_type != _FORM_TYPE and not multipart) or not length.isascii() or not length.isdigit()
                or int(length) > self._max_body or environ.get("HTTP_TRANSFER_ENCODING")
                or environ.get("wsgi.url_scheme") != "http" or receipt_page is None):  # fmt: skip
            # Not what our page sends, or a check (413, HTTPS's Referer) or page this path does not make: Flask.
            # A multipart body over the text limit (one with files, surely) is not read here at all.
            return self.slow(environ, start_response)
        services = self.app.extensions["intake"]
        circuit = environ.get("intake.circuit")
        allowed = services.submit_limiter.allow(circuit if isinstance(circuit, str) and circuit else None)
        environ[LIMIT_ASKED] = allowed
        if not allowed:
            return self._refused(environ, start_response, endpoint, lang, multipart, int(length), content_type)
        form = self._fields(environ, multipart, int(length), content_type)
        receipt = None if form is None else self._accept(environ, form, lang)
        if receipt is None:
            return self.slow(environ, start_response)
        return self._answers.page(start_response, self._receipt(lang, receipt_page, receipt))

    def _fields(self, environ: dict[str, Any], multipart: bool, length: int,
                content_type: str) -> MultiDict[str, str] | None:  # fmt: skip
        """The body's fields, or None (Flask answers); Flask can read the body again either way."""
        if multipart:
            return self._multipart_fields(environ, length, content_type)
        body = environ["wsgi.input"].read(length)  # at most the text limit (MAX_CONTENT_LENGTH), read whole
        environ["wsgi.input"] = io.BytesIO(body)
        return self._urlencoded_fields(body)

    def _refused(self, environ: dict[str, Any], start_response: Callable[..., Any], endpoint: str, lang: str,
                 multipart: bool, length: int, content_type: str) -> Iterable[bytes]:  # fmt: skip
        """views.rate_limited's answer to a submission over the limit, made here from the pieces Flask made for
        it (a worker's first refusal of each page primes them), for a visitor with our cookie and a body this
        path reads (no file chosen): the answers carried on in hidden fields, with a fresh token. A flood is
        refused at the cost of parsing the body once, not of Flask (issue 21 item 3). Anything else: Flask."""
        from intake import views

        root = environ.get("SCRIPT_NAME", "").rstrip("/")
        pieces = self.app.extensions.get(views.KEPT_PAGES, {}).get((endpoint, lang, root))
        cookie = self._answers.cookie(environ)
        if pieces is None or cookie is None:
            return self.slow(environ, start_response)
        form = self._fields(environ, multipart, length, content_type)
        if form is None:
            return self.slow(environ, start_response)
        kept = views.kept_answers(form, self._field_ids)
        token = csrf.make_token(self._key, cookie, csrf.now_minute())
        body = views.fill_kept(pieces, token, kept).encode("utf-8")
        return self._answers.page(start_response, body, status="429 TOO MANY REQUESTS",
                                  first=[("Retry-After", str(views.RETRY_AFTER[429]))])  # fmt: skip

    def _urlencoded_fields(self, body: bytes) -> MultiDict[str, str] | None:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return None
        return MultiDict(_own_pairs(text, self._names))

    def _multipart_fields(self, environ: dict[str, Any], length: int, content_type: str) -> MultiDict[str, str] | None:
        """The text fields of a multipart body that carries no file (every file part empty), read by the
        parser intake.uploads reads it with, under the same limits; None (Flask answers) for anything else:
        a file chosen, a body the parser refuses.

        The body is read as the parser asks for it (pieces of intake.multipart.READ bytes), and the reading
        stops where the first part with a file name begins: Flask then gets what was read followed by the
        rest of the stream (``_Replay``), the body as sent, and no more of a file than the slow path's own
        read holds is ever in memory here."""
        stream = environ["wsgi.input"]
        seen = bytearray()

        def read(size: int) -> bytes:
            data = bytes(stream.read(size))
            seen.extend(data)
            return data

        try:
            upload = read_multipart(read, length, content_type, self._limits, None, _no_files)
        except (MalformedUpload, _FileChosen):
            upload = None
        environ["wsgi.input"] = _Replay(bytes(seen), stream)  # Flask reads it again if it has to answer
        if upload is None or upload.chose_files or upload.refused is not None or upload.files or upload.staged:
            return None
        return upload.fields

    def _accept(self, environ: dict[str, Any], form: MultiDict[str, str], lang: str) -> str | None:
        """The receipt of a request stored from ``form``, or None (nothing stored) for Flask to answer."""
        from crypto.answers import check_answers
        from intake import views
        from intake.storage import today

        if "relang" in form:
            return None
        try:
            csrf.check_token(self._key, self._answers.cookie(environ), form.get("csrf_token"),
                             csrf.now_minute(), self._csrf_minutes)  # fmt: skip
        except csrf.TokenError:
            return None
        services = self.app.extensions["intake"]
        questionnaire = self.app.extensions["questionnaire"]
        day = today()
        token = form.get("once")
        one_time = views.one_time_of(services, token if once.is_token(token) else None, day)
        try:
            checked = check_answers(questionnaire, self.app.extensions["questionnaire_reader"].decode(form))
            return views.store_request(services, questionnaire, checked, lang, day, one_time)
        except Exception:  # refused, sent already, full, no key, a database error: nothing was stored
            return None  # and Flask answers it as it always did (its page, its log line)


def _own_pairs(body: str, names: frozenset[str]) -> Iterable[tuple[str, str]]:
    """intake.formbody.parse_pairs(body), only the pairs whose name is in ``names``: no other value is decoded."""
    for item in body.split("&"):
        if item:
            name, _, value = item.partition("=")
            name = unquote(name.replace("+", " "))
            if name in names:
                yield name, unquote(value.replace("+", " "))


class _FileChosen(Exception):
    """A part with a file name began: this body is Flask's (intake.uploads seals its files as they arrive)."""


def _no_files(_fields: MultiDict[str, str]) -> bool:
    raise _FileChosen  # asked by intake.multipart when the first part with a file name begins


class _Replay:
    """A body's first bytes, already read, then the rest of its stream: the body as it was sent."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            head, self._head = self._head, b""
            return head + bytes(self._rest.read())
        head, self._head = self._head[:size], self._head[size:]
        return head + (bytes(self._rest.read(size - len(head))) if len(head) < size else b"")
