"""The conversation on the laptop: threads, replies, the outbox; and the recipient set (issue 9 item 6)."""

from __future__ import annotations

import datetime
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import crypto
from tests.triage.helpers import PASSPHRASE, TODAY, Server, Triage, assert_one_sentence, make_request

SECRET = bytes(range(32))


def flat(output: str) -> str:
    """`triage show` without its panel borders and line breaks, to look for a sentence in it."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def v2_request(receipt: str, **fields: Any) -> dict[str, Any]:
    key = crypto.derive_reply_keypair(receipt, SECRET).public.to_b64()
    return make_request(schema=2, kind="request", reply_key=key, **fields)


def followup(receipt: str, message: str, day: datetime.date = TODAY) -> dict[str, Any]:
    key = crypto.derive_reply_keypair(receipt, SECRET).public.to_b64()
    return {"schema": 2, "kind": "followup", "locale": "ru", "submitted_on": day, "reply_key": key,
            "message": message}  # fmt: skip


def followup_entry(server: Server, payload: dict[str, Any], recipients: list[crypto.PublicIdentity]) -> Any:
    server.high_water += 1
    import os

    envelope = crypto.seal_followup(payload, for_recipients=recipients)
    return crypto.BundleEntry(os.urandom(16), server.high_water, envelope, tuple(r.fingerprint for r in recipients))


@pytest.fixture
def laptop(tmp_path: Path) -> tuple[Triage, Server, crypto.PublicIdentity]:
    passphrase = tmp_path / "pass"
    passphrase.write_text(PASSPHRASE + "\n")
    triage = Triage(tmp_path / "home", passphrase)
    return triage, Server(), triage.keygen("Alice")


RECEIPT = "1" * 10 + "2" * 10 + "3" * 10


def test_a_follow_up_joins_its_case_thread_even_when_it_arrives_first(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    # Given a follow-up that arrives before its request (its request went in a later bundle)
    early = followup_entry(server, followup(RECEIPT, "Первое: я ещё жду"), [alice])
    summary = json.loads(triage.ok("import", server.bundle(tmp_path / "1", [early]), "--json").stdout)
    assert (summary["followups"], summary["followups_waiting"], summary["new"]) == (1, 1, 0)
    assert json.loads(triage.ok("list", "--json").stdout) == [], "a follow-up is not a case of its own"
    # When the request and a second follow-up arrive
    request = server.entry(v2_request(RECEIPT, story="Нам нужна помощь"), [alice])
    late = followup_entry(server, followup(RECEIPT, "Второе: уже в пути"), [alice])
    other = server.entry(v2_request("9" * 30, story="Другая история"), [alice])
    summary = json.loads(triage.ok("import", server.bundle(tmp_path / "2", [request, late, other]), "--json").stdout)
    assert summary["followups_waiting"] == 0
    # Then both messages are in that case's thread, in order, marked unread; the other case has none
    cases = {c["request"]["story"]: c for c in json.loads(triage.ok("list", "--json").stdout)}
    thread = cases["Нам нужна помощь"]["thread"]
    assert [m["text"] for m in thread] == ["Первое: я ещё жду", "Второе: уже в пути"]
    assert cases["Нам нужна помощь"]["unread"] == 2 and cases["Другая история"]["unread"] == 0
    # And showing the case marks them read
    shown = triage.ok("show", request.entry_id.hex()[:8]).output
    assert "Второе: уже в пути" in shown, shown
    cases = {c["request"]["story"]: c for c in json.loads(triage.ok("list", "--json").stdout)}
    assert cases["Нам нужна помощь"]["unread"] == 0
    # And the follow-up envelopes are acknowledged with the cases (the server may forget them)
    triage.ok("ack", "--out", tmp_path / "ack.bin")
    ack = crypto.read_ack((tmp_path / "ack.bin").read_bytes(), server=server.key.public,
                          caseworkers=[alice])  # fmt: skip
    assert {e.entry_id for e in ack.entries} == {early.entry_id, request.entry_id, late.entry_id, other.entry_id}


def test_a_reply_is_sealed_to_the_person_and_leaves_with_the_return_file(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    request = server.entry(v2_request(RECEIPT), [alice])
    triage.ok("import", server.bundle(tmp_path / "1", [request]))
    case = request.entry_id.hex()[:8]
    # A reply on the command line is refused (shell history), from stdin it is queued
    assert triage.run("reply", case, "Мы получили вашу заявку").exit_code != 0
    assert "queued (1 waiting)" in triage.ok("reply", case, input="Мы получили вашу заявку. REPLY-CANARY").output
    assert "REPLY-CANARY" in triage.ok("show", case).output
    # The return file carries it, sealed: only the receipt's key opens it
    out = triage.ok("ack", "--out", tmp_path / "ack.bin").output
    assert "carries 1 reply" in out
    data = (tmp_path / "ack.bin").read_bytes()
    assert b"REPLY-CANARY" not in data
    ack = crypto.read_ack(data, server=server.key.public, caseworkers=[alice])
    [reply] = ack.replies
    keypair = crypto.derive_reply_keypair(RECEIPT, SECRET)
    assert reply.mailbox == crypto.mailbox_id(keypair.public)
    assert crypto.open_reply(reply.container, keypair).text == "Мы получили вашу заявку. REPLY-CANARY"
    # Not confirmed yet: the next return file carries it again, and the thread says carried, not confirmed
    triage.ok("ack", "--out", tmp_path / "ack2.bin")
    again = crypto.read_ack((tmp_path / "ack2.bin").read_bytes(), server=server.key.public, caseworkers=[alice])
    assert again.replies == (reply,)
    thread = json.loads(triage.ok("list", "--json").stdout)[0]["thread"]
    assert [(m["dir"], m["state"], m["seq"]) for m in thread] == [("out", "carried", 1)]
    assert "not confirmed" in triage.ok("show", case).output
    # When a bundle confirms it (the server signs the digest of what it stored), it is delivered
    confirmed = server.bundle(tmp_path / "2", [], recipients=[alice], delivered=[crypto.reply_digest(reply.container)])
    assert json.loads(triage.ok("import", confirmed, "--accept-recipients", "--json").stdout)["replies_delivered"] == 1
    thread = json.loads(triage.ok("list", "--json").stdout)[0]["thread"]
    assert [(m["dir"], m["state"]) for m in thread] == [("out", "delivered")]
    # And the next return file carries it no more
    triage.ok("ack", "--out", tmp_path / "ack3.bin")
    assert crypto.read_ack((tmp_path / "ack3.bin").read_bytes(), server=server.key.public,
                           caseworkers=[alice]).replies == ()  # fmt: skip


def test_a_ready_made_reply_is_a_starting_text(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    request = server.entry(v2_request(RECEIPT), [alice])
    triage.ok("import", server.bundle(tmp_path / "1", [request]))
    listed = triage.ok("reply-templates", "--language", "ru").output
    assert "Мы получили вашу заявку" in listed
    triage.ok("reply", request.entry_id.hex()[:8], "--template", "received", "--language", "ru", input="")
    thread = json.loads(triage.ok("list", "--json").stdout)[0]["thread"]
    assert thread[0]["text"].startswith("Мы получили вашу заявку")


def test_a_schema_1_request_says_no_reply_is_possible(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    old = server.entry(make_request(story="старый формат"), [alice])
    triage.ok("import", server.bundle(tmp_path / "1", [old]))
    assert json.loads(triage.ok("list", "--json").stdout)[0]["request"]["story"] == "старый формат"
    assert_one_sentence(triage.run("reply", old.entry_id.hex()[:8], input="hello"), "no reply key")


def test_a_reply_slipped_into_the_outbox_is_refused(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    request = server.entry(v2_request(RECEIPT), [alice])
    triage.ok("import", server.bundle(tmp_path / "1", [request]))
    triage.ok("reply", request.entry_id.hex()[:8], input="genuine")
    # Given an attacker who copies a queued row under another id, or writes one of their own, without the key
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:
        db.execute("INSERT INTO outbox SELECT randomblob(16), sealed FROM outbox")
        db.execute("INSERT INTO outbox VALUES (randomblob(16), randomblob(200))")
    # Then no return file is written with them
    result = triage.run("ack", "--out", tmp_path / "ack.bin")
    assert result.exit_code != 0 and not (tmp_path / "ack.bin").exists()


# --- the recipient set (issue 9 item 6) --------------------------------------------------------------------


def test_a_changed_recipient_set_stops_the_import_until_accepted(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    bob = crypto.Identity.generate("Bob").public
    # Given a first import that pins {Alice, Bob}
    first = server.bundle(tmp_path / "1", [server.entry(make_request(), [alice, bob])], recipients=[alice, bob])
    out = triage.ok("import", first).output
    assert "Alice" in out and "Bob" in out and alice.fingerprint in out
    # When the server adds a key with a caseworker's look-alike name and drops Bob
    mallory = crypto.Identity.generate("Alice (new laptop)").public
    entries = [server.entry(make_request(story="after the change"), [alice, mallory])]
    second = server.bundle(tmp_path / "2", entries, recipients=[alice, mallory])
    # Then the import stops, naming who was added and who removed, and imports nothing
    result = triage.run("import", second)
    assert result.exit_code != 0
    message = result.output
    assert "Added: Alice (new laptop) (" + mallory.fingerprint in message and "Removed: Bob (" in message
    assert len(json.loads(triage.ok("list", "--json").stdout)) == 1
    # Until a caseworker accepts it on purpose; then the new set is pinned
    accepted = triage.ok("import", "--accept-recipients", second).output
    assert "ACCEPTED: Alice (new laptop)" in accepted and "no longer receives" in accepted
    assert len(json.loads(triage.ok("list", "--json").stdout)) == 2
    third = server.bundle(tmp_path / "3", [], recipients=[alice, mallory])
    triage.ok("import", third)
    # And a bundle without a set after one was pinned (a downgrade) is refused
    old = server.bundle(tmp_path / "4", [])
    assert_one_sentence(triage.run("import", old), "downgrade")


def test_a_recipient_removed_with_none_added_stops_the_import_too(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    bob = crypto.Identity.generate("Bob").public
    # Given a first import that pins {Alice, Bob}
    triage.ok("import", server.bundle(tmp_path / "1", [server.entry(make_request(), [alice, bob])],
                                      recipients=[alice, bob]))  # fmt: skip
    # When the server drops Bob and adds no one
    second = server.bundle(tmp_path / "2", [server.entry(make_request(story="b"), [alice])], recipients=[alice])
    # Then the import stops, naming Bob as removed, and imports nothing
    result = triage.run("import", second)
    assert result.exit_code != 0
    assert "Added: nobody. Removed: Bob (" + bob.fingerprint in result.output
    assert len(json.loads(triage.ok("list", "--json").stdout)) == 1
    # Until it is accepted on purpose
    assert "no longer receives" in triage.ok("import", "--accept-recipients", second).output
    assert len(json.loads(triage.ok("list", "--json").stdout)) == 2


def test_show_says_who_could_read_the_case(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    bob = crypto.Identity.generate("Bob").public
    entry = server.entry(make_request(), [alice, bob])
    triage.ok("import", server.bundle(tmp_path / "1", [entry], recipients=[alice, bob]))
    shown = triage.ok("show", entry.entry_id.hex()[:8]).output
    assert "Who could read this request" in shown
    assert alice.fingerprint in shown and bob.fingerprint in shown and "Bob" in shown


def test_an_unread_follow_up_raises_its_case_until_it_is_read(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    # Given two emergency cases alike but for their order of arrival
    first = server.entry(v2_request("1" * 30, danger="immediate", story="first"), [alice])
    second = server.entry(v2_request("2" * 30, danger="immediate", story="second"), [alice])
    triage.ok("import", server.bundle(tmp_path / "1", [first, second]))
    before = {c["request"]["story"]: c for c in json.loads(triage.ok("list", "--json").stdout)}
    # When the second person writes again
    news = followup_entry(server, followup("2" * 30, "они здесь"), [alice])
    triage.ok("import", server.bundle(tmp_path / "2", [news]))
    after = json.loads(triage.ok("list", "--json").stdout)
    # Then that case gains the new-message points with its reason, and comes first
    assert after[0]["request"]["story"] == "second"
    assert after[0]["score"] == before["second"]["score"] + 25
    assert any("New message" in reason for reason in after[0]["reasons"])
    # Until a caseworker opens it
    triage.ok("show", second.entry_id.hex()[:8])
    again = {c["request"]["story"]: c for c in json.loads(triage.ok("list", "--json").stdout)}
    assert again["second"]["score"] == before["second"]["score"]


def test_a_queued_reply_can_be_shown_changed_and_withdrawn_until_it_leaves(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    request = server.entry(v2_request(RECEIPT), [alice])
    triage.ok("import", server.bundle(tmp_path / "1", [request]))
    case = request.entry_id.hex()[:8]
    keypair = crypto.derive_reply_keypair(RECEIPT, SECRET)
    # Given two queued replies
    triage.ok("reply", case, input="Первый ответ с опечаткой")
    triage.ok("reply", case, input="Второй ответ, который не нужен")
    assert "Первый ответ с опечаткой" in triage.ok("reply", case, "--show", "1").output
    # When the first is changed (the words from stdin, never argv) and the second withdrawn
    assert triage.run("reply", case, "--edit", "1", "Исправлено").exit_code != 0
    triage.ok("reply", case, "--edit", "1", input="Первый ответ, исправленный")
    assert "never left this laptop" in triage.ok("reply", case, "--withdraw", "2").output
    # Then the return file carries exactly the corrected first reply, still number 1
    triage.ok("ack", "--out", tmp_path / "ack1.bin")
    [carried] = crypto.read_ack((tmp_path / "ack1.bin").read_bytes(), server=server.key.public,
                                caseworkers=[alice]).replies  # fmt: skip
    opened = crypto.open_reply(carried.container, keypair)
    assert (opened.text, opened.seq) == ("Первый ответ, исправленный", 1)
    # And the audit trail says who wrote, changed and withdrew which reply
    shown = flat(triage.ok("show", case).output)
    for words in ("wrote reply 1", "changed reply 1 before it left", "withdrew reply 2 before it left"):
        assert words in shown, shown
    # When a carried reply is to be changed, that is refused; withdrawing it says it may still arrive
    assert_one_sentence(triage.run("reply", case, "--edit", "1", input="ещё раз"), "can no longer be changed")
    out = triage.ok("reply", case, "--withdraw", "1").output
    assert "the person will still see it" in out, out
    assert "after a return file had carried it (it may still arrive)" in flat(triage.ok("show", case).output)
    # And no later return file carries it; a withdrawn reply cannot be withdrawn twice
    triage.ok("ack", "--out", tmp_path / "ack2.bin")
    assert crypto.read_ack((tmp_path / "ack2.bin").read_bytes(), server=server.key.public,
                           caseworkers=[alice]).replies == ()  # fmt: skip
    assert_one_sentence(triage.run("reply", case, "--withdraw", "1"), "withdrawn already")
    # When the return file that carried it is applied after all, the next bundle's confirmation says so
    digest = crypto.reply_digest(carried.container)
    confirmed = server.bundle(tmp_path / "2", [], recipients=[alice], delivered=[digest])
    triage.ok("import", confirmed, "--accept-recipients")
    assert "confirmed on 2026" in flat(triage.ok("show", case).output)
    assert "so the person can read it" in flat(triage.ok("show", case).output)
    assert_one_sentence(triage.run("reply", case, "--show", "9"), "no reply with that number")
    # And a new reply gets the next number, so the person still sees them in the order written
    triage.ok("reply", case, input="Третий")
    thread = json.loads(triage.ok("list", "--json").stdout)[0]["thread"]
    assert [(m["seq"], m["state"]) for m in thread] == [(1, "withdrawn"), (2, "withdrawn"), (3, "queued")]


def test_a_follow_up_asking_to_change_contacts_is_marked_to_check_by_the_code_word(
    laptop: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, server, alice = laptop
    request = server.entry(v2_request(RECEIPT), [alice])
    change = followup_entry(server, followup(RECEIPT, "Это я. Мой новый номер +7 928 000 11 22, старый не пишите"),
                            [alice])  # fmt: skip
    thanks = followup_entry(server, followup(RECEIPT, "Спасибо, жду."), [alice])
    triage.ok("import", server.bundle(tmp_path / "1", [request, change, thanks]))
    shown = flat(triage.ok("show", request.entry_id.hex()[:8]).output)
    assert shown.count("ask for the agreed code word") == 1, shown
    # The mark follows the message that asks, not the one that thanks
    assert shown.index("новый номер") < shown.index("Check before acting") < shown.index("Спасибо, жду."), shown
