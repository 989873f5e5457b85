"""SQLite durability and forgetting: pragmas on every connection, and deleted envelopes really gone."""

from __future__ import annotations

import datetime
import secrets
from pathlib import Path

import crypto
from intake.config import IntakeConfig
from intake.instance import Instance
from intake.storage import Storage

DAY = datetime.date(2026, 11, 22)


def test_every_connection_gets_wal_full_sync_and_secure_delete(sqlite_config: IntakeConfig) -> None:
    Instance(sqlite_config).initialize()
    storage = Storage(sqlite_config.database_url)
    connections = [storage.engine.connect() for _ in range(3)]  # several pooled connections, each new
    try:
        for conn in connections:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
            conn.rollback()
    finally:
        for conn in connections:
            conn.close()
        storage.dispose()


def instance_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_acknowledged_envelope_bytes_are_gone_from_every_file(sqlite_config: IntakeConfig,
                                                              identity: crypto.Identity) -> None:  # fmt: skip
    # Given two stored envelopes
    server = Instance(sqlite_config).initialize()
    storage = Storage(sqlite_config.database_url)
    storage.add_recipient(identity.public, DAY)
    request = {"schema": 1, "locale": "en", "submitted_on": DAY, "danger": "serious", "people": 1,
               "contact_method": "email", "contact": "a@b", "story": "s", "consent": True}  # fmt: skip
    gone, kept = (crypto.seal_request(request, for_recipients=[identity.public]) for _ in range(2))
    for envelope in (gone, kept):
        storage.store_submission(envelope, secrets.token_bytes(32), DAY, max_pending=10)
    assert gone[-64:] in instance_bytes(sqlite_config.instance_dir)
    # When a valid acknowledgement names the first one
    [gone_id] = [i for i, envelope in storage.envelope_bytes() if envelope == gone]
    server_key = Instance(sqlite_config).server_key()
    ack = crypto.make_ack([crypto.AckEntry(gone_id, crypto.envelope_digest(gone))], identity=identity,
                          server=server, bundle_sequence=1, created_on=DAY)  # fmt: skip
    assert storage.apply_ack(ack, server_key, DAY).deleted == 1
    storage.dispose()
    # Then no chunk of its ciphertext is left in the database, WAL or journal; the other is intact
    # (every 32-byte chunk, so any run of 63 bytes or more that survived anywhere contains one; 32 random bytes
    # never turn up by chance). The kept one is the control: the same search finds almost all of its chunks
    # (SQLite splits a 33 KB row over overflow pages, whose 4-byte links break a few chunks).
    everything = instance_bytes(sqlite_config.instance_dir)

    def chunks(envelope: bytes) -> list[bytes]:
        return [envelope[start : start + 32] for start in range(0, len(envelope) - 31, 32)]

    assert [c for c in chunks(gone) if c in everything] == []
    found = sum(c in everything for c in chunks(kept))
    assert found >= 0.9 * len(chunks(kept)), (found, len(chunks(kept)))
