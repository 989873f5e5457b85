"""The form pages' fast path (intake.fastpath) answers byte for byte as Flask does, for any request."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

import crypto
from intake import csrf
from intake.config import IntakeConfig
from intake.fastpath import FastPath
from tests.intake.conftest import make_app

FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150,
                       deadline=None)  # fmt: skip
GOOD_COOKIE = "A" * 43
PATHS = st.one_of(st.sampled_from(["/en/request", "/ru/request", "/en/urgent", "/ru/urgent", "/ru/request/",
                                   "/de/request", "/ru/status", "/en/", "/RU/request", "/ru//request"]),
                  st.text(alphabet="/abcdefghijklmnopqrstuvwxyz%.", max_size=20).map(lambda p: "/" + p))  # fmt: skip
COOKIES = st.one_of(st.none(), st.just(f"intake_session={GOOD_COOKIE}"), st.just("intake_session=short"),
                    st.just(f"other=1; intake_session={GOOD_COOKIE}; x=y"), st.just(f'intake_session="{GOOD_COOKIE}"'),
                    st.text(max_size=60).filter(lambda t: t.isascii() and "\n" not in t and "\r" not in t))  # fmt: skip


@contextmanager
def same_draws() -> Iterator[None]:
    """Both paths get the same clock and the same 'random' draws, so their answers can be compared byte for byte."""
    tokens, cookies = itertools.count(), itertools.count()
    with mock.patch("intake.once.new_token", lambda: f"{next(tokens):022d}"), \
         mock.patch("intake.csrf.new_cookie", lambda: f"{next(cookies):043d}"), \
         mock.patch("intake.csrf.now_minute", lambda: 29_000_000):  # fmt: skip
        yield


def _answer(wsgi: Any, **request: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    environ = EnvironBuilder(**request).get_environ()
    with same_draws():
        body, status, headers = run_wsgi_app(wsgi, environ, buffered=True)
        return status, list(headers.items()), b"".join(body)


@pytest.fixture(params=["evacuation-request", "relocation-lgbtqi"])
def any_app(request: pytest.FixtureRequest, sqlite_config: IntakeConfig, identity: crypto.Identity) -> Iterator[Flask]:
    """The app serving the shipped questionnaire, or the example one (INTAKE_QUESTIONNAIRE)."""
    from importlib import resources

    path = resources.files("crypto").joinpath("questionnaires", f"{request.param}.toml")
    config = dataclasses.replace(sqlite_config, questionnaire_path=Path(str(path)))
    app = make_app(config, identity)
    assert app.extensions["questionnaire"].id == request.param
    yield app
    app.extensions["intake"].storage.dispose()


@FIXTURES_OK
@given(path=PATHS, method=st.sampled_from(["GET", "GET", "HEAD", "POST"]), cookie=COOKIES,
       query=st.sampled_from(["", "", "a=1", "lang=en"]))  # fmt: skip
def test_the_fast_path_answers_exactly_as_flask(any_app: Flask, path: str, method: str, cookie: str | None,
                                                query: str) -> None:  # fmt: skip
    fast = any_app.wsgi_app
    assert isinstance(fast, FastPath)
    for page in ("/en/request", "/ru/request", "/en/urgent", "/ru/urgent"):  # prime the page cache
        any_app.test_client().get(page)
    headers = {"Cookie": cookie} if cookie is not None else {}
    request = {"path": path, "method": method, "headers": headers, "query_string": query}
    assert _answer(fast, **request) == _answer(fast.slow, **request)


def test_the_fast_path_serves_the_form_pages_itself(sqlite_app: Flask) -> None:
    fast = sqlite_app.wsgi_app
    assert isinstance(fast, FastPath)
    sqlite_app.test_client().get("/ru/request")
    with mock.patch.object(fast, "slow", side_effect=AssertionError("reached Flask")):
        status, headers, body = _answer(fast, path="/ru/request")
    assert status == "200 OK" and b'name="once"' in body and b'name="csrf_token"' in body
    assert ("Cache-Control", "no-store, max-age=0") in headers and any(k == "Set-Cookie" for k, _ in headers)


def test_a_form_from_the_fast_path_is_accepted(sqlite_app: Flask) -> None:
    from tests.intake.helpers import form_tokens, receipt_of, valid_fields

    client = sqlite_app.test_client()
    client.get("/en/request")  # primes the cache: the next page comes from the fast path
    tokens = form_tokens(client, "/en/request")
    assert csrf.is_cookie(client.get_cookie("intake_session").value)  # type: ignore[union-attr]
    receipt_of(client.post("/en/request", data={**tokens, **valid_fields()}))
