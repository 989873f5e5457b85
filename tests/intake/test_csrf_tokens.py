"""The stateless CSRF token (intake.csrf): bound to its cookie, time-limited, unforgeable without the key."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from intake import csrf
from tests.intake.helpers import form_tokens, valid_fields

KEY = bytes(range(32))


@given(cookie=st.builds(lambda _: csrf.new_cookie(), st.none()), minute=st.integers(0, 10**9),
       age=st.integers(0, 360))  # fmt: skip
def test_a_token_is_good_for_its_cookie_within_its_time(cookie: str, minute: int, age: int) -> None:
    token = csrf.make_token(KEY, cookie, minute)
    csrf.check_token(KEY, cookie, token, minute + age, 360)
    with pytest.raises(csrf.TokenError, match="expired"):
        csrf.check_token(KEY, cookie, token, minute + 361 + age, 360)
    with pytest.raises(csrf.TokenError, match="do not match"):
        csrf.check_token(KEY, csrf.new_cookie(), token, minute + age, 360)
    with pytest.raises(csrf.TokenError, match="do not match"):
        csrf.check_token(bytes(32), cookie, token, minute + age, 360)


@given(token=st.one_of(st.none(), st.text(max_size=80), st.binary(max_size=10)))
def test_any_other_value_is_refused_without_an_exception_of_another_kind(token: object) -> None:
    cookie = csrf.new_cookie()
    if token == csrf.make_token(KEY, cookie, 1000):
        return
    with pytest.raises(csrf.TokenError):
        csrf.check_token(KEY, cookie, token, 1000, 360)


def test_the_cookie_is_random_httponly_samesite_strict_and_nothing_else(client: FlaskClient) -> None:
    response = client.get("/en/request")
    [header] = [v for k, v in response.headers.items() if k == "Set-Cookie"]
    name, _, rest = header.partition("=")
    value = rest.split(";", 1)[0]
    assert name == "intake_session" and csrf.is_cookie(value)
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    # A visitor who has a cookie keeps it: no new cookie on the next page
    assert "Set-Cookie" not in client.get("/en/urgent").headers


def test_a_token_from_another_visitor_is_refused(app: Flask) -> None:
    one, two = app.test_client(), app.test_client()
    tokens = form_tokens(one, "/en/request")
    form_tokens(two, "/en/request")  # two has a cookie of its own
    refused = two.post("/en/request", data={**tokens, **valid_fields()})
    assert refused.status_code == 400 and 'id="receipt"' not in refused.get_data(as_text=True)
    assert app.extensions["intake"].storage.pending_count() == 0
    accepted = one.post("/en/request", data={**tokens, **valid_fields()})
    assert accepted.status_code == 200
