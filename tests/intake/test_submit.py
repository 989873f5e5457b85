"""Submitting the form, on SQLite and PostgreSQL: sealed before storage, receipt, status, CSRF, limits."""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

import crypto
from crypto.request_schema import TEXT_LIMITS
from tests.intake.helpers import check_status, csrf_token, opened, receipt_of, submit, valid_fields
from tests.intake.test_pages import assert_security_headers


def test_submission_is_sealed_and_the_exact_words_come_back(client: FlaskClient, app: Flask,
                                                            identity: crypto.Identity) -> None:  # fmt: skip
    story = "Они пришли ночью.\nПожалуйста, помогите — «срочно» 🙏"
    response = submit(client, "ru", story=story, contact="+7 900 000-00-00")
    assert response.status_code == 200
    assert_security_headers(response)
    assert 'hreflang="en"' not in response.get_data(as_text=True), "no language switch away from the receipt"
    receipt = receipt_of(response)
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    assert story.encode() not in envelope
    request = opened(envelope, identity)
    assert request["story"] == story and request["contact"] == "+7 900 000-00-00"
    assert request["locale"] == "ru" and request["people"] == 3 and request["children"] == 1
    assert request["threat_from"] == ["authorities", "family"] and request["documents"] == ["internal_passport"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", request["submitted_on"])
    assert check_status(client, receipt, "ru").startswith("Принята")
    assert check_status(client, receipt.replace(" ", "-")).startswith("Received")


def test_optional_fields_may_be_left_out(client: FlaskClient, app: Flask, identity: crypto.Identity) -> None:
    response = submit(client, threat_from=None, detention=None, location=None, children=None, documents=None,
                      health=None, safe_times=None, alias=None)  # fmt: skip
    assert response.status_code == 200
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    request = opened(envelope, identity)
    assert (request["detention"], request["children"], request["threat_from"], request["alias"]) == (None, None, [], "")


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"danger": None}, "Please choose an answer."), ({"people": None}, "Please choose an answer."),
     ({"danger": "maybe"}, "Please choose one of the options shown."),
     ({"consent": None}, "Please tick this box: it says you know how your request is protected."),
     ({"people": "0"}, "from 1 to 20"),
     ({"people": "2", "children": "3"}, "more children than people"),
     ({"story": "   ", "danger": "serious"}, "Please fill this in."),
     ({"contact": "x" * 201}, "200 characters"), ({"story": "bad\x00byte"}, "characters that cannot be sent"),
     ({"threat_from": ["family", "aliens"]}, "Please choose one of the options shown.")],
)  # fmt: skip
def test_invalid_answers_are_explained_and_nothing_is_stored(
    client: FlaskClient, app: Flask, changes: dict[str, object], message: str
) -> None:
    response = submit(client, **changes)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html and "Please check these answers:" in html
    assert app.extensions["intake"].storage.pending_count() == 0


def test_story_too_long_once_encoded_has_a_clear_message(client: FlaskClient, app: Flask) -> None:
    response = submit(client, story="🙏" * 10_000)  # 10,000 characters, 40,000 bytes of UTF-8
    assert response.status_code == 200
    # The message is on the longest answer, the one to shorten (a questionnaire may have no "story").
    assert ('<p class="err" id="story-error">Your text is too long once encoded; please shorten this answer.</p>'
            in response.get_data(as_text=True))  # fmt: skip
    assert app.extensions["intake"].storage.pending_count() == 0


def test_every_text_field_at_its_bound_in_russian_fits(client: FlaskClient, app: Flask,
                                                        identity: crypto.Identity) -> None:  # fmt: skip
    longest = {name: "Ж" * limit for name, limit in TEXT_LIMITS.items()}
    response = submit(client, "ru", **longest)
    assert response.status_code == 200 and receipt_of(response)
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    assert opened(envelope, identity)["story"] == longest["story"]


@pytest.mark.parametrize("token", [None, "", "forged-token", "IjEyMyI.bad.sig"])
def test_csrf_missing_or_bad_token_is_a_400_that_keeps_the_answers(client: FlaskClient, app: Flask,
                                                                   token: str | None) -> None:  # fmt: skip
    client.get("/en/request")
    data = valid_fields(story="my long story")
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/en/request", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "For your safety this form expired." in html and "my long story" in html
    assert app.extensions["intake"].storage.pending_count() == 0
    assert client.post("/en/status", data={"receipt": "1" * 30, "csrf_token": token or ""}).status_code == 400


def test_csrf_token_of_another_session_is_refused(client: FlaskClient, app: Flask) -> None:
    token = csrf_token(app.test_client(), "/en/request")
    response = client.post("/en/request", data={"csrf_token": token, **valid_fields()})
    assert response.status_code == 400


def test_no_recipient_means_503_and_nothing_stored(client: FlaskClient, app: Flask, identity: crypto.Identity) -> None:
    app.extensions["intake"].storage.remove_recipient(identity.fingerprint)
    response = submit(client)
    assert response.status_code == 503
    assert app.extensions["intake"].storage.pending_count() == 0


def test_pending_cap_gives_503(client: FlaskClient, app: Flask) -> None:
    services = app.extensions["intake"]
    object.__setattr__(services.config, "max_pending", 1)
    assert submit(client).status_code == 200
    response = submit(client, story="my long story, kept")
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "has NOT been sent yet" in html and "my long story, kept" in html
    assert services.storage.pending_count() == 1


def test_per_circuit_rate_limit_gives_429(client: FlaskClient, app: Flask) -> None:
    limit = int(app.extensions["intake"].submit_limiter.per_key_burst)
    # Freeze the limiter's clock: on a slow, shared machine six submissions can take long enough for the
    # bucket to refill a token, which would make this test depend on the machine's speed.
    frozen = time.monotonic()
    app.extensions["intake"].submit_limiter.clock = lambda: frozen
    token = csrf_token(client, "/en/request")
    codes = [
        client.post("/en/request", data={"csrf_token": token, **valid_fields()},
                    environ_overrides={"intake.circuit": "circuit-1"}).status_code
        for _ in range(limit + 1)
    ]  # fmt: skip
    assert codes == [200] * limit + [429]
    other = client.post("/en/request", data={"csrf_token": token, **valid_fields()},
                        environ_overrides={"intake.circuit": "circuit-2"})  # fmt: skip
    assert other.status_code == 200
