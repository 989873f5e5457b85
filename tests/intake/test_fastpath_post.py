"""The submission POST's fast path (intake.fastpath) answers byte for byte as Flask does, and stores the same.

Two apps share one instance secret (so tokens and keys agree) and each has its own copy of the database: every
request goes to one app's fast path and to the other's Flask app, under the same clock and draws, and the two
answers (status, headers in order, body) and the two stores must be the same.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import pytest
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

import crypto
from intake import csrf
from intake.app import create_app
from intake.config import IntakeConfig
from intake.fastpath import FastPath
from tests.intake.conftest import TEST_GLOBAL_PER_MINUTE, make_app
from tests.intake.helpers import valid_fields

COOKIE = "C" * 43
FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                       max_examples=80, deadline=None)  # fmt: skip


@contextmanager
def same_draws(start: int) -> Iterator[None]:
    tokens, cookies, receipts = itertools.count(start), itertools.count(start), itertools.count(start)
    with mock.patch("intake.once.new_token", lambda: f"{next(tokens):022d}"), \
         mock.patch("intake.csrf.new_cookie", lambda: f"{next(cookies):043d}"), \
         mock.patch("intake.views.new_receipt", lambda: f"{next(receipts):030d}"), \
         mock.patch("intake.csrf.now_minute", lambda: 29_000_000):  # fmt: skip
        yield


@pytest.fixture
def twins(tmp_path: Path, identity: crypto.Identity) -> Iterator[tuple[Flask, Flask]]:
    first = IntakeConfig(instance_dir=tmp_path / "a", default_locale="en", global_per_minute=TEST_GLOBAL_PER_MINUTE)
    fast = make_app(first, identity)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    slow = create_app(IntakeConfig(instance_dir=tmp_path / "b", default_locale="en",
                                   global_per_minute=TEST_GLOBAL_PER_MINUTE))  # fmt: skip
    _KEY[0] = fast.extensions["intake"].csrf_key
    for app in (fast, slow):  # prime the pages the fast path fills in: the forms and the receipt pages
        for lang in ("en", "ru"):
            client = app.test_client()
            client.get(f"/{lang}/request")
            client.get(f"/{lang}/urgent")
            with same_draws(0 if lang == "en" else 100):
                answer = _answer(app.wsgi_app.slow, _request(lang=lang, once=f"{lang}{'0' * 20}"))
            assert answer[0] == "200 OK"
    yield fast, slow
    for app in (fast, slow):
        app.extensions["intake"].storage.dispose()


def _request(lang: str = "en", page: str = "request", once: str = "A" * 22, cookie: str | None = COOKIE,
             token: str | None = "good", fields: dict[str, Any] | None = None,
             content_type: str = "application/x-www-form-urlencoded", extra: str = "",
             files: tuple[tuple[str, bytes], ...] | None = None) -> dict[str, Any]:  # fmt: skip
    """A POST as its parts; "good" is a live token for the cookie, made when the request is built (_build).

    ``files`` given: the body is multipart, as a browser posts the form with its file input: the text
    fields (the page's hidden tokens first), then one part per file, ("", b"") being the input left empty;
    ``extra`` then names a piece of MULTIPART_EXTRAS put before the closing boundary."""
    return {"lang": lang, "page": page, "once": once, "cookie": cookie, "token": token, "fields": fields,
            "content_type": content_type, "extra": extra, "files": files}  # fmt: skip


BOUNDARY = "----WebKitFormBoundaryq7Xz2LmP4kRb9T1e"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + ("" if filename is None else f'; filename="{filename}"')
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename is not None:
        head += "Content-Type: application/octet-stream\r\n"
    return head.encode("utf-8") + b"\r\n" + value + b"\r\n"


# Pieces a multipart body may carry after its fields and files; None: the closing boundary is missing.
MULTIPART_EXTRAS: dict[str, bytes | None] = {
    "": b"", "again": _part("csrf_token", b"again"), "bad utf-8": _part("story", b"\xe0\xa4"),
    "relang": _part("relang", b"ru"), "file in a text field": _part("story", b"x", filename="a.txt"),
    "no disposition": f"--{BOUNDARY}\r\nX-Other: 1\r\n\r\nv\r\n".encode(), "cut": None,
}  # fmt: skip


def _multipart(data: dict[str, Any], files: tuple[tuple[str, bytes], ...], extra: str) -> bytes:
    parts = [_part(name, str(one).encode("utf-8")) for name, value in data.items()
             for one in (value if isinstance(value, list) else [value])]  # fmt: skip
    parts += [_part("files", content, filename=filename) for filename, content in files]
    tail = MULTIPART_EXTRAS[extra]
    return b"".join(parts) + (b"" if tail is None else tail + f"--{BOUNDARY}--\r\n".encode())


def _build(lang: str, page: str, once: str, cookie: str | None, token: str | None, fields: dict[str, Any] | None,
           content_type: str, extra: str, files: tuple[tuple[str, bytes], ...] | None) -> dict[str, Any]:  # fmt: skip
    if token == "good":
        token = csrf.make_token(_KEY[0], cookie or COOKIE, 29_000_000)
    tokens = {"once": once, **({} if token is None else {"csrf_token": token})}
    answers = valid_fields() if fields is None else fields
    if files is not None:
        body = _multipart({**tokens, **answers}, files, extra)
    else:
        body = (urlencode({**answers, **tokens}, doseq=True) + extra).encode("utf-8")
    headers = {"Cookie": f"intake_session={cookie}"} if cookie is not None else {}
    return {"path": f"/{lang}/{page}", "method": "POST", "headers": headers, "data": body,
            "content_type": content_type}  # fmt: skip


_KEY: list[bytes] = [b""]


def _answer(wsgi: Any, request: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    environ = EnvironBuilder(**_build(**request)).get_environ()
    body, status, headers = run_wsgi_app(wsgi, environ, buffered=True)
    return status, list(headers.items()), b"".join(body)


def _stored(app: Flask) -> int:
    return int(app.extensions["intake"].storage.pending_count())


FIELD_CHANGES = st.dictionaries(
    st.sampled_from(["danger", "people", "children", "story", "consent", "contact", "threat_from", "relang"]),
    st.one_of(st.none(), st.sampled_from(["", "immediate", "3", "25", "y", "false", "\x00", "Ж" * 10_001, "en"])),
    max_size=3,
)
REQUESTS = st.builds(
    lambda lang, page, once, cookie, token, changes, content_type, extra: _request(
        lang, page, once, cookie, token, {k: v for k, v in valid_fields(**changes).items()}, content_type, extra),
    st.sampled_from(["en", "ru"]), st.sampled_from(["request", "urgent"]),
    st.sampled_from(["A" * 22, "B" * 22, "short", "Z" * 22]),
    # Mostly what a browser on our page sends, so that most requests reach the later checks.
    st.sampled_from([COOKIE, COOKIE, COOKIE, None, "bad", "D" * 43]),
    st.sampled_from(["good", "good", "good", None, "29000000.xyz", "bad"]),
    FIELD_CHANGES,
    st.sampled_from(["application/x-www-form-urlencoded"] * 4 + ["application/x-www-form-urlencoded; charset=utf-8",
                     "multipart/form-data; boundary=x", "text/plain"]),
    st.sampled_from(["", "", "", "", "&csrf_token=again", "&%FF=1", "&story=%E0%A4", "&relang=ru"]),
)  # fmt: skip
# What a browser posts for the request form since it has a file input (multipart, the input empty or not),
# and the ways such a body can go wrong.
EMPTY = ("", b"")
MULTIPART_REQUESTS = st.builds(
    lambda lang, page, once, cookie, token, changes, content_type, extra, files: _request(
        lang, page, once, cookie, token, valid_fields(**changes), content_type, extra, files),
    st.sampled_from(["en", "ru"]), st.sampled_from(["request", "request", "request", "urgent"]),
    st.sampled_from(["A" * 22, "B" * 22, "short", "Z" * 22]),
    st.sampled_from([COOKIE, COOKIE, COOKIE, None, "bad", "D" * 43]),
    st.sampled_from(["good", "good", "good", None, "29000000.xyz", "bad"]),
    FIELD_CHANGES,
    st.sampled_from([MULTIPART] * 6 + [MULTIPART.replace("multipart/form-data", "Multipart/Form-Data"),
                     "multipart/form-data; boundary=other", "multipart/form-data", "multipart/mixed; boundary="
                     + BOUNDARY, "application/x-www-form-urlencoded"]),
    st.sampled_from([""] * 6 + list(MULTIPART_EXTRAS)),
    st.sampled_from([(EMPTY,)] * 4 + [(), (EMPTY, EMPTY), (("photo.jpg", b"\xff\xd8\xff\xe0 a photo"),),
                     (EMPTY, ("note.txt", b"hello")), (("", b"bytes without a name"),)]),
)  # fmt: skip


@FIXTURES_OK
@given(request=REQUESTS, twice=st.booleans())
@example(request=_request(), twice=True)
@example(request=_request(fields=valid_fields(relang="ru")), twice=False)
@example(request=_request(fields=valid_fields(danger="")), twice=False)
@example(request=_request(token=None), twice=False)
@example(request=_request(page="urgent", lang="ru", once="U" * 22), twice=False)
def test_the_post_fast_path_answers_and_stores_exactly_as_flask(twins: tuple[Flask, Flask], request: dict[str, Any],
                                                                twice: bool) -> None:  # fmt: skip
    _same_answers_and_stores(twins, request, twice)


@FIXTURES_OK
@given(request=MULTIPART_REQUESTS, twice=st.booleans())
@example(request=_request(content_type=MULTIPART, files=(EMPTY,)), twice=True)
@example(request=_request(content_type=MULTIPART, files=()), twice=False)
@example(request=_request(content_type=MULTIPART, files=(("photo.jpg", b"\xff\xd8 a photo"),)), twice=True)
@example(request=_request(content_type=MULTIPART, files=(EMPTY,), extra="relang"), twice=False)
@example(request=_request(content_type=MULTIPART, files=(EMPTY,), fields=valid_fields(story="Ж" * 10_001)),
         twice=False)  # fmt: skip
@example(request=_request(content_type=MULTIPART, files=(EMPTY,), page="urgent", lang="ru"), twice=False)
def test_the_post_fast_path_answers_multipart_bodies_exactly_as_flask(twins: tuple[Flask, Flask],
                                                                     request: dict[str, Any], twice: bool) -> None:
    """The form as a browser posts it since it has a file input: with no file (empty file parts) the fast path
    answers it; with a file, or anything unusual, Flask does; either way the answer and the store are Flask's."""
    _same_answers_and_stores(twins, request, twice)


def _same_answers_and_stores(twins: tuple[Flask, Flask], request: dict[str, Any], twice: bool) -> None:
    fast, slow = twins
    _KEY[0] = fast.extensions["intake"].csrf_key
    assert isinstance(fast.wsgi_app, FastPath) and slow.extensions["intake"].csrf_key == _KEY[0]
    for _ in range(2 if twice else 1):  # a second time: the one-time token was spent (409), or refused again
        start = 1000 + _stored(fast)
        with same_draws(start):
            answered_fast = _answer(fast.wsgi_app, request)
        with same_draws(start):
            answered_slow = _answer(slow.wsgi_app.slow, request)
        assert answered_fast == answered_slow
        assert _stored(fast) == _stored(slow)


def test_a_valid_post_is_served_without_flask(twins: tuple[Flask, Flask]) -> None:
    fast, _slow = twins
    _KEY[0] = fast.extensions["intake"].csrf_key
    before = _stored(fast)
    with mock.patch.object(fast.wsgi_app, "slow", side_effect=AssertionError("reached Flask")), same_draws(500):
        status, _headers, body = _answer(fast.wsgi_app, _request(once="Q" * 22))
    assert status == "200 OK" and b'id="receipt"' in body and _stored(fast) == before + 1


def test_a_multipart_post_without_a_file_is_served_without_flask(twins: tuple[Flask, Flask]) -> None:
    fast, _slow = twins
    _KEY[0] = fast.extensions["intake"].csrf_key
    before = _stored(fast)
    with mock.patch.object(fast.wsgi_app, "slow", side_effect=AssertionError("reached Flask")), same_draws(510):
        status, _headers, body = _answer(fast.wsgi_app, _request(once="M" * 22, content_type=MULTIPART,
                                                                 files=(EMPTY, EMPTY)))  # fmt: skip
    assert status == "200 OK" and b'id="receipt"' in body and _stored(fast) == before + 1


def _body_flask_got(fast: Flask, request: dict[str, Any], *,
                    limit: int | None = None) -> tuple[bytes, bytes, bool, int]:  # fmt: skip
    """The body sent, the body Flask read from wsgi.input, whether it got the server's own stream, and how
    many bytes of that stream the fast path had read before it handed the request on."""
    built = _build(**request)
    environ = EnvironBuilder(**built).get_environ()
    sent_stream = environ["wsgi.input"]
    seen: list[tuple[bytes, bool]] = []
    read_before = [0]

    def slow(env: dict[str, Any], start_response: Any) -> list[bytes]:
        read_before[0] = sent_stream.tell()
        seen.append((env["wsgi.input"].read(), env["wsgi.input"] is sent_stream))
        start_response("204 NO CONTENT", [])
        return []

    with mock.patch.object(fast.wsgi_app, "slow", slow), same_draws(520):
        if limit is not None:
            fast.wsgi_app._max_body = limit
        run_wsgi_app(fast.wsgi_app, environ, buffered=True)
    assert len(seen) == 1
    return built["data"], *seen[0], read_before[0]


def test_a_multipart_post_with_a_file_reaches_flask_with_the_body_as_sent(twins: tuple[Flask, Flask]) -> None:
    fast, _slow = twins
    _KEY[0] = fast.extensions["intake"].csrf_key
    before = _stored(fast)
    sent, got, _, _ = _body_flask_got(fast, _request(once="F" * 22, content_type=MULTIPART,
                                                     files=(EMPTY, ("photo.jpg", b"\xff\xd8 a photo"))))  # fmt: skip
    assert got == sent and _stored(fast) == before


def test_the_fast_path_stops_reading_where_a_file_begins(twins: tuple[Flask, Flask]) -> None:
    """A file is Flask's to seal as it arrives: the fast path reads no further than the parser's read that
    found its part (intake.multipart.READ bytes), and Flask gets those bytes, then the rest of the stream."""
    from intake.multipart import READ

    fast, _slow = twins
    _KEY[0] = fast.extensions["intake"].csrf_key
    photo = ("photo.jpg", b"\xff\xd8" + bytes(range(256)) * (3 * READ // 256))
    sent, got, own_stream, read = _body_flask_got(fast, _request(once="G" * 22, content_type=MULTIPART,
                                                                 files=(EMPTY, photo)))  # fmt: skip
    assert got == sent and not own_stream
    assert read <= len(sent) - len(photo[1]) + READ < len(sent)


def test_a_body_over_the_text_limit_is_not_read_by_the_fast_path(twins: tuple[Flask, Flask]) -> None:
    fast, _slow = twins
    _KEY[0] = fast.extensions["intake"].csrf_key
    request = _request(once="L" * 22, content_type=MULTIPART, files=(("big.bin", b"\x00" * 4096),))
    sent, got, own_stream, read = _body_flask_got(fast, request, limit=len(_build(**request)["data"]) - 1)
    assert own_stream and got == sent and read == 0


def test_the_limiter_is_asked_once_and_first(twins: tuple[Flask, Flask]) -> None:
    fast, slow = twins
    _KEY[0] = fast.extensions["intake"].csrf_key
    asked: list[str] = []

    def refuse(key: object) -> bool:
        asked.append("limit")
        return False

    for app in (fast, slow):
        app.extensions["intake"].submit_limiter.allow = refuse  # type: ignore[method-assign]
    with same_draws(700):
        answered_fast = _answer(fast.wsgi_app, _request(once="R" * 22, token="bad"))
    assert asked == ["limit"]
    with same_draws(700):
        answered_slow = _answer(slow.wsgi_app.slow, _request(once="R" * 22, token="bad"))
    assert asked == ["limit", "limit"] and answered_fast == answered_slow
    assert answered_fast[0] == "429 TOO MANY REQUESTS"


@given(body=st.text(alphabet="ab=&%+2F0ЖE\x00 ", max_size=60), names=st.sets(st.sampled_from(["a", "b", "ab", " a",
                                                                                          "/", "Ж", ""])))  # fmt: skip
def test_only_our_names_are_decoded_and_exactly_as_the_form_reader_decodes_them(body: str, names: set[str]) -> None:
    from intake.fastpath import _own_pairs
    from intake.formbody import parse_pairs

    assert list(_own_pairs(body, frozenset(names))) == [(n, v) for n, v in parse_pairs(body) if n in names]


@given(head=st.binary(max_size=300), rest=st.binary(max_size=300),
       sizes=st.lists(st.one_of(st.none(), st.integers(-1, 400)), max_size=8))  # fmt: skip
def test_the_replayed_body_is_the_body_as_sent_whatever_the_reads(head: bytes, rest: bytes,
                                                                  sizes: list[int | None]) -> None:  # fmt: skip
    import io

    from intake.fastpath import _Replay

    replay, got = _Replay(head, io.BytesIO(rest)), b""
    for size in sizes:
        piece = replay.read(size)
        assert size is None or size < 0 or len(piece) == min(size, len(head) + len(rest) - len(got))
        got += piece
    assert got + replay.read() == head + rest


def _refusing(*apps: Flask) -> None:
    for app in apps:
        app.extensions["intake"].submit_limiter.allow = lambda _key: False  # type: ignore[method-assign]


HOSTILE_TEXT = st.text(alphabet=st.sampled_from(list("<>&\"' aЖ\x00🙂\u202e=%+;\r\n")), max_size=40)


@FIXTURES_OK
@given(request=st.one_of(REQUESTS, MULTIPART_REQUESTS), story=st.one_of(st.none(), HOSTILE_TEXT),
       primed=st.booleans())  # fmt: skip
@example(request=_request(), story='<script>"&\'', primed=True)
@example(request=_request(content_type=MULTIPART, files=(EMPTY,)), story=None, primed=True)
@example(request=_request(content_type=MULTIPART, files=(("photo.jpg", b"\xff\xd8"),)), story=None, primed=True)
@example(request=_request(cookie=None), story=None, primed=True)
def test_a_refusal_over_the_limit_is_answered_exactly_as_flask_answers_it(
    twins: tuple[Flask, Flask], request: dict[str, Any], story: str | None, primed: bool
) -> None:  # fmt: skip
    """Over the rate limit, the fast path fills in the refusal page Flask made for the form (its answers in
    hidden fields, a fresh token) for a visitor with our cookie and a body without a file; anything else,
    or before a first refusal made the page, goes to Flask: either way status, headers and body are Flask's,
    and nothing is stored."""
    fast, slow = twins
    _KEY[0] = fast.extensions["intake"].csrf_key
    _refusing(fast, slow)
    if story is not None and request["fields"] is not None:
        request = {**request, "fields": {**request["fields"], "story": story}}
    if primed:  # a first refusal of each form in each language, answered by Flask, makes the pieces
        for app in (fast, slow):
            for lang, page in itertools.product(("en", "ru"), ("request", "urgent")):
                _answer(app.wsgi_app.slow, _request(lang=lang, page=page))
    else:
        for app in (fast, slow):
            app.extensions.pop("intake_kept_pages", None)
    before = _stored(fast), _stored(slow)
    with same_draws(900):
        answered_fast = _answer(fast.wsgi_app, request)
    with same_draws(900):
        answered_slow = _answer(slow.wsgi_app.slow, request)
    assert answered_fast == answered_slow
    assert (_stored(fast), _stored(slow)) == before


def test_a_refusal_is_served_without_flask_and_keeps_every_answer(twins: tuple[Flask, Flask]) -> None:
    fast, _slow = twins
    _KEY[0] = fast.extensions["intake"].csrf_key
    _refusing(fast)
    _answer(fast.wsgi_app.slow, _request())  # Flask's first refusal makes the page's pieces
    fields = valid_fields(story='They said "<leave>" & we did', alias="Ж")
    for request in (_request(fields=fields, once="K" * 22),
                    _request(fields=fields, once="K" * 22, content_type=MULTIPART, files=(EMPTY,))):  # fmt: skip
        with mock.patch.object(fast.wsgi_app, "slow", side_effect=AssertionError("reached Flask")), same_draws(950):
            status, headers, body = _answer(fast.wsgi_app, request)
        page = body.decode()
        assert status == "429 TOO MANY REQUESTS" and ("Retry-After", "60") in headers
        assert 'value="They said &#34;&lt;leave&gt;&#34; &amp; we did"' in page and 'name="once" value="KKKK' in page
        assert "NOT been sent" in page and 'name="files"' not in page


@FIXTURES_OK
@given(kept=st.lists(st.tuples(st.sampled_from(["story", "once", "alias", "threat_from"]), HOSTILE_TEXT), max_size=6),
       lang=st.sampled_from(["en", "ru"]), page=st.sampled_from(["request", "urgent"]))  # fmt: skip
def test_the_kept_pieces_fill_in_as_jinja_renders_the_page(twins: tuple[Flask, Flask], kept: list[tuple[str, str]],
                                                           lang: str, page: str) -> None:  # fmt: skip
    from flask import g, render_template

    from intake import views

    app = twins[1]
    with app.test_request_context(f"/{lang}/{page}", method="POST"):
        g.lang = lang
        app.extensions.pop(views.KEPT_PAGES, None)
        filled = views.fill_kept(views.kept_pieces(), "29000000.token-_=", kept)
        rendered = render_template("kept.html", kept=kept, csrf_token="29000000.token-_=", banner=views.REFUSALS[429])
    assert filled == rendered

