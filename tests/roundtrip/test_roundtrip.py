"""The whole air-gap round trip, with two caseworkers on two laptops.

requests through the web form -> `intake export` -> `triage import` -> `triage list --json` (priority
order) -> `triage ack` -> `intake apply-ack` -> the server forgets, receipts say "collected", the next
export is empty. Forged, tampered, foreign and replayed acknowledgements delete nothing; a partial
acknowledgement leaves the rest to be exported again.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from tests.realparts import need_module

need_module("flask")

from click.testing import CliRunner

import crypto
from intake.app import create_app
from intake.cli import main as intake_main
from intake.config import IntakeConfig
from tests.intake.helpers import check_status, receipt_of, submit
from tests.triage.helpers import PASSPHRASE, Triage
from triage.app import TriageConfig

LAPTOP = TriageConfig(kdf=crypto.KDF_FOR_TESTS_ONLY, today=datetime.date.today)
NONE = {"threat_from": None, "detention": None, "location": None, "children": None, "documents": None, "health": None}
# Five requests and the order the shipped policy must put them in.
REQUESTS: dict[str, dict[str, Any]] = {
    "R1 calm, abroad": {**NONE, "danger": "not_immediate", "location": "outside_russia", "people": "1"},
    "R2 danger now": {**NONE, "danger": "immediate", "threat_from": ["authorities"], "people": "1"},
    "R3 family threats": {**NONE, "danger": "serious", "threat_from": ["family"], "people": "3", "children": "2"},
    "R4 held last month": {**NONE, "danger": "serious", "detention": "recent", "people": "1"},
    "R5 papers taken": {**NONE, "danger": "serious", "documents": ["confiscated"], "people": "1"},
}
EXPECTED_ORDER = ["R2 danger now", "R4 held last month", "R3 family threats", "R5 papers taken", "R1 calm, abroad"]


class Operator:
    """The server side: `intake` commands through click's CliRunner, the form through Flask's test client."""

    def __init__(self, instance: Path) -> None:
        self.instance = instance
        self.config = IntakeConfig(instance_dir=instance, default_locale="en")

    def intake(self, *args: str | Path, ok: bool = True) -> str:
        result = CliRunner().invoke(intake_main, ["--instance", str(self.instance), *map(str, args)])
        assert (result.exit_code == 0) == ok, result.output
        assert "Traceback" not in result.output
        return result.output

    def export(self, out: Path) -> Path:
        self.intake("export", "--out", out)
        return out

    def apply(self, ack: Path, ok: bool = True) -> str:
        return self.intake("apply-ack", ack, ok=ok)


def collected(client: Any, receipt: str) -> bool:
    return check_status(client, receipt).startswith("Collected")


def laptop(tmp_path: Path, name: str) -> Triage:
    passphrase = tmp_path / f"{name}-passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    return Triage(tmp_path / f"{name}-laptop", passphrase, LAPTOP)


def test_round_trip_two_caseworkers(tmp_path: Path) -> None:
    # Given a server with two registered caseworkers, each on their own laptop
    operator = Operator(tmp_path / "instance")
    init = operator.intake("init")
    alice, bob = laptop(tmp_path, "alice"), laptop(tmp_path, "bob")
    alice.keygen("Alice")
    bob.keygen("Bob")
    operator.intake("recipients", "add", alice.home / "Alice.pub")
    operator.intake("recipients", "add", bob.home / "Bob.pub")
    app = create_app(operator.config)
    client = app.test_client()
    storage = app.extensions["intake"].storage

    # When three people ask for help, and Bob collects them
    receipts: dict[str, str] = {}
    for story in list(REQUESTS)[:3]:
        receipts[story] = receipt_of(submit(client, story=story, **REQUESTS[story]))
    first = operator.export(tmp_path / "1.bundle")
    # The first import needs the fingerprint the operator reads from `intake init` (no trust by default)
    assert "first import" in bob.run("import", first, compare=False).output.lower()
    fingerprint = init.split()[-1]
    imported = bob.ok("import", "--fingerprint", fingerprint, first).output
    assert "new 3" in imported
    pinned_line = next(line for line in imported.splitlines() if "Pinned" in line)
    assert pinned_line.split()[-1] in init  # the fingerprint `intake init` printed is the one pinned

    # And two more arrive; Alice collects everything and sees them in priority order
    for story in list(REQUESTS)[3:]:
        receipts[story] = receipt_of(submit(client, story=story, **REQUESTS[story]))
    second = operator.export(tmp_path / "2.bundle")
    assert "new 5" in alice.ok("import", "--fingerprint", fingerprint, second).output
    queue = json.loads(alice.ok("list", "--json").stdout)
    assert [case["request"]["story"] for case in queue] == EXPECTED_ORDER
    # R5 said "serious threats": their own answer makes it urgent (docs/POLICY.md, "the person's own answer")
    assert [case["level"] for case in queue] == ["emergency", "emergency", "urgent", "urgent", "normal"]
    assert all(case["reasons"] for case in queue[:4])
    for story in REQUESTS:
        assert not collected(client, receipts[story])

    # Forged, tampered and foreign acknowledgements delete nothing
    stranger = crypto.Identity.generate("Mallory")
    forged = crypto.make_ack(
        [crypto.AckEntry(bytes.fromhex(c["id"]), b"\0" * 32) for c in queue], identity=stranger,
        server=_pinned(alice), bundle_sequence=2,
        created_on=datetime.date.today(),
    )  # fmt: skip
    (tmp_path / "forged.ack").write_bytes(forged)
    assert "not a registered caseworker" in operator.apply(tmp_path / "forged.ack", ok=False)
    alice.ok("ack", "--out", tmp_path / "alice.ack")
    tampered = bytearray((tmp_path / "alice.ack").read_bytes())
    tampered[80] ^= 1
    (tmp_path / "tampered.ack").write_bytes(bytes(tampered))
    assert "nothing was deleted" in operator.apply(tmp_path / "tampered.ack", ok=False)
    foreign = crypto.make_ack(
        [crypto.AckEntry(bytes.fromhex(c["id"]), b"\0" * 32) for c in queue],
        identity=alice.identity("Alice"), server=crypto.ServerKey.generate().public, bundle_sequence=2,
        created_on=datetime.date.today(),
    )  # fmt: skip
    (tmp_path / "foreign.ack").write_bytes(foreign)
    assert "another server" in operator.apply(tmp_path / "foreign.ack", ok=False)
    assert storage.pending_count() == 5

    # A partial acknowledgement (Bob holds only the first three) deletes exactly those
    bob.ok("ack", "--out", tmp_path / "bob.ack")
    assert "deleted 3 envelope(s)" in operator.apply(tmp_path / "bob.ack")
    assert storage.pending_count() == 2
    assert [collected(client, receipts[s]) for s in REQUESTS] == [True] * 3 + [False] * 2
    # Replaying it deletes nothing more
    assert "applied before" in operator.apply(tmp_path / "bob.ack", ok=False)
    assert storage.pending_count() == 2
    # And the next export still carries the other two
    third = operator.export(tmp_path / "3.bundle")
    summary = json.loads(bob.ok("import", third, "--json").stdout)
    assert (summary["new"], summary["gaps"]) == (2, 0)
    summary = json.loads(alice.ok("import", third, "--json").stdout)
    assert (summary["new"], summary["duplicate"]) == (0, 2)

    # Alice acknowledges everything she holds: the server forgets the rest
    alice.ok("ack", "--out", tmp_path / "alice-2.ack")
    applied = operator.apply(tmp_path / "alice-2.ack")
    assert "deleted 2 envelope(s)" in applied
    assert storage.pending_count() == 0
    assert all(collected(client, receipts[s]) for s in REQUESTS)
    empty = operator.export(tmp_path / "4.bundle")
    assert "Exported 0 envelope(s)" in operator.intake("export", "--out", tmp_path / "5.bundle")
    summary = json.loads(alice.ok("import", empty, "--json").stdout)
    assert (summary["entries"], summary["new"], summary["gaps"]) == (0, 0, 0)
    # An old bundle replayed to a laptop is refused
    assert "older than" in alice.run("import", second).output
    # The caseworkers still hold and can read every case
    assert len(json.loads(alice.ok("list", "--json").stdout)) == 5
    storage.dispose()


def _pinned(triage: Triage) -> crypto.ServerPublicKey:
    from triage.store import CaseStore

    store = CaseStore(triage.home / "cases.sqlite3")
    try:
        store.unlock(triage.identity(next(p.stem for p in triage.home.glob("*.key"))))
        server = store.pinned_server()
    finally:
        store.close()
    assert server is not None
    return server
