"""The requester's side of the conversation: the receipt opens replies; a follow-up is sealed like a request.

Replies are put on the server the only way they ever are: inside a signed return file (`apply_ack`).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

import crypto
from intake import cli, database
from intake.instance import Instance
from tests.intake.helpers import TOKEN, csrf_token, opened, receipt_of, submit

DAY = datetime.date.today()
REPLY_CANARY = "REPLY-CANARY-7c1e Ответ куратора"


def open_conversation(client: FlaskClient, receipt: str, lang: str = "en") -> str:
    token = csrf_token(client, f"/{lang}/status")
    response = client.post(f"/{lang}/status", data={"csrf_token": token, "receipt": receipt})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def the_request(app: Flask, identity: crypto.Identity) -> dict[str, object]:
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    return opened(envelope, identity)


def send_reply(app: Flask, identity: crypto.Identity, reply_key: str, text: str) -> None:
    """What a caseworker's `triage reply` + `triage ack` + `intake apply-ack` does, in one step."""
    public = crypto.ReplyPublicKey.from_b64(reply_key)
    container = crypto.seal_reply(text, written_on=DAY, seq=1, to=public)
    reply = crypto.AckReply(mailbox=crypto.mailbox_id(public), container=container)
    server_key = Instance(app.extensions["intake"].config).server_key()
    data = crypto.make_ack([], identity=identity, server=server_key.public, bundle_sequence=1, created_on=DAY,
                           replies=[reply])  # fmt: skip
    assert app.extensions["intake"].storage.apply_ack(data, server_key, DAY).replies == 1


def test_a_request_carries_the_reply_key_its_receipt_opens(app: Flask, client: FlaskClient,
                                                           identity: crypto.Identity) -> None:  # fmt: skip
    receipt = receipt_of(submit(client))
    request = the_request(app, identity)
    assert request["schema"] == 3 and request["kind"] == "request"
    digits = receipt.replace(" ", "")
    derived = crypto.derive_reply_keypair(digits, app.extensions["intake"].reply_secret)
    assert derived.public.to_b64() == request["reply_key"]
    # And the receipt alone (without the server's secret) does not give the key
    other = crypto.derive_reply_keypair(digits, bytes(32))
    assert other.public.to_b64() != request["reply_key"]


def test_the_receipt_opens_replies_and_the_person_answers(app: Flask, client: FlaskClient,
                                                         identity: crypto.Identity) -> None:  # fmt: skip
    # Given a request and a caseworker's reply to it
    receipt = receipt_of(submit(client, lang="ru"))
    request = the_request(app, identity)
    send_reply(app, identity, str(request["reply_key"]), REPLY_CANARY)
    # When the person opens the status page with the receipt
    page = open_conversation(client, receipt, "ru")
    # Then the reply is shown, decrypted for this response only, with a form to answer
    assert REPLY_CANARY in page and "Сообщения от сотрудников" in page
    assert 'name="message"' in page
    # When they answer
    token = TOKEN.search(page).group(1)
    answer = client.post("/ru/status/message", data={"csrf_token": token, "receipt": receipt,
                                                     "message": "Да, это я. Мой ответ: 42"})  # fmt: skip
    assert answer.status_code == 200 and 'id="sent"' in answer.get_data(as_text=True)
    # Then a follow-up envelope of exactly the request's size is stored, and it names the same reply key
    stored = app.extensions["intake"].storage.envelope_bytes()
    assert len(stored) == 2 and len({len(e) for _, e in stored}) == 1
    payloads = [opened(e, identity) for _, e in stored]
    [followup] = [p for p in payloads if p["kind"] == "followup"]
    assert followup["reply_key"] == request["reply_key"] and followup["message"] == "Да, это я. Мой ответ: 42"
    # And both rows look alike: every envelope has one receipt row
    with app.extensions["intake"].storage.reading() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM receipts").scalar_one() == 2


def test_the_person_can_delete_a_reply_they_have_read(app: Flask, client: FlaskClient,
                                                     identity: crypto.Identity) -> None:  # fmt: skip
    receipt = receipt_of(submit(client))
    send_reply(app, identity, str(the_request(app, identity)["reply_key"]), REPLY_CANARY)
    page = open_conversation(client, receipt)
    reply_id = re.search(r'name="reply" value="([0-9a-f]+)"', page).group(1)
    token = TOKEN.search(page).group(1)
    # A wrong receipt deletes nothing and looks like an unknown receipt
    wrong = "1" * 30
    answer = client.post("/en/status/delete", data={"csrf_token": token, "receipt": wrong, "reply": reply_id})
    assert 'class="answer missing"' in answer.get_data(as_text=True)
    assert REPLY_CANARY in open_conversation(client, receipt)
    # The right one deletes it (once confirmed: tests/intake/test_journey_words.py asks first)
    answer = client.post("/en/status/delete", data={"csrf_token": token, "receipt": receipt, "reply": reply_id,
                                                    "confirmed": "yes"})  # fmt: skip
    assert 'id="deleted"' in answer.get_data(as_text=True)
    assert REPLY_CANARY not in open_conversation(client, receipt)


@pytest.mark.parametrize("receipt", ["1" * 30, "12345"])
def test_a_follow_up_with_an_unknown_or_mistyped_receipt_stores_nothing(
    app: Flask, client: FlaskClient, receipt: str
) -> None:
    receipt_of(submit(client))
    token = csrf_token(client, "/en/status")
    answer = client.post("/en/status/message", data={"csrf_token": token, "receipt": receipt, "message": "hello"})
    assert 'class="answer missing"' in answer.get_data(as_text=True)
    assert app.extensions["intake"].storage.pending_count() == 1


def test_an_empty_or_oversized_follow_up_is_refused_with_the_conversation_kept(
    app: Flask, client: FlaskClient, identity: crypto.Identity
) -> None:
    receipt = receipt_of(submit(client))
    token = csrf_token(client, "/en/status")
    for message in ("   ", "x" * 4001):
        answer = client.post("/en/status/message", data={"csrf_token": token, "receipt": receipt, "message": message})
        assert answer.status_code == 400 and 'id="message-error"' in answer.get_data(as_text=True)
    assert app.extensions["intake"].storage.pending_count() == 1


def test_unread_replies_are_deleted_after_their_lifetime(app: Flask, client: FlaskClient,
                                                         identity: crypto.Identity) -> None:  # fmt: skip
    receipt = receipt_of(submit(client))
    request = the_request(app, identity)
    public = crypto.ReplyPublicKey.from_b64(str(request["reply_key"]))
    storage = app.extensions["intake"].storage
    old_day = DAY - datetime.timedelta(days=61)
    reply = crypto.AckReply(crypto.mailbox_id(public), crypto.seal_reply("old", written_on=old_day, seq=1, to=public))
    server_key = Instance(app.extensions["intake"].config).server_key()
    data = crypto.make_ack([], identity=identity, server=server_key.public, bundle_sequence=1, created_on=old_day,
                           replies=[reply])  # fmt: skip
    storage.apply_ack(data, server_key, old_day)
    send_reply(app, identity, str(request["reply_key"]), "new")
    assert app.extensions["intake"].config.reply_days == 60
    assert storage.expire_replies(DAY - datetime.timedelta(days=60)) == 1
    page = open_conversation(client, receipt)
    assert "new" in page and ">old<" not in page
    assert len(storage.replies_for(crypto.mailbox_id(public))) == 1


def _seal_reply(text: str, day: datetime.date, public: crypto.ReplyPublicKey, seq: int) -> bytes:
    """seal_reply with the reply's sequence number (FORMAT.md §11)."""
    return crypto.seal_reply(text, written_on=day, seq=seq, to=public)


def test_intake_export_deletes_the_replies_past_their_lifetime(
    app: Flask, client: FlaskClient, identity: crypto.Identity, tmp_path: Path
) -> None:
    # Given a store with a reply stored 61 days ago, one stored 59 days ago, and one of today
    receipt = receipt_of(submit(client))
    request = the_request(app, identity)
    public = crypto.ReplyPublicKey.from_b64(str(request["reply_key"]))
    config = app.extensions["intake"].config
    storage = app.extensions["intake"].storage
    server_key = Instance(config).server_key()
    today = database.today()
    for sequence, (age, text) in enumerate([(61, "old"), (59, "recent")], start=1):
        day = today - datetime.timedelta(days=age)
        reply = crypto.AckReply(crypto.mailbox_id(public), _seal_reply(text, day, public, sequence))
        data = crypto.make_ack([], identity=identity, server=server_key.public, bundle_sequence=sequence,
                               created_on=day, replies=[reply])  # fmt: skip
        storage.apply_ack(data, server_key, day)
    send_reply(app, identity, str(request["reply_key"]), "new")
    assert config.reply_days == 60
    # When the operator runs `intake export` (the command, as the daily timer does)
    env = {"INTAKE_INSTANCE_DIR": str(config.instance_dir), "INTAKE_DATABASE_URL": config.database_url}
    result = CliRunner().invoke(cli.main, ["export", "--out", str(tmp_path / "x.bundle")], env=env)
    # Then the reply past INTAKE_REPLY_DAYS is gone, and only it
    assert result.exit_code == 0, result.output
    assert "Deleted 1 reply older than 60 days." in result.output
    page = open_conversation(client, receipt)
    assert ">new<" in page and ">recent<" in page and ">old<" not in page
    assert len(storage.replies_for(crypto.mailbox_id(public))) == 2
