"""Invariant 20, triage side: a new questionnaire version stops the import until a caseworker accepts it.

Bundles carry the canonical bytes of every questionnaire version the server served; triage reads them
strictly, stores them sealed, and stops (nothing imported) on a version that is neither built in nor
accepted, showing what changed, loudest where the server now asks something new.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from crypto.questionnaire import builtin_questionnaire
from tests.realparts import need_module
from tests.triage.helpers import Server, Triage, assert_one_sentence, make_request
from tests.triage.questionnaire_helpers import carrying, changed_questionnaire
from triage import questionnaire_changes, questionnaires
from triage.errors import TriageError
from triage.home import Home
from triage.i18n import translator
from triage.store import CaseStore
from triage.trust import StoreTamperedError


def case_count(triage: Triage) -> int:
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM envelopes").fetchone()[0])


@pytest.fixture
def alice(triage: Triage) -> crypto.PublicIdentity:
    return triage.keygen("Alice")


def _bundle(server: Server, tmp_path: Path, name: str, alice: crypto.PublicIdentity, carried: list[bytes],
            monkeypatch: pytest.MonkeyPatch, n: int = 1) -> Path:  # fmt: skip
    entries = [server.entry(make_request(story=f"{name} {i}"), [alice]) for i in range(n)]
    return carrying(server, tmp_path / name, entries, [alice], carried, monkeypatch)


def test_the_built_in_questionnaire_is_accepted_without_asking(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = [builtin_questionnaire(name).canonical for name in ("evacuation-request", "relocation-lgbtqi")]
    triage.ok("import", _bundle(server, tmp_path, "1", alice, shipped, monkeypatch, n=2))
    assert case_count(triage) == 2
    listed = triage.ok("questionnaire", "list").output
    assert "evacuation-request" in listed and "built in" in listed and "WAITING" not in listed


def test_a_new_version_stops_the_import_until_a_caseworker_accepts_it(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a home that imported one case asked with the shipped questionnaire
    shipped = builtin_questionnaire().canonical
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [shipped], monkeypatch))
    changed = changed_questionnaire()
    second = _bundle(server, tmp_path, "2", alice, [shipped, changed.canonical], monkeypatch, n=3)
    # When a bundle carries a version that asks for a home address
    stopped = triage.run("import", second)
    # Then nothing is imported, and the stop says, loudly, what is asked now
    assert stopped.exit_code == 1 and "Traceback" not in stopped.output
    assert case_count(triage) == 1
    assert "STOP" in stopped.output and "Nothing was imported" in stopped.output
    assert '!! NEW QUESTION "home_address": Your home address' in stopped.output
    assert '!! QUESTION RE-WORDED "alias"' in stopped.output and "as in your passport" in stopped.output
    assert f"triage questionnaire accept {changed.sha256[:16]}" in stopped.output
    # and the version waits, and a second try stops again
    assert "WAITING" in triage.ok("questionnaire", "list").output
    assert triage.run("import", second).exit_code == 1 and case_count(triage) == 1
    shown = triage.ok("questionnaire", "show", changed.sha256[:12]).output
    assert "home_address" in shown
    # When the caseworker accepts it on purpose, the same bundle imports
    accepted = triage.ok("questionnaire", "accept", changed.sha256[:10]).output
    assert "ACCEPTED" in accepted and "home_address" in accepted
    summary = json.loads(triage.ok("import", second, "--json").stdout)
    assert summary["new"] == 3 and case_count(triage) == 4
    listed = triage.ok("questionnaire", "list").output
    assert f"{changed.sha256[:16]}" in listed and "accepted" in listed and "WAITING" not in listed
    assert_one_sentence(triage.run("questionnaire", "accept", changed.sha256[:10]), "accepted already")


def test_the_first_import_stops_too_for_a_questionnaire_that_is_not_built_in(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = changed_questionnaire(version=1)  # same id and version as the shipped one, other questions
    bundle = _bundle(server, tmp_path, "1", alice, [other.canonical], monkeypatch)
    stopped = triage.run("import", bundle)
    assert stopped.exit_code == 1 and case_count(triage) == 0
    assert "THE VERSION NUMBER DID NOT CHANGE (1)" in stopped.output
    assert triage.run("questionnaire", "accept", other.sha256[:8]).exit_code == 0
    triage.ok("import", bundle)
    assert case_count(triage) == 1


def test_the_stop_speaks_russian(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    changed = changed_questionnaire()
    stopped = triage.run("--lang", "ru", "import", _bundle(server, tmp_path, "2", alice, [changed.canonical],
                                                            monkeypatch))  # fmt: skip
    assert stopped.exit_code == 1
    assert "СТОП" in stopped.output and "НОВЫЙ ВОПРОС" in stopped.output and "Ваш домашний адрес" in stopped.output
    assert "Nothing was imported" not in stopped.output
    listed = triage.ok("--lang", "ru", "questionnaire", "list").output
    assert "ЖДЁТ вашего решения" in listed


@pytest.mark.parametrize(
    ("carried", "reason"),
    [
        (b'{"format":1}', "is missing"),  # canonical JSON, not a questionnaire
        (builtin_questionnaire().canonical.replace(b'"version":1', b'"version":0'), "version"),
        (builtin_questionnaire().canonical.replace(b'"format":1', b'"format":null'), "not a questionnaire"),
        (builtin_questionnaire().canonical.replace(b'"kind":"consent"', b'"kind":"signature"'), "unknown kind"),
    ],
)
def test_a_questionnaire_that_cannot_be_read_is_refused_with_a_sentence(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    carried: bytes, reason: str,
) -> None:  # fmt: skip
    result = triage.run("import", _bundle(server, tmp_path, "1", alice, [carried], monkeypatch))
    assert_one_sentence(result, "carries a questionnaire triage cannot read", reason, "Nothing was imported")
    assert case_count(triage) == 0
    assert "WAITING" not in triage.ok("questionnaire", "list").output


@pytest.mark.parametrize(
    "carried",
    [b"{not json", b'{"format": 1}', b"format = 1\n", b"", builtin_questionnaire().canonical[:-1], b"\xff{}"],
)
def test_a_questionnaire_block_that_is_not_canonical_json_refuses_the_whole_bundle(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    carried: bytes,
) -> None:  # fmt: skip
    entries = [server.entry(make_request(), [alice])]
    bundle = carrying(server, tmp_path / "1", entries, [alice], [carried], monkeypatch, unchecked=True)
    result = triage.run("import", bundle)
    assert_one_sentence(result, "not a file triage can read", "questionnaire")
    assert case_count(triage) == 0


def test_accept_names_what_is_wrong_with_the_hash_given(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    assert_one_sentence(triage.run("questionnaire", "accept", "abc"), "at least the first 8 characters")
    assert_one_sentence(triage.run("questionnaire", "accept", "0" * 12), "No questionnaire version")
    assert_one_sentence(triage.run("questionnaire", "show", "0" * 12), "No questionnaire version")
    shipped = builtin_questionnaire().sha256
    assert_one_sentence(triage.run("questionnaire", "accept", shipped[:8]), "accepted already")
    assert "required" in triage.ok("questionnaire", "show", shipped[:8]).output


def _store(triage: Triage) -> CaseStore:
    store = CaseStore(Home(triage.home).store_path)
    store.unlock(triage.identity("Alice"))
    return store


def test_a_stored_version_edited_without_the_key_is_tampering(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = changed_questionnaire()
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    assert triage.run("import", _bundle(server, tmp_path, "2", alice, [changed.canonical], monkeypatch)).exit_code
    other = changed_questionnaire(version=3)
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:  # a sealed row moved under another hash
        db.execute("UPDATE questionnaires SET sha256 = ?", (other.sha256,))
    assert_one_sentence(triage.run("questionnaire", "list"), "changed without your key")
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:
        db.execute("UPDATE questionnaires SET sha256 = ?", (changed.sha256,))
    triage.ok("questionnaire", "accept", changed.sha256[:8])
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:  # an accepted version deleted
        db.execute("DELETE FROM questionnaires")
    assert_one_sentence(triage.run("questionnaire", "list"), "changed without your key")


def test_known_questionnaire_answers_only_for_accepted_versions(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped, changed = builtin_questionnaire(), changed_questionnaire()
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    triage.run("import", _bundle(server, tmp_path, "2", alice, [changed.canonical], monkeypatch))
    store = _store(triage)
    try:
        assert questionnaires.known_questionnaire(store, shipped.id, 1, shipped.sha256) == shipped
        assert questionnaires.known_questionnaire(store, shipped.id, 2, shipped.sha256) is None
        assert questionnaires.known_questionnaire(store, "other", 1, shipped.sha256) is None
        assert questionnaires.known_questionnaire(store, changed.id, 2, changed.sha256) is None  # waiting
        before = questionnaires.lookup_for(store)
        questionnaires.accept(store, changed.sha256)
        assert questionnaires.known_questionnaire(store, changed.id, 2, changed.sha256) == changed
        assert before(changed.id, 2, changed.sha256) is None  # a snapshot: taken before the acceptance
        after = questionnaires.lookup_for(store)
        assert after(changed.id, 2, changed.sha256) == changed and after(shipped.id, 1, shipped.sha256) == shipped
        assert after(changed.id, 1, changed.sha256) is None and after(changed.id, 2, None) is None  # type: ignore[arg-type]
        assert questionnaires.known_questionnaire(store, changed.id, 2, None) is None  # type: ignore[arg-type]
    finally:
        store.close()


def test_a_request_is_checked_against_the_questionnaire_it_names() -> None:
    shipped, changed = builtin_questionnaire(), changed_questionnaire()
    known = {shipped.sha256: shipped}
    named: dict[str, Any] = {"schema": 3, "questionnaire": {"id": shipped.id, "version": 1, "sha256": shipped.sha256}}
    assert questionnaires.names_known(named, known)
    assert questionnaires.names_known({"schema": 2}, known) and questionnaires.names_known({"schema": 1}, known)
    assert not questionnaires.names_known({"schema": 3}, known)
    assert not questionnaires.names_known({**named, "questionnaire": {**named["questionnaire"], "version": 2}}, known)
    assert not questionnaires.names_known({**named, "questionnaire": {**named["questionnaire"], "id": "x"}}, known)
    assert not questionnaires.names_known({**named, "questionnaire": {"id": changed.id, "version": 2,
                                                                      "sha256": changed.sha256}}, known)  # fmt: skip
    assert not questionnaires.names_known({**named, "questionnaire": "evacuation-request"}, known)


def test_what_changed_names_every_kind_of_change() -> None:
    shipped = builtin_questionnaire()
    text = shipped.canonical.decode()
    data = json.loads(text)
    fields = {f["id"]: f for f in data["field"]}
    fields["people"]["max"] = 50
    fields["health"]["required"] = True
    fields["location"]["choices"].append({"id": "abroad", "label": {"en": "Abroad", "ru": "За границей"}})
    fields["documents"]["choices"] = [c for c in fields["documents"]["choices"] if c["id"] != "none"]
    fields["threat_from"]["choices"][0]["label"]["en"] = "The state"
    fields["detention"]["kind"] = "short_text"
    del fields["detention"]["choices"]
    fields["detention"]["max_chars"] = 100
    data["field"] = [f for f in data["field"] if f["id"] != "children"]
    data["version"] = 2
    data["urgent"] = [u for u in data["urgent"] if u != "safe_times"] + ["health"]  # required: on the short path
    data["caseworker_first"] = [u for u in data["caseworker_first"] if u != "children"]
    from crypto.questionnaire_canonical import load_canonical

    new = load_canonical(crypto.questionnaire.canonical_form(data))
    version = questionnaire_changes.compare(shipped, new)
    kinds = {(c.what, c.field) for c in version.changes}
    assert {("bounds", "people"), ("required", "health"), ("choice_added", "location"),
            ("choice_removed", "documents"), ("choice_reworded", "threat_from"), ("kind", "detention"),
            ("removed", "children"), ("urgent", "")} <= kinds  # fmt: skip
    loud = {c.field for c in version.changes if c.loud}
    assert loud == {"detention"}  # a field that changed kind asks something else; the others do not
    for lang in ("en", "ru"):
        lines = questionnaire_changes.change_lines(version, translator(lang))
        assert len(lines) == len(version.changes) + 1 and all(text.strip() for _loud, text in lines)
    en = "\n".join(text for _loud, text in questionnaire_changes.change_lines(version, translator("en")))
    assert "Abroad" in en and "The state" in en and "1..20 → 1..50" in en


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_desk_stops_the_import_and_accepts_on_purpose(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    lang: str,
) -> None:  # fmt: skip
    need_module("flask")
    from tests.triage.desk_setup import desk_client, desk_state
    from triage.desk import create_app

    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    usb = tmp_path / "usb"
    usb.mkdir()
    changed = changed_questionnaire()
    _bundle(server, usb, "2.evb", alice, [builtin_questionnaire().canonical, changed.canonical], monkeypatch, n=2)
    state = desk_state(Home(triage.home), lang=lang)
    client = desk_client(create_app(state))
    client.get(f"/open?key={state.secret}")
    form = {"csrf": state.csrf, "folder": str(usb), "file": "2.evb"}
    # The import stops, shows the new question loudly, and imports nothing
    stopped = client.post("/usb/import", data=form)
    page = stopped.get_data(as_text=True)
    assert stopped.status_code == 409 and 'id="questionnaire-changed"' in page
    new_question = {"en": "NEW QUESTION", "ru": "НОВЫЙ ВОПРОС"}[lang]
    address = {"en": "Your home address", "ru": "Ваш домашний адрес"}[lang]
    assert re.search(f'<li class="error"><strong>{new_question} [^<]*home_address[^<]*: {address}</strong>', page)
    assert "[en] What should we call you?" in page if lang == "ru" else "What should we call you?" in page
    assert address in page and changed.sha256 in page
    assert case_count(triage) == 1
    # A forged acceptance (a hash that is not waiting) is refused with a sentence, and imports nothing
    forged = client.post("/usb/import", data={**form, "accept_questionnaire": "0" * 64})
    assert forged.status_code == 400 and case_count(triage) == 1
    # The button accepts exactly what was shown, then imports
    accepted = client.post("/usb/import", data={**form, "accept_questionnaire": changed.sha256})
    assert accepted.status_code == 200 and case_count(triage) == 3
    assert "accepted" in triage.ok("questionnaire", "list").output


def test_a_stored_version_is_checked_against_its_hash_even_under_the_store_key(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed, other = changed_questionnaire(), changed_questionnaire(version=3)
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    triage.run("import", _bundle(server, tmp_path, "2", alice, [changed.canonical], monkeypatch))
    store = _store(triage)
    try:  # the other version's bytes, sealed under this version's hash (a bug, or a colleague's broken tool)
        wrong = store.unlocked_key().seal(other.canonical, context=b"questionnaire:" + changed.sha256.encode())
        store.db.execute("UPDATE questionnaires SET sealed = ?", (wrong,))
    finally:
        store.close()
    assert_one_sentence(triage.run("questionnaire", "list"), "changed without your key")


def test_the_terminal_desk_stops_the_import_and_accepts_on_purpose(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_module("textual")
    from textual.widgets import Checkbox, Input

    from tests.triage.test_terminal_desk import run, screen_text

    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    usb = tmp_path / "usb"
    usb.mkdir()
    changed = changed_questionnaire()
    bundle = _bundle(server, usb, "2.bundle", alice, [changed.canonical], monkeypatch, n=2)
    seen: dict[str, object] = {}

    async def body(pilot: Any, desk: Any) -> None:
        await pilot.press("i")
        await pilot.pause()
        desk.screen.query_one("#path", Input).value = str(bundle)
        await pilot.press("ctrl+s")
        await pilot.pause()
        seen["stopped"] = screen_text(desk)
        seen["count"] = desk.session.count_cases()
        await pilot.press("ctrl+s")  # again, without ticking the box: still stopped
        await pilot.pause()
        seen["count_again"] = desk.session.count_cases()
        desk.screen.query_one("#accept-questionnaire", Checkbox).value = True
        await pilot.press("ctrl+s")
        await pilot.pause()
        seen["imported"] = screen_text(desk)
        seen["count_after"] = desk.session.count_cases()

    run(triage.home, "en", body, usb=usb)
    assert "STOP" in str(seen["stopped"]) and "NEW QUESTION" in str(seen["stopped"])
    assert seen["count"] == seen["count_again"] == 1
    assert "new 2" in str(seen["imported"]) and seen["count_after"] == 3


def test_a_recipient_change_and_a_new_questionnaire_each_stop_until_each_is_accepted(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    mallory = crypto.Identity.generate("Mallory").public
    changed = changed_questionnaire()
    entries = [server.entry(make_request(story="two"), [alice, mallory])]
    bundle = carrying(server, tmp_path / "2", entries, [alice, mallory], [changed.canonical], monkeypatch)
    assert "Added: Mallory" in triage.run("import", bundle).output
    # Accepting the recipients alone is not enough: the questionnaire stops it next, and nothing is kept
    stopped = triage.run("import", "--accept-recipients", bundle)
    assert stopped.exit_code == 1 and "NEW QUESTION" in stopped.output and case_count(triage) == 1
    assert "Added: Mallory" in triage.run("import", bundle).output  # the recipient acceptance was rolled back too
    triage.ok("questionnaire", "accept", changed.sha256[:8])
    triage.ok("import", "--accept-recipients", bundle)
    assert case_count(triage) == 2


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.one_of(st.text(max_size=80), st.integers(0, 64).map(lambda n: changed_questionnaire().sha256[:n]),
                       st.integers(8, 64).map(lambda n: " " + changed_questionnaire().sha256[:n].upper() + "\n")))
def test_a_typed_hash_finds_exactly_the_waiting_version_it_begins_or_a_sentence(
    waiting_store: CaseStore, typed: str
) -> None:  # fmt: skip
    wanted = changed_questionnaire().sha256
    plain = "".join(typed.split()).lower()
    try:
        found = questionnaires.find_waiting(waiting_store, typed)
    except TriageError as refusal:
        assert str(refusal) and not (len(plain) >= 8 and wanted.startswith(plain))
    else:
        assert found.sha256 == wanted and len(plain) >= 8 and wanted.startswith(plain)
    with pytest.raises(TriageError):  # the desk's button takes only the exact hashes its stop page showed
        if typed != wanted:
            questionnaires.accept_on_desk(waiting_store, [typed])
        else:
            raise TriageError("the exact hash")
    assert not questionnaires.is_accepted(waiting_store, wanted)


@pytest.fixture
def waiting_store(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CaseStore]:
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    triage.run("import", _bundle(server, tmp_path, "2", alice, [changed_questionnaire().canonical], monkeypatch))
    store = _store(triage)
    yield store
    store.close()


def test_two_new_questionnaires_at_once_are_both_shown_and_accepted_together(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    changed, other = changed_questionnaire(), changed_questionnaire(version=5, home_address=False)
    bundle = _bundle(server, tmp_path, "2", alice, [changed.canonical, other.canonical], monkeypatch)
    stopped = triage.run("import", bundle)
    assert stopped.exit_code == 1 and "version 2" in stopped.output and "version 5" in stopped.output
    command = next(line for line in stopped.output.splitlines() if "triage questionnaire accept" in line)
    hashes = command.split("triage questionnaire accept ", 1)[1].split("`", 1)[0].split()
    assert sorted(hashes) == sorted([changed.sha256[:16], other.sha256[:16]])
    assert_one_sentence(triage.run("questionnaire", "accept", hashes[0], "0" * 12), "No questionnaire version")
    assert triage.run("import", bundle).exit_code == 1  # nothing was accepted by the refused command
    triage.ok("questionnaire", "accept", *hashes)
    triage.ok("import", bundle)
    assert case_count(triage) == 2


def test_known_questionnaire_never_uses_the_store_s_own_connection(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = changed_questionnaire()
    triage.ok("import", _bundle(server, tmp_path, "1", alice, [], monkeypatch))
    triage.run("import", _bundle(server, tmp_path, "2", alice, [changed.canonical], monkeypatch))
    triage.ok("questionnaire", "accept", changed.sha256[:8])
    store = _store(triage)
    store.db.close()  # as in a list worker after a fork: that connection must not be used
    assert questionnaires.known_questionnaire(store, changed.id, 2, changed.sha256) == changed
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:
        db.execute("DELETE FROM questionnaires")
    fresh = _store(triage)
    try:
        with pytest.raises(StoreTamperedError):
            questionnaires.known_questionnaire(fresh, changed.id, 2, changed.sha256)
    finally:
        fresh.close()
