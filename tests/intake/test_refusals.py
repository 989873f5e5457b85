"""Issue 9 item 2 and item 3 (the page part): refusing a well-formed request keeps every answer, says plainly
that nothing was sent yet and when to try again, and a sealing failure is a 503 with a line for the operator.
"""

from __future__ import annotations

import logging
import re
import time
from html import unescape as html_unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.datastructures import MultiDict

import crypto
from intake.tables import recipients
from tests.intake.helpers import csrf_token, opened, receipt_of, submit, valid_fields

STORY = "They came at night; I am hiding at a friend's. refusal-canary-story"
CONTACT = "@refusal_canary"
NOT_SENT = {"en": "Your request has NOT been sent yet", "ru": "Ваша заявка ещё НЕ отправлена"}


def assert_answers_kept(html: str) -> None:
    """Every kind of answer is back in the form: text, textarea, radio, checkbox, select, consent."""
    assert f'value="{CONTACT}"' in html and STORY.replace("'", "&#39;") in html
    for checked in ('id="danger-0" name="danger" type="radio" value="immediate" checked',
                    'id="threat_from-0" name="threat_from" type="checkbox" value="authorities" checked',
                    'id="consent" name="consent" type="checkbox" value="y"'):  # fmt: skip
        assert checked.split(" checked")[0] in html, checked
    assert '<option selected value="3">' in html, "the number of people was lost"
    assert 'id="consent" name="consent" type="checkbox" value="y"' in html and "checked" in html


def low_order_key_text(identity: crypto.Identity) -> str:
    """A key file whose X25519 key is a low-order point (u = 1): libsodium refuses to seal to it, and the
    reader now refuses the file (FORMAT.md §5), so it can only be in the table by a mistake or an edit."""
    import base64

    good = identity.public.to_text()
    line = next(line for line in good.splitlines() if line.startswith("encryption:"))
    low = base64.b64encode((1).to_bytes(32, "little")).decode()
    return good.replace(line, f"encryption: {low}")


def set_key_text(app: Flask, identity: crypto.Identity, text: str) -> None:
    """What an operator's mistake, or someone with the database, leaves in the recipients table."""
    storage = app.extensions["intake"].storage
    with storage.engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.fingerprint == identity.fingerprint)
                     .values(public_text=text))  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_rate_limit_keeps_every_answer_and_says_nothing_was_sent(client: FlaskClient, app: Flask, lang: str,
                                                                   identity: crypto.Identity) -> None:  # fmt: skip
    # Given a circuit that has used up its submissions (the limiter's clock frozen)
    limiter = app.extensions["intake"].submit_limiter
    frozen = time.monotonic()
    limiter.clock = lambda: frozen
    while limiter.allow("circuit-9"):
        pass
    # When a person on that circuit sends a valid request
    token = csrf_token(client, f"/{lang}/request")
    response = client.post(f"/{lang}/request", data={"csrf_token": token, **valid_fields(story=STORY, contact=CONTACT)},
                           environ_overrides={"intake.circuit": "circuit-9"})  # fmt: skip
    # Then it is a 429 saying plainly it was NOT sent and when to retry, every answer kept on the page (in
    # hidden fields, so the refusal costs less than an acceptance: issue 21 item 3)
    html = response.get_data(as_text=True)
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert NOT_SENT[lang] in html and "Nothing is wrong" not in html and "С вашей заявкой всё в порядке" not in html
    assert app.extensions["intake"].storage.pending_count() == 0
    hidden = re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', html)
    kept = [(name, html_unescape(value)) for name, value in hidden]
    assert ("contact", CONTACT) in kept and ("story", STORY) in kept
    # And when the person presses the button once the limit allows, exactly those answers are stored
    limiter.clock = lambda: frozen + 3600
    again = client.post(f"/{lang}/request", data=MultiDict(kept),
                        environ_overrides={"intake.circuit": "circuit-9"})  # fmt: skip
    receipt_of(again)
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    request = opened(envelope, identity)
    assert request["story"] == STORY and request["contact"] == CONTACT and request["people"] == 3
    assert sorted(request["threat_from"]) == ["authorities", "family"] and request["documents"] == ["internal_passport"]


@pytest.mark.parametrize("why", ["no recipient", "queue full"])
def test_a_full_or_unready_server_keeps_every_answer(client: FlaskClient, app: Flask, identity: crypto.Identity,
                                                     why: str) -> None:  # fmt: skip
    services = app.extensions["intake"]
    if why == "no recipient":
        services.storage.remove_recipient(identity.fingerprint)
    else:
        object.__setattr__(services.config, "max_pending", 1)
        receipt_of(submit(client))
    response = submit(client, "ru", story=STORY, contact=CONTACT)
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "3600"
    assert NOT_SENT["ru"] in html
    assert_answers_kept(html)
    assert services.storage.pending_count() == (0 if why == "no recipient" else 1)


@pytest.mark.parametrize("broken", ["low-order key", "tampered key file"])
def test_a_sealing_failure_is_a_503_with_the_answers_and_one_line_for_the_operator(
    client: FlaskClient, app: Flask, identity: crypto.Identity, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    # Given a registered caseworker key that cannot be sealed to (or no longer parses)
    good = identity.public.to_text()
    set_key_text(app, identity, low_order_key_text(identity) if broken == "low-order key"
                 else good.replace("name: ", "name: X"))  # fmt: skip
    # When a person sends a valid request
    with caplog.at_level(logging.INFO, logger="intake"):
        response = submit(client, story=STORY, contact=CONTACT)
    # Then: never a 500; the form with every answer; nothing stored
    html = response.get_data(as_text=True)
    assert response.status_code == 503, response.status_code
    assert NOT_SENT["en"] in html
    assert_answers_kept(html)
    assert app.extensions["intake"].storage.pending_count() == 0
    # And the operator gets one clear line naming what to check, with nothing the person sent
    lines = [r.getMessage() for r in caplog.records if r.name == "intake"]
    assert len(lines) == 1 and "intake recipients list" in lines[0], lines
    assert "canary" not in caplog.text
    # And once the key is put right, the same person gets through
    set_key_text(app, identity, good)
    assert receipt_of(submit(client))
