"""The status page's fast path (intake.status_fastpath) answers byte for byte as Flask does, for any request."""

from __future__ import annotations

import datetime
import itertools
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import update
from werkzeug.test import EnvironBuilder, run_wsgi_app

import crypto
from intake import csrf, status_fastpath
from intake.instance import Instance
from intake.receipts import receipt_lookup_key
from intake.status_fastpath import StatusFastPath
from intake.tables import receipts
from tests.intake.helpers import receipt_of, submit

FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200,
                       deadline=None)  # fmt: skip
MINUTE = 29_000_000
COOKIE = "A" * 43
OTHER_COOKIE = "B" * 43
DAY = datetime.date.today()
# Texts a page must escape, in both scripts, and one reply of each day order (seq) to sort.
REPLY_TEXTS = ['Мы получили <вашу> заявку & "ответим" скоро', "Code word: <b>lilac</b> 'now'", "Третий\nответ"]


def _status_fast(app: Flask) -> StatusFastPath:
    wsgi: Any = app.wsgi_app
    while not isinstance(wsgi, StatusFastPath):
        wsgi = wsgi.slow
    return wsgi


@contextmanager
def same_draws() -> Iterator[None]:
    """Both paths get the same clock and the same 'random' draws, so their answers can be compared byte for byte."""
    tokens, cookies = itertools.count(), itertools.count()
    with mock.patch("intake.once.new_token", lambda: f"{next(tokens):022d}"), \
         mock.patch("intake.csrf.new_cookie", lambda: f"{next(cookies):043d}"), \
         mock.patch("intake.csrf.now_minute", lambda: MINUTE):  # fmt: skip
        yield


def _answer(wsgi: Any, body: bytes | None = None, **request: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    if body is not None:
        request = {**request, "data": body}
    environ = EnvironBuilder(**request).get_environ()
    with same_draws():
        out, status, headers = run_wsgi_app(wsgi, environ, buffered=True)
        return status, list(headers.items()), b"".join(out)


def _store_replies(app: Flask, identity: crypto.Identity, receipt: str, texts: list[str]) -> None:
    """Replies for ``receipt``, as a return file brings them (days and order mixed up on purpose)."""
    services = app.extensions["intake"]
    public = crypto.derive_reply_keypair(receipt.replace(" ", ""), services.reply_secret).public
    days = [DAY - datetime.timedelta(days=n % 2 * 40) for n in range(len(texts))]
    replies = [crypto.AckReply(crypto.mailbox_id(public), crypto.seal_reply(text, written_on=day, seq=n, to=public))
               for n, (text, day) in enumerate(zip(texts, days, strict=True), start=1)]  # fmt: skip
    server_key = Instance(services.config).server_key()
    data = crypto.make_ack([], identity=identity, server=server_key.public, bundle_sequence=1, created_on=DAY,
                           replies=replies)  # fmt: skip
    services.storage.apply_ack(data, server_key, DAY)


@pytest.fixture
def receipts_of(sqlite_app: Flask, identity: crypto.Identity) -> dict[str, str]:
    """A receipt with three replies, one without any, one collected with a reply; the pages primed in both languages."""
    client = sqlite_app.test_client()
    found = {name: receipt_of(submit(client)) for name in ("replies", "none", "collected")}
    _store_replies(sqlite_app, identity, found["replies"], REPLY_TEXTS)
    _store_replies(sqlite_app, identity, found["collected"], ["Мы её получили."])
    services = sqlite_app.extensions["intake"]
    with services.storage.writing() as conn:
        lookup = receipt_lookup_key(found["collected"].replace(" ", ""), services.receipt_secret)
        conn.execute(update(receipts).where(receipts.c.lookup == lookup).values(status="collected"))
    found["unknown"] = "1234567890 1234567890 1234567890"
    slow = _status_fast(sqlite_app).slow
    for lang in ("en", "ru"):  # the slow path renders each kind of page once, and learns its skeleton
        _answer(slow, path=f"/{lang}/status", headers={"Cookie": f"intake_session={COOKIE}"})
        for receipt in found.values():
            _answer(
                slow,
                path=f"/{lang}/status",
                method="POST",
                headers={"Cookie": f"intake_session={COOKIE}"},
                data={"csrf_token": csrf.make_token(services.csrf_key, COOKIE, MINUTE), "receipt": receipt},
            )
    return found


PATHS = st.sampled_from(["/en/status", "/ru/status", "/ru/status", "/ru/status/", "/de/status", "/ru/status/message",
                         "/RU/status", "/en/request"])  # fmt: skip
COOKIES = st.sampled_from([None, f"intake_session={COOKIE}", f"intake_session={COOKIE}", "intake_session=short",
                           f"other=1; intake_session={OTHER_COOKIE}; x=y", f'intake_session="{COOKIE}"'])  # fmt: skip
TYPES = st.sampled_from(["application/x-www-form-urlencoded"] * 4
                        + ["application/x-www-form-urlencoded; charset=utf-8", "multipart/form-data; boundary=x",
                           "text/plain", ""])  # fmt: skip


def _either(draw: Any, plain: bool, usual: Any, anything: Any) -> Any:
    """The plain case's value when ``plain`` (the fast path's own case), else any value at all."""
    return usual if plain else draw(anything)


@st.composite
def receipts_typed(draw: Any, known: dict[str, str], plain: bool) -> Any:
    base = draw(st.sampled_from(sorted(known.values())))
    ways = [base, base.replace(" ", ""), base.replace(" ", "-"), f"  {base}\t", base.replace("1", "١")]
    shaped = draw(st.sampled_from(ways if plain else [*ways, base[:-1], base + "7", base[:10] + "x" + base[10:], "",
                                                      " ", "12345"]))  # fmt: skip
    return shaped if plain else draw(st.one_of(st.just(shaped), st.none(), st.text(max_size=40)))


@st.composite
def bodies(draw: Any, key: bytes, known: dict[str, str], plain: bool) -> Any:
    good = csrf.make_token(key, COOKIE, MINUTE)
    token = _either(
        draw,
        plain,
        good,
        st.sampled_from(
            [
                good,
                csrf.make_token(key, OTHER_COOKIE, MINUTE),
                csrf.make_token(key, COOKIE, MINUTE - 10**6),
                "",
                "junk.x",
            ]
        ),
    )
    fields = [("csrf_token", token)] if plain or draw(st.booleans()) else []
    receipt = draw(receipts_typed(known, plain))
    if receipt is not None:
        fields.append(("receipt", receipt))
    # Fields a browser would not send (or sends again) come after the first ones, or anywhere.
    values = st.one_of(st.text(max_size=12), st.sampled_from(sorted(known.values())))
    fields += draw(st.lists(st.tuples(st.sampled_from(["receipt", "csrf_token", "relang", "x"]), values), max_size=2))
    order = list(range(len(fields))) if plain else draw(st.permutations(range(len(fields))))
    body = urllib.parse.urlencode([fields[i] for i in order]).encode()
    return _either(draw, plain, body, st.sampled_from([body, body + b"&", b"\xff\xfe" + body, body * 40]))


@FIXTURES_OK
@given(data=st.data(), plain=st.booleans(), allowed=st.sampled_from([True, True, False]))
def test_the_status_fast_path_answers_exactly_as_flask(
    sqlite_app: Flask, receipts_of: dict[str, str], data: Any, plain: bool, allowed: bool
) -> None:  # fmt: skip
    # Half the requests are the fast path's own case (any known receipt, written in any accepted way); the
    # others change anything: path, method, cookie, body type, token, field order, query, scheme.
    fast = _status_fast(sqlite_app)
    services = sqlite_app.extensions["intake"]
    draw = data.draw
    path = _either(draw, plain, draw(st.sampled_from(["/en/status", "/ru/status"])), PATHS)
    method = _either(draw, plain, "POST", st.sampled_from(["GET", "POST", "POST", "HEAD"]))
    cookie = _either(draw, plain, f"intake_session={COOKIE}", COOKIES)
    headers = {"Cookie": cookie} if cookie is not None else {}
    request: dict[str, Any] = {
        "path": path,
        "method": method,
        "headers": headers,
        "query_string": _either(draw, plain, "", st.sampled_from(["", "a=1"])),
        "base_url": _either(
            draw, plain, "http://localhost/", st.sampled_from(["http://localhost/", "https://localhost/"])
        ),
    }
    body = draw(bodies(services.csrf_key, receipts_of, plain)) if method == "POST" else None
    if method == "POST":
        request["content_type"] = _either(draw, plain, "application/x-www-form-urlencoded", TYPES)
    spent: list[str] = []
    lookup = services.storage.receipt_status

    def allow(key: object) -> bool:
        spent.append("limit")
        return allowed

    def looked_up(key: bytes) -> str | None:
        spent.append("lookup")
        return lookup(key)  # type: ignore[no-any-return]

    if not plain and draw(st.booleans()):
        sqlite_app.extensions[status_fastpath.SKELETONS_KEY].clear()  # cold: Flask answers, and learns again
    with mock.patch.object(services.status_limiter, "allow", allow), \
         mock.patch.object(services.storage, "receipt_status", looked_up):  # fmt: skip
        fast_answer = _answer(fast, body, **request)
        fast_spent, spent[:] = list(spent), []
        slow_answer = _answer(fast.slow, body, **request)
    assert fast_answer == slow_answer
    assert fast_spent == spent  # the limit spent once and one lookup, whichever path answers


def test_the_fast_path_serves_the_status_page_and_the_replies_itself(sqlite_app: Flask,
                                                                     receipts_of: dict[str, str]) -> None:  # fmt: skip
    fast = _status_fast(sqlite_app)
    token = csrf.make_token(sqlite_app.extensions["intake"].csrf_key, COOKIE, MINUTE)
    cookie = {"Cookie": f"intake_session={COOKIE}"}
    with mock.patch.object(fast, "slow", side_effect=AssertionError("reached Flask")):
        status, _headers, page = _answer(fast, path="/ru/status", headers=cookie)
        assert status == "200 OK" and token.encode() in page
        for name, receipt in receipts_of.items():
            status, headers, page = _answer(fast, path="/ru/status", method="POST", headers=cookie,
                                            data={"csrf_token": token, "receipt": receipt})  # fmt: skip
            assert status == "200 OK" and ("Cache-Control", "no-store, max-age=0") in headers
            assert (b'id="reply-3"' in page) == (name == "replies")
            assert (b'id="conversation"' in page) == (name != "unknown")
        shown = _answer(fast, path="/en/status", method="POST", headers=cookie,
                        data={"csrf_token": token, "receipt": receipts_of["replies"]})[2]  # fmt: skip
    # Escaped as Jinja escapes, in the order the caseworkers wrote them (older day first, then seq).
    assert shown.index(b"Code word: &lt;b&gt;lilac&lt;/b&gt; &#39;now&#39;") < shown.index(
        "Мы получили &lt;вашу&gt; заявку &amp; &#34;ответим&#34; скоро".encode()
    )


def test_a_skeleton_holds_no_receipt_and_no_reply(sqlite_app: Flask, receipts_of: dict[str, str]) -> None:
    skeletons = sqlite_app.extensions[status_fastpath.SKELETONS_KEY]
    assert {(lang, answer, with_replies) for lang, _root, answer, with_replies in skeletons} >= {
        (lang, answer, replies)
        for lang in ("en", "ru")
        for answer, replies in (
            ("received", True),
            ("received", False),
            ("collected", True),
            (status_fastpath.UNKNOWN, False),
        )
    }
    kept = repr(skeletons)
    for receipt in receipts_of.values():
        assert receipt.replace(" ", "") not in kept and receipt not in kept
    for text in [*REPLY_TEXTS, "Мы её получили."]:
        assert text not in kept and str(escape(text)) not in kept


def test_a_page_that_cannot_be_split_gets_no_skeleton() -> None:
    # Replies that are not one repeated block (here: the second differs) leave the page to Flask.
    def render(replies: list[dict[str, str]]) -> str:
        return "<p>" + "".join(f'<article class="reply">{r["n"]}{r["text"]}{"!" if i else ""}</article>'
                               for i, r in enumerate(replies)) + "</p>"  # fmt: skip

    extensions: dict[str, Any] = {}
    status_fastpath.learn(extensions, ("en", "", "received", True), render)
    assert extensions[status_fastpath.SKELETONS_KEY] == {}
