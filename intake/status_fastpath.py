"""The status page's two requests served in front of Flask (issue 21 item 1).

Checking a request is two requests: the empty status page (GET) and the receipt posted to it. Through Flask
they cost four times the fair baseline's CPU: routing, the language preprocessor, Babel, three WTForms forms
built and rendered, a full Jinja render with a dozen translations. ``StatusFastPath`` wraps the WSGI app
and answers these two itself, doing what the slow path does, in the same order:

* ``GET /<lang>/status`` (no query string): the cached empty page (intake.pages), this visitor's CSRF token
  filled in, a cookie drawn for a visitor without one, exactly as intake.fastpath does for the form pages.
* ``POST /<lang>/status``: a urlencoded body of at most ``MAX_FAST_BODY`` bytes over plain HTTP (as tor
  delivers it) is read once; then the CSRF token is checked against the visitor's cookie (intake.csrf), the
  receipt normalised (intake.receipts; a receipt of the wrong shape goes to Flask, which shows why), the
  status limit spent, the keyed lookup made, the reply key pair derived once, the replies opened in memory
  and sorted (``opened_replies``, shared with the slow path), and the page joined from a skeleton.

A skeleton is the page Flask renders for that language, mount point, answer and "with replies or not", with
marker values in place of the token, the receipt digits and one reply's number, day, text and id; it is
split around them once, learned by the slow path (intake.conversation) the first time it shows such a page,
and kept only if it reproduces Flask's render of two replies exactly. It holds no receipt and no reply:
those live in memory for one response, as on the slow path. Whenever anything differs from the plain case
(another body type, a bad token, an unusual receipt, no skeleton yet) the request goes to Flask with its
body; if the status limit was already spent or the lookup made here, Flask is told their outcome
(``LIMIT_DECIDED``, ``LOOKUP_DONE``) instead of spending the limit twice or looking up twice.

tests/intake/test_status_fastpath.py proves, for arbitrary requests, that the answer is byte for byte the
answer Flask gives (status, every header in order, body) under the same clock and random draws.
"""

from __future__ import annotations

import datetime
import functools
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import babel.dates
from flask import Flask
from markupsafe import escape

import crypto
from intake import csrf
from intake.fast_answer import FastAnswers
from intake.formbody import parse_pairs
from intake.pages import PAGES_KEY, join
from intake.receipts import normalize_receipt, receipt_lookup_key

ENDPOINT = "intake.status"
LIMIT_DECIDED = "intake.status_allowed"  # environ: the fast path asked the status limiter, and its answer
LOOKUP_DONE = "intake.status_answer"  # environ: the fast path made the keyed lookup, and what it found
SKELETONS_KEY = "intake_status_skeletons"  # app.extensions: {(lang, script root, answer, replies?): Skeleton}
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FAST_BODY = 4096  # a token and a receipt are ~200 bytes; anything larger meets Flask's own limits
UNKNOWN = "unknown"  # the answer for a receipt that is not stored
DAY_FORMAT = "d MMMM"
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]+")

# Marker values: letters only, so HTML escaping leaves them as they are, and unlike any word of a page.
_MARKERS = {"xQzTOKENzQx": "token", "xQzDIGITSzQx": "digits", "xQzNUMBERzQx": "n", "xQzDAYzQx": "day",
            "xQzTEXTzQx": "text", "xQzREPLYIDzQx": "id"}  # fmt: skip
_VALUE_MARKERS = {slot: marker for marker, slot in _MARKERS.items()}
_REPLY_SLOTS = ("n", "day", "text", "id")
_SPLIT = re.compile("(" + "|".join(map(re.escape, _MARKERS)) + ")")
MARKER_TOKEN = _VALUE_MARKERS["token"]
MARKER_DIGITS = _VALUE_MARKERS["digits"]
MARKER_REPLY = {slot: _VALUE_MARKERS[slot] for slot in _REPLY_SLOTS}

Piece = tuple[tuple[str, ...], tuple[str, ...]]  # literal texts, and the slot between each two


def _piece(text: str) -> Piece:
    bits = _SPLIT.split(text)
    return tuple(bits[0::2]), tuple(_MARKERS[m] for m in bits[1::2])


def _fill(piece: Piece, values: dict[str, str], out: list[str]) -> None:
    literals, slots = piece
    out.append(literals[0])
    for slot, literal in zip(slots, literals[1:], strict=True):
        out.append(values[slot])
        out.append(literal)


@dataclass(frozen=True)
class Skeleton:
    head: Piece
    block: Piece | None  # one reply's article (None: a page without replies)
    between: str  # what separates two replies' articles
    tail: Piece

    def page(self, values: dict[str, str], replies: Sequence[dict[str, str]]) -> str:
        out: list[str] = []
        _fill(self.head, values, out)
        for n, reply in enumerate(replies):
            if n:
                out.append(self.between)
            _fill(self.block, {**values, **reply}, out)  # type: ignore[arg-type]
        _fill(self.tail, values, out)
        return "".join(out)


def _skeleton(render: Callable[[list[dict[str, str]]], str], with_replies: bool) -> Skeleton | None:
    """The skeleton of the pages ``render(replies)`` gives (markers in place of every value), or None."""
    if not with_replies:
        page = render([])
        if any(marker in page for marker in MARKER_REPLY.values()):
            return None
        return Skeleton(_piece(page), None, "", (("",), ()))
    marked = dict(MARKER_REPLY)
    one, two = render([marked]), render([marked, marked])
    first = one.find(MARKER_REPLY["n"])
    start, end = one.rfind("<article", 0, max(first, 0)), one.find("</article>", max(first, 0))
    if first < 0 or start < 0 or end < 0:
        return None
    end += len("</article>")
    head, block, tail = one[:start], one[start:end], one[end:]
    if any(marker in head or marker in tail for marker in MARKER_REPLY.values()):
        return None
    between = two[len(head) + len(block) : len(two) - len(block) - len(tail)]
    if head + block + between + block + tail != two:
        return None  # the replies are not one repeated block: no fast path for these pages
    return Skeleton(_piece(head), _piece(block), between, _piece(tail))


def learn(extensions: dict[str, Any], key: tuple[str, str, str, bool],
          render: Callable[[list[dict[str, str]]], str]) -> None:  # fmt: skip
    """Keep the skeleton of the pages ``render`` gives, once per key (called by the slow path)."""
    skeletons = extensions.setdefault(SKELETONS_KEY, {})
    if key not in skeletons:
        skeleton = _skeleton(render, key[3])
        if skeleton is not None:
            skeletons[key] = skeleton


@functools.lru_cache(maxsize=4096)
def reply_day(day: datetime.date, lang: str) -> str:
    """The day a reply was written, as the page shows it ("2 декабря"), in both paths (Babel, kept: a
    calendar day and a language, never whose reply it was)."""
    return str(babel.dates.format_date(day, DAY_FORMAT, locale=lang))


# SQLite's statement as its driver runs it (prepared once per connection), as intake.storage does for a
# submission: SQLAlchemy's per-call work cost more than SQLite's. The same rows as Storage.replies_for.
_SQLITE_REPLIES = "SELECT id, container, stored_on FROM replies WHERE mailbox = ?"


def _waiting_replies(storage: Any, mailbox: bytes) -> list[Any]:
    """Storage.replies_for(mailbox), on SQLite through its driver: oldest day first (same day: by id)."""
    if not storage.is_sqlite:
        return list(storage.replies_for(mailbox))
    from intake.storage import StoredReply

    with storage.reading() as conn:
        driver: Any = conn.connection.driver_connection  # sqlite3.Connection
        rows = driver.execute(_SQLITE_REPLIES, (mailbox,)).fetchall()
    found = [StoredReply(bytes(r[0]), bytes(r[1]), datetime.date.fromisoformat(r[2])) for r in rows]
    return sorted(found, key=lambda r: (r.stored_on, r.reply_id))


def opened_replies(storage: Any, keypair: crypto.ReplyKeyPair) -> list[tuple[crypto.Reply, Any]]:
    """The replies waiting for ``keypair``, opened in memory, in the order the caseworkers wrote them."""
    found = []
    for stored in _waiting_replies(storage, crypto.mailbox_id(keypair.public)):
        try:
            opened = crypto.open_reply(stored.container, keypair)
        except crypto.CryptoError:
            continue  # not for this key (cannot happen unless tampered): never shown, never an error page
        found.append((opened, stored))
    # The order the caseworkers wrote in is sealed inside each reply (day, then seq): sorted only now,
    # after opening, so nothing the server stores says which reply of a day came first.
    found.sort(key=lambda pair: (pair[0].order, pair[1].stored_on))
    return found


class StatusFastPath:
    def __init__(self, app: Flask, slow: Callable[..., Iterable[bytes]], css: str) -> None:
        self.app = app
        self.slow = slow
        self._services = app.extensions["intake"]
        self._key = self._services.csrf_key
        self._routes = {f"/{lang}/status": lang for lang in self._services.config.languages}
        self._answers = FastAnswers(app, css)
        self._token_minutes = int(app.config["WTF_CSRF_TIME_LIMIT"]) // 60

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        lang = self._routes.get(environ.get("PATH_INFO", ""))
        if lang is None or environ.get("QUERY_STRING"):
            return self.slow(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        if method == "GET":
            return self._empty_page(environ, start_response, lang)
        if method == "POST":
            return self._lookup(environ, start_response, lang)
        return self.slow(environ, start_response)

    def _empty_page(self, environ: dict[str, Any], start_response: Callable[..., Any], lang: str) -> Iterable[bytes]:
        root = environ.get("SCRIPT_NAME", "").rstrip("/")
        cached = self.app.extensions.get(PAGES_KEY, {}).get((ENDPOINT, lang, root))
        if cached is None:
            return self.slow(environ, start_response)  # the first visitor's render primes the cache
        cookie, new_cookie = self._answers.cookie_or_new(environ)
        token = csrf.make_token(self._key, cookie, csrf.now_minute())
        parts, order = cached
        return self._answers.page(start_response, join(parts, order, [token]).encode("utf-8"), new_cookie)

    def _lookup(self, environ: dict[str, Any], start_response: Callable[..., Any], lang: str) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH")
        if (environ.get("CONTENT_TYPE") != FORM_TYPE or environ.get("wsgi.url_scheme") != "http"
                or environ.get("HTTP_TRANSFER_ENCODING") or not isinstance(length, str)
                or not (length.isascii() and length.isdigit()) or int(length) > MAX_FAST_BODY):  # fmt: skip
            return self.slow(environ, start_response)
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)  # whoever answers reads the same bytes
        try:
            page = self._page(environ, body, lang)
        except Exception:  # Flask answers instead, with its own error page and its type-only log line
            page = None
        if page is None:
            return self.slow(environ, start_response)
        return self._answers.page(start_response, page.encode("utf-8"))

    def _page(self, environ: dict[str, Any], body: bytes, lang: str) -> str | None:
        """The page for this POST, or None when Flask must answer (told what was already done here)."""
        try:
            pairs = parse_pairs(body.decode())
        except UnicodeDecodeError:
            return None
        fields: dict[str, str] = {}
        for name, value in pairs:
            fields.setdefault(name, value)  # the first value, as request.form.get and a StringField take it
        # 1. CSRF (intake.csrf.protect), before the view; Flask checks again and says why it failed.
        cookie = self._answers.cookie(environ)
        try:
            csrf.check_token(self._key, cookie, fields.get("csrf_token"), csrf.now_minute(), self._token_minutes)
        except csrf.TokenError:
            return None
        # 2. The form: the receipt, stripped, must have a receipt's shape (forms.receipt_shape); else Flask
        # shows the form with the reason.
        typed = fields.get("receipt")
        digits = normalize_receipt(typed.strip()) if typed is not None else None
        if digits is None or cookie is None:
            return None
        # 3. The status limit (conversation._limit), spent once: Flask is told the verdict if it answers.
        circuit = environ.get("intake.circuit")
        allowed = self._services.status_limiter.allow(circuit if isinstance(circuit, str) and circuit else None)
        environ[LIMIT_DECIDED] = allowed
        if not allowed:
            return None
        # 4. The keyed lookup, 5. the reply key pair (derived once), 6. the replies opened, 7. the page.
        services = self._services
        lookup = receipt_lookup_key(digits, services.receipt_secret)
        answer = services.storage.receipt_status(lookup)
        environ[LOOKUP_DONE] = answer
        root = environ.get("SCRIPT_NAME", "").rstrip("/")
        skeletons: dict[tuple[str, str, str, bool], Skeleton] = self.app.extensions.get(SKELETONS_KEY, {})
        token = csrf.make_token(self._key, cookie, csrf.now_minute())
        if not _TOKEN.fullmatch(token):
            return None
        if answer is None:
            skeleton = skeletons.get((lang, root, UNKNOWN, False))
            return None if skeleton is None else skeleton.page({"token": token}, [])
        found = opened_replies(services.storage, crypto.derive_reply_keypair(digits, services.reply_secret))
        skeleton = skeletons.get((lang, root, answer, bool(found)))
        if skeleton is None:
            return None  # the slow path learns it
        replies = [{"n": str(n), "day": str(escape(reply_day(opened.written_on, lang))),
                    "text": str(escape(opened.text)), "id": stored.reply_id.hex()}
                   for n, (opened, stored) in enumerate(found, start=1)]  # fmt: skip
        return skeleton.page({"token": token, "digits": digits}, replies)
