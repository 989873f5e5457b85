"""The desk's conversation and USB pages through Flask's test client, over the real operations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")

import crypto
from tests.triage.desk_setup import desk_client, desk_state
from tests.triage.helpers import Server, Triage
from tests.triage.test_conversation import RECEIPT, followup, followup_entry, v2_request
from triage.home import Home


@pytest.fixture
def desk(triage: Triage, server: Server, tmp_path: Path) -> tuple[Any, Any, Triage, crypto.BundleEntry]:
    from triage.desk import create_app

    alice = triage.keygen("Alice")
    request = server.entry(v2_request(RECEIPT, story="Нам нужна помощь"), [alice])
    answer = followup_entry(server, followup(RECEIPT, "Я жду вашего ответа"), [alice])
    triage.ok("import", server.bundle(tmp_path / "b", [request, answer]))
    state = desk_state(Home(triage.home))
    client = desk_client(create_app(state))
    assert client.get(f"/open?key={state.secret}").status_code == 303
    return client, state, triage, request


def test_the_thread_shows_new_messages_once_and_a_reply_is_sealed_and_queued(desk: Any, tmp_path: Path) -> None:
    client, state, triage, request = desk
    queue = client.get("/").get_data(as_text=True)
    assert "<strong>1</strong>" in queue and "1 case with new messages" in queue
    assert "Нам нужна помощь" in client.get("/?unread=1").get_data(as_text=True)
    page = client.get(f"/case/{request.entry_id.hex()}").get_data(as_text=True)
    assert "Я жду вашего ответа" in page and ">unread</strong>" in page
    assert ">unread</strong>" not in client.get(f"/case/{request.entry_id.hex()}").get_data(as_text=True)  # now read
    assert "Нам нужна помощь" not in client.get("/?unread=1").get_data(as_text=True)
    # A ready-made reply in the person's language starts the composer
    prefilled = client.get(f"/case/{request.entry_id.hex()}?template=received&in=ru").get_data(as_text=True)
    assert "Мы получили вашу заявку" in prefilled
    response = client.post(
        f"/case/{request.entry_id.hex()}/reply", data={"csrf": state.csrf, "text": "Мы на связи. Ответ-канарейка."}
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Мы на связи. Ответ-канарейка." in page and "queued, leaves with the next return file" in page
    # The return file written from the desk carries the sealed reply, and the reply is then "sent"
    usb = tmp_path / "stick"
    usb.mkdir()
    written = client.post("/usb/return", data={"csrf": state.csrf, "folder": str(usb)}).get_data(as_text=True)
    assert "It also carries 1 sealed reply." in written
    assert "Ответ-канарейка" not in (next(usb.glob("ack-*.eva"))).read_bytes().decode("latin-1")
    thread = json.loads(triage.ok("list", "--json").stdout)[0]["thread"]
    assert [m["dir"] for m in thread] == ["in", "out"] and thread[1]["state"] == "carried"


def test_an_empty_or_forged_reply_queues_nothing(desk: Any) -> None:
    client, state, triage, request = desk
    assert (
        client.post(f"/case/{request.entry_id.hex()}/reply", data={"csrf": state.csrf, "text": "  "}).status_code == 400
    )
    assert client.post(f"/case/{request.entry_id.hex()}/reply", data={"text": "forged"}).status_code == 403
    assert [m["dir"] for m in json.loads(triage.ok("list", "--json").stdout)[0]["thread"]] == ["in"]


def test_the_first_import_from_the_desk_needs_the_fingerprint(triage: Triage, server: Server, tmp_path: Path) -> None:
    from triage.desk import create_app

    alice = triage.keygen("Alice")
    usb = tmp_path / "usb"
    usb.mkdir()
    server.bundle(usb / "export.evb", [server.entry(v2_request(RECEIPT, story="x"), [alice])], recipients=[alice])
    (usb / "notes.txt").write_text("not a bundle")
    state = desk_state(Home(triage.home))
    client = desk_client(create_app(state))
    client.get(f"/open?key={state.secret}")
    listing = client.get(f"/usb?folder={usb}").get_data(as_text=True)
    assert "export.evb" in listing and "notes.txt" not in listing and 'name="fingerprint"' in listing
    form = {"csrf": state.csrf, "folder": str(usb), "file": "export.evb"}
    refused = client.post("/usb/import", data=form)
    assert refused.status_code == 400 and "first import" in refused.get_data(as_text=True)
    wrong = client.post("/usb/import", data={**form, "fingerprint": "0" * 32})
    assert wrong.status_code == 400
    assert client.post("/usb/import", data={**form, "file": "../etc/passwd"}).status_code == 400
    done = client.post("/usb/import", data={**form, "fingerprint": server.key.public.fingerprint})
    assert done.status_code == 200 and "1 new case" in done.get_data(as_text=True)


def test_a_queued_reply_is_changed_or_withdrawn_in_the_desk_and_a_carried_one_says_it_may_still_arrive(
    desk: Any, tmp_path: Path
) -> None:
    client, state, triage, request = desk
    case = f"/case/{request.entry_id.hex()}"
    for words in ("Первый ответ с ошибкой", "Второй ответ"):
        assert client.post(f"{case}/reply", data={"csrf": state.csrf, "text": words}).status_code == 303
    page = client.get(case).get_data(as_text=True)
    assert "reply 1 · queued, leaves with the next return file" in page and "Change or withdraw this reply" in page
    # A change without the CSRF token changes nothing
    client.post(f"{case}/reply/edit", data={"seq": "1", "text": "подмена"})
    assert "подмена" not in client.get(case).get_data(as_text=True)
    # When the first is changed and the second withdrawn
    changed = client.post(f"{case}/reply/edit", data={"csrf": state.csrf, "seq": "1", "text": "Первый, исправлен"})
    assert "changed and sealed again" in client.get(changed.headers["Location"]).get_data(as_text=True)
    gone = client.post(f"{case}/reply/withdraw", data={"csrf": state.csrf, "seq": "2"})
    assert "it never left this laptop" in client.get(gone.headers["Location"]).get_data(as_text=True)
    # Then the return file carries only the changed first reply
    usb = tmp_path / "stick"
    usb.mkdir()
    assert "It also carries 1 sealed reply." in client.post(
        "/usb/return", data={"csrf": state.csrf, "folder": str(usb)}).get_data(as_text=True)  # fmt: skip
    thread = json.loads(triage.ok("list", "--json").stdout)[0]["thread"]
    assert [(m.get("seq"), m["state"], m["text"]) for m in thread if m["dir"] == "out"] == [
        (1, "carried", "Первый, исправлен"), (2, "withdrawn", "Второй ответ")]  # fmt: skip
    # When the carried one is withdrawn, the desk says plainly that it may still reach the person
    page = client.get(case).get_data(as_text=True)
    assert "not confirmed" in page and "the one already written may still deliver it" in page
    assert client.post(f"{case}/reply/edit", data={"csrf": state.csrf, "seq": "1", "text": "x"}).status_code == 400
    withdrawn = client.post(f"{case}/reply/withdraw", data={"csrf": state.csrf, "seq": "1"})
    assert "the person will still see it" in client.get(withdrawn.headers["Location"]).get_data(as_text=True)


def test_the_desk_marks_a_follow_up_that_asks_to_change_plans(triage: Triage, server: Server, tmp_path: Path) -> None:
    from triage.desk import create_app

    alice = triage.keygen("Alice")
    request = server.entry(v2_request(RECEIPT, story="Нам нужна помощь"), [alice])
    change = followup_entry(server, followup(RECEIPT, "Планы изменились: встречаемся в другом месте"), [alice])
    bundle = server.bundle(tmp_path / "b", [request, change])
    triage.ok("import", "--fingerprint", server.key.public.fingerprint, bundle)
    state = desk_state(Home(triage.home))
    client = desk_client(create_app(state))
    assert client.get(f"/open?key={state.secret}").status_code == 303
    page = client.get(f"/case/{request.entry_id.hex()}").get_data(as_text=True)
    assert page.count('class="error verify"') == 1 and "ask for the agreed code word first" in page
    state.lang = "ru"
    page = client.get(f"/case/{request.entry_id.hex()}").get_data(as_text=True)
    assert "условное слово" in page
def test_a_recipient_removed_with_none_added_stops_the_desk_import(
    triage: Triage, server: Server, tmp_path: Path
) -> None:
    from triage.desk import create_app

    alice = triage.keygen("Alice")
    bob = crypto.Identity.generate("Bob").public
    # Given a store that pinned {Alice, Bob}, and a bundle whose set is {Alice}: Bob removed, no one added
    triage.ok("import", server.bundle(tmp_path / "1", [server.entry(v2_request(RECEIPT, story="a"), [alice, bob])],
                                      recipients=[alice, bob]))  # fmt: skip
    usb = tmp_path / "usb"
    usb.mkdir()
    server.bundle(usb / "2.evb", [server.entry(v2_request("9" * 30, story="b"), [alice])], recipients=[alice])
    state = desk_state(Home(triage.home))
    client = desk_client(create_app(state))
    client.get(f"/open?key={state.secret}")
    form = {"csrf": state.csrf, "folder": str(usb), "file": "2.evb"}
    # Then the desk stops the import, naming Bob, and imports nothing until the change is accepted
    stopped = client.post("/usb/import", data=form)
    assert stopped.status_code == 409 and "STOP" in stopped.get_data(as_text=True)
    assert "Bob" in stopped.get_data(as_text=True)
    assert len(json.loads(triage.ok("list", "--json").stdout)) == 1
    accepted = client.post("/usb/import", data={**form, "accept_recipients": "yes"})
    assert accepted.status_code == 200 and "You accepted a change" in accepted.get_data(as_text=True)
    assert len(json.loads(triage.ok("list", "--json").stdout)) == 2


def test_a_changed_recipient_set_stops_the_import_until_accepted(
    triage: Triage, server: Server, tmp_path: Path
) -> None:
    from triage.desk import create_app

    alice = triage.keygen("Alice")
    mallory = crypto.Identity.generate("Mallory").public
    triage.ok("import", server.bundle(tmp_path / "1", [server.entry(v2_request(RECEIPT, story="a"), [alice])],
                                      recipients=[alice]))  # fmt: skip
    usb = tmp_path / "usb"
    usb.mkdir()
    entry = server.entry(v2_request("9" * 30, story="b"), [alice, mallory])
    server.bundle(usb / "2.evb", [entry], recipients=[alice, mallory])
    state = desk_state(Home(triage.home))
    client = desk_client(create_app(state))
    client.get(f"/open?key={state.secret}")
    form = {"csrf": state.csrf, "folder": str(usb), "file": "2.evb"}
    stopped = client.post("/usb/import", data=form)
    page = stopped.get_data(as_text=True)
    assert stopped.status_code == 409 and "STOP" in page and "Mallory" in page
    assert len(json.loads(triage.ok("list", "--json").stdout)) == 1
    accepted = client.post("/usb/import", data={**form, "accept_recipients": "yes"})
    assert accepted.status_code == 200 and "You accepted a change" in accepted.get_data(as_text=True)
    assert len(json.loads(triage.ok("list", "--json").stdout)) == 2
