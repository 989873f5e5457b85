"""A submission over the rate limit is refused before its CSRF check, parsing and validation (issue 21 item 3)."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient

from tests.intake.helpers import form_tokens, valid_fields

CANARY = "REFUSED-CANARY-kept"


def _exhaust(app: Flask, circuit: str) -> None:
    limiter = app.extensions["intake"].submit_limiter
    frozen = time.monotonic()
    limiter.clock = lambda: frozen
    while limiter.allow(circuit):
        pass


def test_the_limit_comes_before_the_csrf_check(app: Flask, client: FlaskClient) -> None:
    # Given a circuit over its limit, and a post whose CSRF token is wrong
    _exhaust(app, "circuit-r")
    tokens = form_tokens(client, "/en/request")
    response = client.post("/en/request", data={**tokens, "csrf_token": "1.forged", **valid_fields(story=CANARY)},
                           environ_overrides={"intake.circuit": "circuit-r"})  # fmt: skip
    # Then the answer is the rate limit's (429, with the answers: the visitor has our cookie), not a 400
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert CANARY in response.get_data(as_text=True)
    assert app.extensions["intake"].storage.pending_count() == 0


def test_a_refusal_without_our_cookie_shows_nothing_typed(app: Flask) -> None:
    # Given a browser that resends a form from its history after the quick exit dropped the cookie
    _exhaust(app, "circuit-s")
    client = app.test_client()
    response = client.post("/en/request", data={"csrf_token": "1.x", **valid_fields(story=CANARY)},
                           environ_overrides={"intake.circuit": "circuit-s"})  # fmt: skip
    # Then it gets the plain 429 page, with nothing of what was sent
    assert response.status_code == 429 and CANARY not in response.get_data(as_text=True)


def test_a_malformed_body_over_the_limit_is_refused_by_the_limit(app: Flask, client: FlaskClient) -> None:
    _exhaust(app, "circuit-t")
    form_tokens(client, "/ru/urgent")
    response = client.post("/ru/urgent", data="people=%ZZ&&=&danger=\x00",
                           content_type="application/x-www-form-urlencoded",
                           environ_overrides={"intake.circuit": "circuit-t"})  # fmt: skip
    assert response.status_code == 429


def test_a_follow_up_over_the_limit_is_refused_before_its_csrf_check(app: Flask, client: FlaskClient) -> None:
    _exhaust(app, "circuit-u")
    response = client.post("/en/status/message", data={"csrf_token": "1.forged", "receipt": "1" * 30, "message": "x"},
                           environ_overrides={"intake.circuit": "circuit-u"})  # fmt: skip
    assert response.status_code == 429
