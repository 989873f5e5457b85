"""Issue 9, triage side: notes never through argv, inert JSON, no core dumps, a store whose trust is sealed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from tests.triage.helpers import PASSPHRASE, Server, Triage, assert_one_sentence, make_request
from triage import freetext
from triage.errors import TriageError
from triage.text import escape_disguising as _escape_disguising


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Triage, Server, crypto.PublicIdentity]:
    passphrase = tmp_path / "pass"
    passphrase.write_text(PASSPHRASE + "\n")
    triage = Triage(tmp_path / "home", passphrase)
    alice = triage.keygen("Alice")
    server = Server()
    entries = [server.entry(make_request(story=f"story {n}"), [alice]) for n in range(3)]
    bundle = server.bundle(tmp_path / "1.bundle", entries)
    triage.ok("import", "--fingerprint", server.key.public.fingerprint, bundle)
    return triage, server, alice


def test_a_note_given_on_the_command_line_is_refused(loaded: tuple[Triage, Server, crypto.PublicIdentity]) -> None:
    triage, _, _ = loaded
    case = json.loads(triage.ok("list", "--json").stdout)[0]["short_id"]
    # Given a note typed as an argument (shell history would keep it): click refuses the extra argument
    result = triage.run("set", case, "--note", "meet at the station, +7 900 123")
    assert result.exit_code != 0
    assert "meet at the station" not in json.dumps(json.loads(triage.ok("list", "--json").stdout))
    # And the same note from standard input is kept
    triage.ok("set", case, "--note", input="meet at the station, +7 900 123\n")
    assert "meet at the station" in triage.ok("show", case).output


def test_free_text_limits(tmp_path: Path) -> None:
    import io

    with pytest.raises(TriageError, match="empty"):
        freetext.read_text("note", limit=10, stdin=io.StringIO("  \n"))
    with pytest.raises(TriageError, match="at most 10"):
        freetext.read_text("note", limit=10, stdin=io.StringIO("x" * 11))
    assert freetext.read_text("note", limit=10, stdin=io.StringIO(" hello \n")) == "hello"


@given(st.text())
def test_json_output_escapes_every_disguising_character_and_keeps_the_value(text: str) -> None:
    encoded = json.dumps({"story": text}, ensure_ascii=False)
    escaped = _escape_disguising(encoded)
    assert json.loads(escaped) == {"story": text}
    for ch in escaped:
        assert ch in "\n\t" or unicodedata.category(ch) not in ("Cf", "Cc", "Co", "Zl", "Zp")


def test_list_json_prints_no_raw_bidi_controls(tmp_path: Path) -> None:
    passphrase = tmp_path / "pass"
    passphrase.write_text(PASSPHRASE + "\n")
    triage = Triage(tmp_path / "home", passphrase)
    alice = triage.keygen("Alice")
    server = Server()
    sneaky = "pay \u202eevil\u202c now\u2028next\u2029end \u2066x\u2069"
    bundle = server.bundle(tmp_path / "b", [server.entry(make_request(story=sneaky, alias="\u202eA"), [alice])])
    triage.ok("import", "--fingerprint", server.key.public.fingerprint, bundle)
    out = triage.ok("list", "--json").stdout
    for ch in "\u202e\u202c\u2028\u2029\u2066\u2069":
        assert ch not in out
    assert json.loads(out)[0]["request"]["story"] == sneaky


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_triage_makes_its_process_not_dumpable() -> None:
    code = ("from triage.hardening import no_core_dumps, is_dumpable\n"
            "import resource\nassert is_dumpable()\nno_core_dumps()\nassert not is_dumpable()\n"
            "assert resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)\nprint('ok')")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok"


# --- the store's trust state (item 7) ---------------------------------------------------------------------


def _db(triage: Triage) -> sqlite3.Connection:
    return sqlite3.connect(triage.home / "cases.sqlite3", isolation_level=None)


@pytest.mark.parametrize("edit", [
    "DELETE FROM meta WHERE name = 'trust'",
    "DELETE FROM meta",
    "DELETE FROM envelopes WHERE rowid = (SELECT min(rowid) FROM envelopes)",
    "UPDATE envelopes SET digest = zeroblob(32) WHERE rowid = (SELECT min(rowid) FROM envelopes)",
    "INSERT INTO envelopes SELECT randomblob(16), 99, imported_on, bundle_sequence, randomblob(32), envelope "
    "FROM envelopes LIMIT 1",
    "DELETE FROM records WHERE rowid = (SELECT min(rowid) FROM records)",
    "UPDATE meta SET sealed = zeroblob(100) WHERE name = 'trust'",
])  # fmt: skip
def test_editing_the_store_without_the_key_is_caught(
    loaded: tuple[Triage, Server, crypto.PublicIdentity], edit: str, tmp_path: Path
) -> None:
    triage, _server, alice = loaded
    # Given a store edited with plain SQL (no key needed for that)
    with _db(triage) as db:
        db.execute(edit)
    # Then every command that reads it stops with one clear sentence, and nothing is imported or acknowledged
    assert_one_sentence(triage.run("list"), "changed without your key")
    assert_one_sentence(triage.run("ack", "--out", tmp_path / "ack.bin"), "changed without your key")
    assert not (tmp_path / "ack.bin").exists()
    foreign = Server()
    bundle = foreign.bundle(tmp_path / "foreign.bundle", [foreign.entry(make_request(), [alice])])
    assert_one_sentence(triage.run("import", bundle), "changed without your key")


def test_deleting_the_pin_no_longer_lets_a_foreign_server_in(
    loaded: tuple[Triage, Server, crypto.PublicIdentity], tmp_path: Path
) -> None:
    triage, _, alice = loaded
    with _db(triage) as db:
        db.execute("DELETE FROM meta")
        db.execute("DELETE FROM envelopes")
        db.execute("DELETE FROM records")
        db.execute("DELETE FROM requests")
        db.execute("DELETE FROM listing")
    # Even an emptied store is not taken as new by a bundle from another server without the fingerprint check
    foreign = Server()
    bundle = foreign.bundle(tmp_path / "foreign.bundle", [foreign.entry(make_request(), [alice])])
    result = triage.run("import", bundle, compare=False)
    assert result.exit_code != 0 and "fingerprint" in result.output.lower()


def test_the_fast_path_never_skips_a_disguising_character() -> None:
    # escape_disguising() returns printable text untouched: that is only right if no character it must
    # escape is printable. Checked over every code point.
    from triage.text import _disguising_pattern

    pattern = _disguising_pattern()
    printable_but_disguising = [c for c in range(0x110000) if pattern.match(chr(c)) and chr(c).isprintable()]
    assert printable_but_disguising == []
