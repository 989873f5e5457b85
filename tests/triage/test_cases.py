"""list, show, set and ack as a caseworker uses them."""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path
from typing import Any

import pytest

import crypto
from tests.triage.helpers import TODAY, Server, Triage, assert_one_sentence, make_request


@pytest.fixture
def loaded(triage: Triage, server: Server, tmp_path: Path) -> tuple[Triage, list[crypto.BundleEntry]]:
    alice = triage.keygen("Alice")
    requests = [
        make_request(story="calm", location="outside_russia"),
        make_request(danger="immediate", story="now", threat_from=["authorities"]),
        make_request(danger="serious", threat_from=["family"], story="family", people=3, children=2),
        make_request(detention="recent", story="held", submitted_on=TODAY - datetime.timedelta(days=3)),
        make_request(story='=HYPERLINK("http://x")', contact="+7 900", alias="[bold red]boss[/bold red]\u202etxt"),
    ]
    entries = [server.entry(r, [alice]) for r in requests]
    triage.ok("import", server.bundle(tmp_path / "b", entries))
    return triage, entries


def listed(triage: Triage, *args: str) -> list[dict[str, Any]]:
    result = triage.ok("list", "--json", *args)
    value = json.loads(result.stdout)
    assert isinstance(value, list)
    return value


def test_list_json_is_in_priority_order_with_reasons_and_request(
    loaded: tuple[Triage, list[crypto.BundleEntry]],
) -> None:
    triage, entries = loaded
    cases = listed(triage)
    stories = [c["request"]["story"] for c in cases]
    # Both emergencies first (score: danger now 100+40 > recent detention 80+3 days), then urgent family, then normal
    assert stories[:3] == ["now", "held", "family"]
    assert cases[0]["level"] == "emergency" and cases[2]["level"] == "urgent" and cases[3]["level"] == "normal"
    for case in cases:
        assert set(case) >= {"id", "level", "score", "status", "reasons", "days_waiting", "request"}
        assert case["status"] == "new"
        assert all(isinstance(r, str) for r in case["reasons"])
    held = next(c for c in cases if c["request"]["story"] == "held")
    assert held["days_waiting"] == 3
    assert any("Detained" in r for r in held["reasons"])
    assert {c["id"] for c in cases} == {e.entry_id.hex() for e in entries}


def test_reopen_gives_the_same_answer_as_the_cache(loaded: tuple[Triage, list[crypto.BundleEntry]]) -> None:
    triage, _ = loaded
    assert listed(triage) == listed(triage, "--reopen") == listed(triage, "--jobs", "1")


def test_set_status_and_note_then_filter_and_show(loaded: tuple[Triage, list[crypto.BundleEntry]]) -> None:
    triage, entries = loaded
    short = entries[1].entry_id.hex()[:8]
    triage.ok("set", short, "--status", "contacted", "--note", input="Reached on Signal, moving Friday")
    contacted = listed(triage, "--status", "contacted")
    assert [c["id"] for c in contacted] == [entries[1].entry_id.hex()]
    assert len(listed(triage, "--status", "new")) == 4
    shown = triage.ok("show", short[:5]).output
    assert "Reached on Signal, moving Friday" in shown
    assert "contacted" in shown and "Danger to life now" in shown and "now" in shown


def test_set_rejects_unknown_status_and_unknown_or_ambiguous_id(
    loaded: tuple[Triage, list[crypto.BundleEntry]],
) -> None:
    triage, _ = loaded
    assert triage.run("set", "abc", "--status", "done").exit_code != 0
    assert_one_sentence(triage.run("set", "ffffffffffffffff", "--status", "closed"), "no case")
    assert_one_sentence(triage.run("show", ""), "no case")
    assert_one_sentence(triage.run("show", "zz"), "no case")


def test_request_text_is_not_terminal_markup(loaded: tuple[Triage, list[crypto.BundleEntry]]) -> None:
    triage, entries = loaded
    shown = triage.ok("show", entries[4].entry_id.hex()).output
    assert "[bold red]boss[/bold red]" in shown  # printed as text, not interpreted
    assert "\u202e" not in shown and "<U+202E>" in shown  # a bidi override is made visible


def test_csv_defuses_formulas(loaded: tuple[Triage, list[crypto.BundleEntry]]) -> None:
    triage, _ = loaded
    rows = list(csv.DictReader(io.StringIO(triage.ok("list", "--csv").output)))
    assert len(rows) == 5
    hostile = next(r for r in rows if "HYPERLINK" in r["story"])
    assert hostile["story"].startswith("'=")
    assert hostile["contact"] == "'+7 900"
    assert rows[0]["level"] == "emergency"


def test_table_is_the_default(loaded: tuple[Triage, list[crypto.BundleEntry]]) -> None:
    triage, entries = loaded
    output = triage.ok("list").output
    assert "emergency" in output and entries[1].entry_id.hex()[:8] in output
    assert output.splitlines()[0] == "5 cases: emergency 2, urgent 1, normal 2"


def test_ack_covers_every_imported_envelope(
    loaded: tuple[Triage, list[crypto.BundleEntry]], server: Server, tmp_path: Path
) -> None:
    triage, entries = loaded
    result = triage.ok("ack", "--out", tmp_path / "ack")
    assert "acknowledges 5 envelopes" in result.output and "intake apply-ack" in result.output
    alice = crypto.PublicIdentity.from_text((triage.home / "Alice.pub").read_text())
    ack = crypto.read_ack((tmp_path / "ack").read_bytes(), server=server.key.public, caseworkers=[alice])
    assert {(e.entry_id, e.digest) for e in ack.entries} == {
        (e.entry_id, crypto.envelope_digest(e.envelope)) for e in entries
    }
    assert ack.bundle_sequence == server.sequence
    with pytest.raises(crypto.WrongServerError):
        crypto.read_ack((tmp_path / "ack").read_bytes(), server=crypto.ServerKey.generate().public, caseworkers=[alice])


def test_ack_before_any_import_says_so(triage: Triage, tmp_path: Path) -> None:
    triage.keygen("Alice")
    assert_one_sentence(triage.run("ack", "--out", tmp_path / "ack"), "nothing has been imported")
    assert not (tmp_path / "ack").exists()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("format = 1\n[[rule]]\nreason = 'x'\nwhen = { danger = 'soon' }\n", "'soon' is not a choice"),
        ("format = 1\n[[rule]]\nreason = 'x'\nwhen = { dangr = 'immediate' }\n", "unknown field"),
        ("format = 1\n[[rule\n", "not valid toml"),
        ("format = 2\n[[rule]]\nreason = 'x'\nwhen = { danger = 'immediate' }\n", "policy format 1"),
        ("format = 1\n[[rule]]\nreason = 'x'\nwhen = { danger = 'immediate' }\nlevel = 'high'\n", "emergency, urgent"),
    ],
)
def test_bad_policy_file_is_one_clear_message(
    loaded: tuple[Triage, list[crypto.BundleEntry]], tmp_path: Path, text: str, fragment: str
) -> None:
    triage, _ = loaded
    policy = tmp_path / "policy.toml"
    policy.write_text(text)
    result = triage.run("list", "--policy", policy)
    assert_one_sentence(result, fragment, str(policy))
    assert_one_sentence(triage.run("list", "--policy", tmp_path / "missing.toml"), "cannot read")


def test_custom_policy_changes_the_order(loaded: tuple[Triage, list[crypto.BundleEntry]], tmp_path: Path) -> None:
    triage, _ = loaded
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "format = 1\n[[rule]]\nreason = 'Abroad'\nwhen = { location = 'outside_russia' }\nlevel = 'emergency'\n"
    )
    first = listed(triage, "--policy", str(policy))[0]
    assert first["request"]["story"] == "calm" and first["reasons"] == ["Abroad (+0)"]


def test_limit_and_table_default(loaded: tuple[Triage, list[crypto.BundleEntry]]) -> None:
    triage, _ = loaded
    assert len(listed(triage, "--limit", "2")) == 2
    assert listed(triage, "--limit", "2") == listed(triage)[:2]
    result = triage.ok("list", "--limit", "1")
    assert "Showing the first 1; --limit N or --all for more." in result.stdout
    assert len(result.stdout.strip().splitlines()) == 3  # the count, the header, one case
