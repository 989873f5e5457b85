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
             content_type: str = "application/x-www-form-urlencoded", extra: str = "") -> dict[str, Any]:  # fmt: skip
    """A POST as its parts; "good" is a live token for the cookie, made when the request is built (_build)."""
    return {"lang": lang, "page": page, "once": once, "cookie": cookie, "token": token, "fields": fields,
            "content_type": content_type, "extra": extra}  # fmt: skip


def _build(lang: str, page: str, once: str, cookie: str | None, token: str | None, fields: dict[str, Any] | None,
           content_type: str, extra: str) -> dict[str, Any]:  # fmt: skip
    if token == "good":
        token = csrf.make_token(_KEY[0], cookie or COOKIE, 29_000_000)
    data = {**(valid_fields() if fields is None else fields), "once": once}
    if token is not None:
        data["csrf_token"] = token
    body = urlencode(data, doseq=True) + extra
    headers = {"Cookie": f"intake_session={cookie}"} if cookie is not None else {}
    return {"path": f"/{lang}/{page}", "method": "POST", "headers": headers, "data": body.encode("utf-8"),
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


@FIXTURES_OK
@given(request=REQUESTS, twice=st.booleans())
@example(request=_request(), twice=True)
@example(request=_request(fields=valid_fields(relang="ru")), twice=False)
@example(request=_request(fields=valid_fields(danger="")), twice=False)
@example(request=_request(token=None), twice=False)
@example(request=_request(page="urgent", lang="ru", once="U" * 22), twice=False)
def test_the_post_fast_path_answers_and_stores_exactly_as_flask(twins: tuple[Flask, Flask], request: dict[str, Any],
                                                                twice: bool) -> None:  # fmt: skip
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
