"""Importing bundles: pinning, replay, tampering, foreign envelopes, gaps, all-or-nothing, no plaintext."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

import pytest

import crypto
from tests.triage.helpers import Server, Triage, assert_one_sentence, make_request


def case_count(triage: Triage) -> int:
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM envelopes").fetchone()[0])


@pytest.fixture
def alice(triage: Triage) -> crypto.PublicIdentity:
    return triage.keygen("Alice")


def test_first_import_pins_server_and_stores_envelopes_unchanged(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path
) -> None:
    entries = [server.entry(make_request(), [alice]) for _ in range(3)]
    result = triage.ok("import", server.bundle(tmp_path / "b", entries))
    assert server.key.public.fingerprint in result.output
    assert "new 3, duplicate 0, rejected 0" in result.output
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:
        stored = dict(db.execute("SELECT entry_id, envelope FROM envelopes"))
    assert stored == {e.entry_id: e.envelope for e in entries}


def test_same_bundle_twice_is_a_no_op(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path
) -> None:
    bundle = server.bundle(tmp_path / "b", [server.entry(make_request(), [alice]) for _ in range(2)])
    triage.ok("import", bundle)
    before = (triage.home / "cases.sqlite3").stat().st_size, case_count(triage)
    result = triage.ok("import", bundle, "--json")
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["duplicate"], summary["same_bundle_again"]) == (0, 2, True)
    assert case_count(triage) == before[1]


def test_older_bundle_is_refused_as_replay(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path
) -> None:
    old = server.bundle(tmp_path / "old", [server.entry(make_request(), [alice])])
    new = server.bundle(tmp_path / "new", [server.entry(make_request(), [alice])])
    triage.ok("import", new)
    result = triage.run("import", old)
    assert_one_sentence(result, "older than number 2", "nothing was imported")
    assert case_count(triage) == 1


def test_a_different_bundle_with_the_same_number_is_refused(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path
) -> None:
    first = server.bundle(tmp_path / "a", [server.entry(make_request(), [alice])])
    other = server.bundle(tmp_path / "b", [server.entry(make_request(), [alice])], sequence=server.sequence)
    triage.ok("import", first)
    assert_one_sentence(triage.run("import", other), "contents differ")
    assert case_count(triage) == 1


@pytest.mark.parametrize("damage", ["flip-envelope-byte", "flip-signature", "truncate", "truncate-entry", "append"])
def test_tampered_or_truncated_bundle_imports_nothing(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, damage: str
) -> None:
    bundle = server.bundle(tmp_path / "b", [server.entry(make_request(), [alice]) for _ in range(3)])
    data = bytearray(bundle.read_bytes())
    if damage == "flip-envelope-byte":
        data[len(data) // 2] ^= 1
    elif damage == "flip-signature":
        data[-1] ^= 1
    elif damage == "truncate":
        data = data[:-10]
    elif damage == "truncate-entry":
        data = data[: len(data) // 2]
    else:
        data += b"\x00"
    bundle.write_bytes(bytes(data))
    result = triage.run("import", bundle)
    assert_one_sentence(result, "nothing was imported")
    assert case_count(triage) == 0


def test_bundle_changed_after_verification_commits_nothing(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a bundle that is swapped on the USB stick between verification and streaming
    bundle = server.bundle(tmp_path / "b", [server.entry(make_request(), [alice]) for _ in range(3)])
    real_read_bundle = crypto.read_bundle

    def read_then_change(source: Path, **kwargs: object) -> crypto.Bundle:
        verified = real_read_bundle(source, **kwargs)  # type: ignore[arg-type]
        data = bytearray(Path(source).read_bytes())
        data[-200] ^= 1  # inside the last envelope: the first entries stream out fine
        Path(source).write_bytes(bytes(data))
        return verified

    monkeypatch.setattr(crypto, "read_bundle", read_then_change)
    # When it is imported, Then nothing is committed and no server key is pinned
    assert_one_sentence(triage.run("import", bundle), "nothing was imported")
    assert case_count(triage) == 0
    monkeypatch.undo()
    fresh = server.bundle(tmp_path / "c", [server.entry(make_request(), [alice])])
    assert "Pinned the server's signing key" in triage.ok("import", fresh).output


def test_bundle_from_unpinned_server_is_refused_until_pin_server(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path
) -> None:
    triage.ok("import", server.bundle(tmp_path / "a", [server.entry(make_request(), [alice])]))
    impostor = Server(sequence=5, high_water=server.high_water)
    foreign = impostor.bundle(tmp_path / "b", [impostor.entry(make_request(), [alice])])
    assert_one_sentence(triage.run("import", foreign), "not pinned", "pin-server")
    assert case_count(triage) == 1
    # A wrong fingerprint changes nothing
    result = triage.run("pin-server", foreign, "--fingerprint", server.key.public.fingerprint)
    assert_one_sentence(result, "does not match")
    # The right one (as the operator reads it) re-pins, showing old and new
    result = triage.ok("pin-server", foreign, "--fingerprint", impostor.key.public.fingerprint.upper())
    assert server.key.public.fingerprint in result.output
    assert impostor.key.public.fingerprint in result.output
    triage.ok("import", foreign)
    assert case_count(triage) == 2
    # And the old server is now the stranger
    assert_one_sentence(triage.run("import", tmp_path / "a"), "not pinned")


def test_pin_server_without_fingerprint_asks(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path
) -> None:
    triage.ok("import", server.bundle(tmp_path / "a", [server.entry(make_request(), [alice])]))
    other = Server()
    bundle = other.bundle(tmp_path / "b", [other.entry(make_request(), [alice])])
    assert_one_sentence(triage.run("pin-server", bundle, input="n\n"), "not confirmed")
    assert_one_sentence(triage.run("import", bundle), "not pinned")
    triage.ok("pin-server", bundle, input="y\n")
    triage.ok("import", bundle)


def test_envelope_for_someone_else_is_rejected_not_stored_not_acked(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path
) -> None:
    stranger = crypto.Identity.generate("Stranger").public
    mine = server.entry(make_request(), [alice])
    theirs = server.entry(make_request(), [stranger])
    both = server.entry(make_request(), [stranger, alice])
    result = triage.ok("import", server.bundle(tmp_path / "b", [mine, theirs, both]), "--json")
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["rejected"], summary["rejected_not_for_you"]) == (2, 1, 1)
    triage.ok("ack", "--out", tmp_path / "ack")
    ack = crypto.read_ack((tmp_path / "ack").read_bytes(), server=server.key.public, caseworkers=[alice])
    assert {e.entry_id for e in ack.entries} == {mine.entry_id, both.entry_id}


def test_same_id_with_other_bytes_is_rejected_and_the_original_kept(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path
) -> None:
    original = server.entry(make_request(), [alice])
    triage.ok("import", server.bundle(tmp_path / "a", [original]))
    swapped = crypto.BundleEntry(
        original.entry_id, original.serial, crypto.seal_request(make_request(), for_recipients=[alice])
    )
    summary = json.loads(triage.ok("import", server.bundle(tmp_path / "b", [swapped]), "--json").stdout)
    assert summary["rejected_conflict"] == 1
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:
        assert db.execute("SELECT envelope FROM envelopes").fetchone()[0] == original.envelope


def test_gaps_are_reported(triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path) -> None:
    entries = [server.entry(make_request(), [alice]) for _ in range(6)]
    kept = [entries[0], entries[3], entries[5]]  # serials 2, 3 and 5 went to another caseworker
    result = triage.ok("import", server.bundle(tmp_path / "b", kept))
    assert "3 requests the server numbered (serials 2-3, 5)" in result.output
    assert "another caseworker" in result.output
    summary = json.loads(triage.ok("import", server.bundle(tmp_path / "c", [entries[1]]), "--json").stdout)
    assert (summary["gaps"], summary["gap_ranges"]) == (2, [[3, 3], [5, 5]])


def test_store_holds_no_plaintext(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a temp folder of its own ($TMPDIR, searched too: a temp file is a file on the disk)
    temp = tmp_path / "tmpdir"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    # Given requests with unique strings in every text field, imported, listed, annotated
    canary = "CANARY-7f3a9c"
    cyrillic = "Канарейка-уникальная"
    request = make_request(
        story=f"{canary} {cyrillic}", contact=f"@{canary}c", alias=f"{canary}a", health=f"{canary}h",
        safe_times=f"{canary}t",
    )  # fmt: skip
    bundle = server.bundle(tmp_path / "b", [server.entry(request, [alice])])
    triage.ok("import", bundle)
    assert canary in triage.ok("list", "--json").output
    case_id = json.loads(triage.ok("list", "--json").stdout)[0]["short_id"]
    note = "NOTE-CANARY-55e1"
    triage.ok("set", case_id, "--status", "contacted", "--note", input=note)
    triage.ok("show", case_id)
    triage.ok("ack", "--out", triage.home / "ack.bin")
    # Then no byte sequence of them is anywhere in the home folder or the temp folder
    needles = [s.encode(enc) for s in (canary, cyrillic, note) for enc in ("utf-8", "utf-16-le")]
    needles += [b'"status":"contacted"', b"contacted"]
    files = [p for root in (triage.home, temp) for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "cases.sqlite3" for p in files)
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, (path.name, needle)


def test_first_import_can_check_the_fingerprint_the_operator_read(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path
) -> None:
    bundle = server.bundle(tmp_path / "b", [server.entry(make_request(), [alice])])
    other = crypto.ServerKey.generate().public.fingerprint
    assert_one_sentence(triage.run("import", bundle, "--fingerprint", other), "may not come from your server")
    assert case_count(triage) == 0
    assert_one_sentence(triage.run("import", bundle, "--fingerprint", "12ab"), "32 hexadecimal digits")
    fingerprint = server.key.public.fingerprint.replace("-", " ").upper()
    triage.ok("import", bundle, "--fingerprint", fingerprint)
    assert case_count(triage) == 1


def _one_group_wrong(fingerprint: str, group: int) -> str:
    groups = fingerprint.split("-")
    groups[group - 1] = "".join("0" if c != "0" else "1" for c in groups[group - 1])
    return "-".join(groups)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_mistyped_fingerprint_is_refused_without_showing_the_right_one(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, lang: str
) -> None:
    # Given a first import, and a caseworker who mishears group 3 of the fingerprint
    bundle = server.bundle(tmp_path / "b", [server.entry(make_request(), [alice])])
    right = server.key.public.fingerprint
    wrong = _one_group_wrong(right, 3)
    # When it is given with --fingerprint, in either language
    result = triage.run("--lang", lang, "import", bundle, "--fingerprint", wrong)
    # Then nothing is imported, and the refusal says which group differs, never the bundle's fingerprint
    assert_one_sentence(result, "3")
    message = result.output.strip().splitlines()[-1]
    assert right not in result.output and right.split("-")[2] not in result.output
    assert ("группе 3" in message) if lang == "ru" else ("group 3 of 8" in message)
    assert case_count(triage) == 0
    # And a fingerprint of another key altogether is called what it is, in the same words
    other = crypto.ServerKey.generate().public.fingerprint
    result = triage.run("--lang", lang, "import", bundle, "--fingerprint", other)
    assert right not in result.output and all(group not in result.output for group in right.split("-"))
    assert (
        ("не с вашего сервера" in result.output) if lang == "ru" else ("may not come from your server" in result.output)
    )


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_first_import_asks_for_the_fingerprint_before_showing_anything_of_it(
    triage: Triage, alice: crypto.PublicIdentity, server: Server, tmp_path: Path, lang: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import importlib

    monkeypatch.setattr(
        importlib.import_module("triage.cli"), "_typing", lambda: True
    )  # someone at the keyboard (CliRunner has no tty)
    bundle = server.bundle(tmp_path / "b", [server.entry(make_request(), [alice])])
    right = server.key.public.fingerprint
    # When the caseworker types a fingerprint with one wrong group at the prompt
    result = triage.run("--lang", lang, "import", bundle, input=_one_group_wrong(right, 5) + "\n", compare=False)
    # Then the prompt came with no fingerprint above it, and the refusal names only the group
    assert result.exit_code != 0 and "Traceback" not in result.output
    before_the_answer = result.output.split(_one_group_wrong(right, 5))[0]  # CliRunner echoes what was typed
    assert "fingerprint" in before_the_answer.lower() or "отпечат" in before_the_answer.lower()
    assert all(group not in before_the_answer for group in right.split("-"))
    assert right not in result.output and right.split("-")[4] not in result.output
    assert "5" in result.output.strip().splitlines()[-1]
    assert case_count(triage) == 0
    # And typed right, it imports
    result = triage.run("--lang", lang, "import", bundle, input=right.upper().replace("-", " ") + "\n", compare=False)
    assert result.exit_code == 0, result.output
    assert case_count(triage) == 1
