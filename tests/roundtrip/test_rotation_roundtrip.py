"""Issue 20 item 1 and 7: a caseworker key rotated while requests wait, both sides of the air gap.

The documented order (docs/OPERATIONS.md, "Rotate a caseworker key"): the caseworker makes a new key in
the same home and grants it the store; the operator adds it; the old key's last acknowledgement
(`triage ack --as OLD`) collects what only it can read; the operator removes the old key; exports go on,
and every laptop stops once on the changed recipient set.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.realparts import need_module

need_module("flask")

from intake.app import create_app
from tests.intake.helpers import receipt_of, submit
from tests.roundtrip.test_roundtrip import REQUESTS, Operator, laptop


def test_rotating_a_key_with_requests_waiting(tmp_path: Path) -> None:
    # Given Alice and Bob registered, one request sealed to Alice alone and two to both
    operator = Operator(tmp_path / "instance")
    operator.intake("init")
    alice, bob = laptop(tmp_path, "alice"), laptop(tmp_path, "bob")
    alice.keygen("Alice")
    bob.keygen("Bob")
    operator.intake("recipients", "add", alice.home / "Alice.pub")
    app = create_app(operator.config)
    client = app.test_client()
    stories = list(REQUESTS)
    receipt_of(submit(client, story=stories[0], **REQUESTS[stories[0]]))
    operator.intake("recipients", "add", bob.home / "Bob.pub")
    for story in stories[1:3]:
        receipt_of(submit(client, story=story, **REQUESTS[story]))
    alice.ok("import", operator.export(tmp_path / "1.bundle"))
    bob.ok("import", tmp_path / "1.bundle")

    # When Alice makes a new key in her home and grants it her case store, and the operator adds it
    alice.keygen("Alice2027")
    alice.ok("--as", "Alice", "grant", "Alice2027")
    fingerprint_old = alice.identity("Alice").fingerprint
    operator.intake("recipients", "add", alice.home / "Alice2027.pub")
    # Then the old key cannot be removed yet: one waiting request only it can read
    refused = operator.intake("recipients", "remove", fingerprint_old, ok=False)
    assert "1 waiting envelope(s) can be read only by" in refused
    # And the old key's last acknowledgement collects everything sealed to it
    alice.ok("--as", "Alice", "ack", "--out", tmp_path / "alice-old.ack")
    assert "deleted 3 envelope(s)" in operator.apply(tmp_path / "alice-old.ack")
    operator.intake("recipients", "remove", fingerprint_old)

    # When new requests arrive and one sealed before the removal still waits (Bob's and the new key's)
    receipt_of(submit(client, story=stories[3], **REQUESTS[stories[3]]))
    exported = operator.intake("export", "--out", tmp_path / "2.bundle")
    assert "Exported 1 envelope(s)" in exported and "Kept" not in exported
    # Then every laptop stops once, naming who was added and who removed, and goes on once accepted
    stopped = alice.run("--as", "Alice2027", "import", tmp_path / "2.bundle")
    assert stopped.exit_code == 1 and "Removed: Alice (" in stopped.output and "Added: Alice2027" in stopped.output
    alice.ok("--as", "Alice2027", "import", "--accept-recipients", tmp_path / "2.bundle")
    queue = json.loads(alice.ok("--as", "Alice2027", "list", "--json").stdout)
    assert stories[3] in [case["request"]["story"] for case in queue]
    app.extensions["intake"].storage.dispose()


def test_removing_a_key_that_shares_waiting_requests_never_stops_an_export(tmp_path: Path) -> None:
    # Given two requests sealed to Alice and Bob, and Bob removed before anyone collected them
    operator = Operator(tmp_path / "instance")
    operator.intake("init")
    alice, bob = laptop(tmp_path, "alice"), laptop(tmp_path, "bob")
    alice.keygen("Alice")
    bob.keygen("Bob")
    for who in (alice.home / "Alice.pub", bob.home / "Bob.pub"):
        operator.intake("recipients", "add", who)
    app = create_app(operator.config)
    for story in list(REQUESTS)[:2]:
        receipt_of(submit(app.test_client(), story=story, **REQUESTS[story]))
    alice.ok("import", operator.export(tmp_path / "1.bundle"))
    operator.intake("recipients", "remove", bob.identity("Bob").fingerprint)
    # When exporting, the bundle carries both (Bob as a former recipient) and Alice's laptop stops once
    assert "Exported 2 envelope(s) as bundle 2" in operator.intake("export", "--out", tmp_path / "2.bundle")
    stopped = alice.run("import", tmp_path / "2.bundle")
    assert stopped.exit_code == 1 and "Removed: Bob (" in stopped.output
    summary = json.loads(alice.ok("import", "--accept-recipients", "--json", tmp_path / "2.bundle").stdout)
    assert (summary["new"], summary["duplicate"]) == (0, 2)
    # And Alice's acknowledgement collects them
    alice.ok("ack", "--out", tmp_path / "alice.ack")
    assert "deleted 2 envelope(s)" in operator.apply(tmp_path / "alice.ack")
    app.extensions["intake"].storage.dispose()
