"""Issue 20 item 1 (invariant 19): no operator action on caseworker keys stops an export.

* After ``recipients remove`` of a key that waiting envelopes were sealed to, exports go on: an envelope
  sealed to the removed key and a registered one names both (bundle version 4, FORMAT.md §8.1); one that
  only removed keys can read is kept, counted, and dropped only on purpose.
* ``recipients remove`` says how many waiting envelopes only that key can read and asks for ``--force``.
* A failing export gives its bundle number back.
On SQLite and PostgreSQL (the ``config`` fixture).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from intake.cli import main
from intake.config import IntakeConfig
from intake.instance import Instance
from intake.storage import Storage
from intake.tables import BUNDLE_COUNTER, counters, former_recipients
from tests.intake.test_queue_integrity import DAY, ack_all, submit

ALICE, BOB, CAROL = (crypto.Identity.generate(name) for name in ("Alice", "Bob", "Carol"))


@pytest.fixture
def server(config: IntakeConfig) -> Any:
    Instance(config).initialize()
    storage = Storage(config.database_url)
    yield storage, Instance(config).server_key()
    storage.dispose()


def export(storage: Storage, server_key: crypto.ServerKey) -> tuple[Any, crypto.Bundle]:
    out = io.BytesIO()
    result = storage.export(out, server_key, DAY)
    return result, crypto.read_bundle(out.getvalue(), expected_server=server_key.public)


def bundle_number(storage: Storage) -> int:
    with storage.reading() as conn:
        return int(conn.execute(sa.select(counters.c.value).where(counters.c.name == BUNDLE_COUNTER)).scalar_one())


def test_removing_a_key_that_shares_envelopes_keeps_exports_going(server: Any) -> None:
    storage, server_key = server
    # Given two envelopes sealed to Alice and Bob, and one sealed to Alice only
    storage.add_recipient(ALICE.public, DAY)
    alone, _ = submit(storage)
    storage.add_recipient(BOB.public, DAY)
    shared = {submit(storage)[0], submit(storage)[0]}
    # When Bob is removed (Alice still reads everything: nothing only he can read)
    assert storage.only_readable_by(BOB.fingerprint) == 0
    assert storage.remove_recipient(BOB.fingerprint, DAY)
    # Then the export carries all three; the shared ones name Bob as a former recipient
    result, bundle = export(storage, server_key)
    assert (result.count, result.unreadable, result.unknown_key) == (3, 0, 0)
    assert bundle.header.version == 4
    assert [k.fingerprint for k in bundle.header.recipients] == [ALICE.fingerprint]
    assert [k.fingerprint for k in bundle.header.former] == [BOB.fingerprint]
    by_id = {e.entry_id: set(e.sealed_to) for e in bundle.entries()}
    assert by_id[alone] == {ALICE.fingerprint}
    assert all(by_id[i] == {ALICE.fingerprint, BOB.fingerprint} for i in shared)
    # And once Alice's acknowledgement collects them, Bob's public key is forgotten and bundles are version 3 again
    assert storage.apply_ack(ack_all(storage, server_key, ALICE), server_key, DAY).deleted == 3
    storage.add_recipient(CAROL.public, DAY)
    submit(storage)
    result, bundle = export(storage, server_key)
    assert bundle.header.version == 3 and result.count == 1
    with storage.reading() as conn:
        assert conn.execute(sa.select(former_recipients)).all() == []


def test_envelopes_no_registered_key_can_read_are_kept_and_dropped_only_on_purpose(server: Any) -> None:
    storage, server_key = server
    storage.add_recipient(ALICE.public, DAY)
    orphan, _ = submit(storage)
    storage.add_recipient(BOB.public, DAY)
    readable, _ = submit(storage)
    # Removing Alice leaves one envelope nobody registered can read
    assert storage.only_readable_by(ALICE.fingerprint) == 1
    storage.remove_recipient(ALICE.fingerprint, DAY)
    result, bundle = export(storage, server_key)
    assert (result.count, result.unreadable) == (1, 1)
    assert [e.entry_id for e in bundle.entries()] == [readable]
    assert storage.pending_count() == 2 and storage.unreadable_count() == 1
    # Adding Alice's key back exports it again (no gap: it got no serial while it was kept back)
    storage.add_recipient(ALICE.public, DAY)
    result, bundle = export(storage, server_key)
    assert result.count == 2 and sorted(e.serial for e in bundle.entries()) == [1, 2]
    # Removed again, it is dropped only when asked, and the queue's count follows
    storage.remove_recipient(ALICE.fingerprint, DAY)
    assert storage.drop_unreadable() == 1
    assert storage.pending_count() == 1 and [i for i, _ in storage.envelope_bytes()] == [readable]
    assert orphan not in {i for i, _ in storage.envelope_bytes()}


def test_a_key_removed_before_its_public_half_was_kept_does_not_stop_exports(server: Any) -> None:
    storage, server_key = server
    storage.add_recipient(ALICE.public, DAY)
    storage.add_recipient(BOB.public, DAY)
    submit(storage)
    storage.add_recipient(CAROL.public, DAY)
    storage.remove_recipient(BOB.fingerprint, DAY)
    # (as after a removal made before revision 0007: the public half is gone)
    with storage.writing() as conn:
        conn.execute(former_recipients.delete())
    submit(storage)
    result, _ = export(storage, server_key)
    assert (result.count, result.unknown_key) == (1, 1)
    # Given back as a former recipient only, the envelope exports again and nothing new is sealed to Bob
    assert storage.remember_former(BOB.public, DAY) == 1
    assert storage.remember_former(ALICE.public, DAY) == 0  # registered: nothing to remember
    result, bundle = export(storage, server_key)
    assert (result.count, result.unknown_key) == (2, 0)
    assert [k.fingerprint for k in bundle.header.former] == [BOB.fingerprint]
    assert BOB.fingerprint not in {r.fingerprint for r in storage.recipients()}


class Broken(io.BytesIO):
    def write(self, data: Any) -> int:
        if self.tell() > 100:
            raise OSError(28, "No space left on device")
        return super().write(data)


def test_a_failing_export_spends_no_bundle_number(server: Any) -> None:
    storage, server_key = server
    storage.add_recipient(ALICE.public, DAY)
    submit(storage)
    with pytest.raises(OSError):
        storage.export(Broken(), server_key, DAY)
    assert bundle_number(storage) == 0
    result, bundle = export(storage, server_key)
    assert result.sequence == bundle.header.sequence == 1


OPS = st.lists(st.tuples(st.sampled_from(["add", "remove", "submit", "export", "ack"]), st.integers(0, 2)),
               max_size=14)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_no_sequence_of_key_changes_stops_an_export(sqlite_config: IntakeConfig, ops: list[tuple[str, int]]) -> None:
    keys = (ALICE, BOB, CAROL)
    Instance(sqlite_config).initialize()
    storage = Storage(sqlite_config.database_url)
    server_key = Instance(sqlite_config).server_key()
    try:
        with storage.writing() as conn:
            for table in ("envelopes", "receipts", "recipients", "former_recipients"):
                conn.execute(sa.text(f"DELETE FROM {table}"))
        for op, n in [*ops, ("export", 0)]:
            registered = {r.fingerprint for r in storage.recipients()}
            if op == "add" and keys[n].fingerprint not in registered:
                storage.add_recipient(keys[n].public, DAY)
            elif op == "remove" and keys[n].fingerprint in registered:
                storage.remove_recipient(keys[n].fingerprint, DAY)
            elif op == "submit" and registered:
                submit(storage)
            elif op == "ack" and keys[n].fingerprint in registered:
                storage.apply_ack(ack_all(storage, server_key, keys[n]), server_key, DAY)
            elif op == "export":
                result, bundle = export(storage, server_key)
                named = {k.fingerprint for k in bundle.header.recipients + bundle.header.former}
                assert all(set(e.sealed_to) <= named for e in bundle.entries())
                assert result.count + result.unreadable == storage.pending_count()
    finally:
        storage.dispose()


# --- the command line --------------------------------------------------------------------------------


def intake(config: IntakeConfig, *args: str | Path) -> tuple[int, str]:
    env = {"INTAKE_INSTANCE_DIR": str(config.instance_dir), "INTAKE_DATABASE_URL": config.database_url}
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_recipients_remove_asks_for_force_and_export_goes_on(config: IntakeConfig, tmp_path: Path) -> None:
    assert intake(config, "init")[0] == 0
    for identity in (ALICE, BOB):
        (tmp_path / f"{identity.name}.pub").write_text(identity.public.to_text())
    assert intake(config, "recipients", "add", tmp_path / "Alice.pub")[0] == 0
    storage = Storage(config.database_url)
    try:
        submit(storage)
        assert intake(config, "recipients", "add", tmp_path / "Bob.pub")[0] == 0
        submit(storage)
    finally:
        storage.dispose()
    # Removing Alice is refused while one envelope only she can read waits, and says so
    code, output = intake(config, "recipients", "remove", ALICE.fingerprint)
    assert code == 1 and "1 waiting envelope(s) can be read only by" in output and "--force" in output
    assert ALICE.fingerprint in intake(config, "recipients", "list")[1]
    code, output = intake(config, "recipients", "remove", "--force", ALICE.fingerprint)
    assert code == 0 and "1 waiting envelope(s) can now be read by no registered key" in output
    # The export works, says what it kept, and the number it used is 1
    code, output = intake(config, "export", "--out", tmp_path / "1.bundle")
    assert code == 0, output
    assert "Exported 1 envelope(s) as bundle 1" in output and "Kept on the server, not exported: 1" in output
    # Dropping them says how many, first without deleting
    assert "1 waiting envelope(s)" in intake(config, "recipients", "drop-unreadable")[1]
    code, output = intake(config, "recipients", "drop-unreadable", "--force")
    assert code == 0 and "Deleted 1 envelope(s)" in output
    assert "Kept" not in intake(config, "export", "--out", tmp_path / "2.bundle")[1]
    code, output = intake(config, "recipients", "add", "--former", tmp_path / "Bob.pub")  # registered
    assert code == 1 and "nothing changed" in output


def test_an_export_that_cannot_be_written_to_its_file_spends_no_number(
    config: IntakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert intake(config, "init")[0] == 0
    (tmp_path / "Alice.pub").write_text(ALICE.public.to_text())
    intake(config, "recipients", "add", tmp_path / "Alice.pub")

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, output = intake(config, "export", "--out", tmp_path / "1.bundle")
    assert code == 1 and "No space left" in output and not (tmp_path / "1.bundle").exists()
    monkeypatch.undo()
    assert "as bundle 1 " in intake(config, "export", "--out", tmp_path / "1.bundle")[1]


def test_with_every_key_removed_export_says_so_and_spends_no_number(config: IntakeConfig, tmp_path: Path) -> None:
    assert intake(config, "init")[0] == 0
    (tmp_path / "Alice.pub").write_text(ALICE.public.to_text())
    intake(config, "recipients", "add", tmp_path / "Alice.pub")
    intake(config, "recipients", "remove", ALICE.fingerprint)
    code, output = intake(config, "export", "--out", tmp_path / "1.bundle")
    assert code == 1 and "No caseworker key is registered" in output
    intake(config, "recipients", "add", tmp_path / "Alice.pub")
    assert "as bundle 1 " in intake(config, "export", "--out", tmp_path / "1.bundle")[1]
