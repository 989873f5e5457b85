"""Alembic: each revision upgrades and downgrades with data in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa

from intake.config import IntakeConfig
from intake.migrate import downgrade, upgrade
from intake.storage import make_engine

DAY = datetime.date(2026, 11, 22)


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def run(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_upgrade_and_downgrade_carry_data(config: IntakeConfig) -> None:
    config.instance_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url
    # Given the first revision with an envelope, a receipt and the serial counter in use
    upgrade(url, "0001")
    assert tables(url) == {"envelopes", "receipts", "counters"}
    run(url, "UPDATE counters SET value = 1 WHERE name = 'serial'")
    run(url, "INSERT INTO envelopes (id, serial, envelope, received_on) VALUES (:i, 1, :e, :d)",
        i=b"\x01" * 16, e=b"sealed", d=DAY)  # fmt: skip
    run(url, "INSERT INTO receipts (lookup, envelope_id, status, status_on) VALUES (:l, :i, 'received', :d)",
        l=b"\x02" * 32, i=b"\x01" * 16, d=DAY)  # fmt: skip
    # When upgrading to head, the data is still there and the new tables work
    upgrade(url)
    assert tables(url) == {"envelopes", "receipts", "counters", "recipients", "applied_acks", "replies",
                           "reply_digests", "used_tokens", "former_recipients", "blobs", "blob_chunks",
                           "questionnaires"}  # fmt: skip
    assert run(url, "SELECT serial, envelope FROM envelopes") == [(1, b"sealed")]
    # (1 submission received, 1 envelope stored: none collected yet)
    assert sorted(run(url, "SELECT name, value FROM counters")) == [
        ("bundle", 0), ("collected", 0), ("received", 1), ("serial", 1)]  # fmt: skip
    run(url, "INSERT INTO applied_acks (digest, applied_on) VALUES (:g, :d)", g=b"\x03" * 32, d=DAY)
    # When downgrading again, the older data survives and the newer tables are gone
    downgrade(url, "0001")
    assert tables(url) == {"envelopes", "receipts", "counters"}
    assert run(url, "SELECT status FROM receipts") == [("received",)]
    assert run(url, "SELECT name, value FROM counters") == [("serial", 1)]
    # And down to nothing, and back up to head on the empty database
    downgrade(url, "base")
    assert tables(url) == set()
    upgrade(url)
    assert run(url, "SELECT name, value FROM counters ORDER BY name") == [
        ("bundle", 0),
        ("collected", 0),
        ("received", 0),
        ("serial", 0),
    ]


def test_collected_counter_is_seeded_from_what_was_already_acknowledged(config: IntakeConfig) -> None:
    config.instance_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url
    # Given revision 0002 after 5 submissions of which 3 were acknowledged and deleted
    upgrade(url, "0002")
    run(url, "UPDATE counters SET value = 5 WHERE name = 'serial'")
    for serial in (4, 5):
        run(url, "INSERT INTO envelopes (id, serial, envelope, received_on) VALUES (:i, :s, :e, :d)",
            i=bytes([serial]) * 16, s=serial, e=b"sealed", d=DAY)  # fmt: skip
    # When upgrading, the new counter holds the 3 collected envelopes
    upgrade(url, "0003")
    assert run(url, "SELECT value FROM counters WHERE name = 'collected'") == [(3,)]
    # And downgrading removes only that counter
    downgrade(url, "0002")
    assert sorted(run(url, "SELECT name, value FROM counters")) == [("bundle", 0), ("serial", 5)]
    assert len(run(url, "SELECT serial FROM envelopes")) == 2


def test_upgrade_is_idempotent(config: IntakeConfig) -> None:
    config.instance_dir.mkdir(parents=True, exist_ok=True)
    upgrade(config.database_url)
    upgrade(config.database_url)
    assert "envelopes" in tables(config.database_url)


def test_revision_0004_forgets_arrival_order_and_downgrade_numbers_what_was_never_exported(
    config: IntakeConfig,
) -> None:
    config.instance_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url
    # Given revision 0003 with two envelopes (serials 1 and 2) and a receipt
    upgrade(url, "0003")
    run(url, "UPDATE counters SET value = 2 WHERE name = 'serial'")
    for serial in (1, 2):
        run(url, "INSERT INTO envelopes (id, serial, envelope, received_on) VALUES (:i, :s, :e, :d)",
            i=bytes([serial]) * 16, s=serial, e=b"sealed", d=DAY)  # fmt: skip
    run(url, "INSERT INTO receipts (lookup, envelope_id, status, status_on) VALUES (:l, :i, 'received', :d)",
        l=b"\x02" * 32, i=b"\x01" * 16, d=DAY)  # fmt: skip
    # When upgrading to 0004, the data stays, serials stay (laptops know them), nothing is recorded as sealed to
    upgrade(url, "0004")
    assert sorted(run(url, "SELECT serial, sealed_to FROM envelopes")) == [(1, None), (2, None)]
    assert run(url, "SELECT value FROM counters WHERE name = 'received'") == [(2,)]
    assert run(url, "SELECT status FROM receipts") == [("received",)]
    if url.startswith("sqlite"):
        with pytest.raises(sa.exc.OperationalError):
            run(url, "SELECT rowid FROM envelopes")
    # And a new envelope without a serial is numbered after the high-water mark on the way down
    run(url, "INSERT INTO envelopes (id, serial, envelope, received_on, sealed_to) VALUES (:i, NULL, :e, :d, 'x')",
        i=b"\x03" * 16, e=b"sealed", d=DAY)  # fmt: skip
    run(url, "UPDATE counters SET value = 3 WHERE name = 'received'")
    downgrade(url, "0003")
    assert sorted(run(url, "SELECT serial FROM envelopes")) == [(1,), (2,), (3,)]
    assert sorted(run(url, "SELECT name, value FROM counters")) == [("bundle", 0), ("collected", 0), ("serial", 3)]


def test_revision_0005_remembers_the_replies_already_stored_and_downgrade_keeps_them(config: IntakeConfig) -> None:
    import hashlib

    config.instance_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url
    # Given revision 0004 with two stored replies
    upgrade(url, "0004")
    for n in (1, 2):
        run(url, "INSERT INTO replies (id, mailbox, container, stored_on) VALUES (:i, :m, :c, :d)",
            i=bytes([n]) * 16, m=b"\x09" * 32, c=bytes([n]) * 100, d=DAY)  # fmt: skip
    # When upgrading to 0005, each is remembered by its digest and day, so the next export confirms it
    upgrade(url, "0005")
    digests = sorted(run(url, "SELECT digest, stored_on FROM reply_digests"))
    expected = sorted((hashlib.blake2b(bytes([n]) * 100, digest_size=32).digest(), DAY) for n in (1, 2))
    assert [(bytes(d), str(day)) for d, day in digests] == [(d, str(day)) for d, day in expected]
    if url.startswith("sqlite"):
        with pytest.raises(sa.exc.OperationalError):
            run(url, "SELECT rowid FROM reply_digests")
    # And downgrading drops only the digests; the replies stay
    downgrade(url, "0004")
    assert "reply_digests" not in tables(url)
    assert sorted(bytes(r[0]) for r in run(url, "SELECT id FROM replies")) == [b"\x01" * 16, b"\x02" * 16]


def test_revision_0006_adds_used_tokens_and_downgrade_keeps_everything_else(config: IntakeConfig) -> None:
    config.instance_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url
    # Given revision 0004 with an envelope and its receipt
    upgrade(url, "0004")
    run(url, "INSERT INTO envelopes (id, serial, envelope, received_on) VALUES (:i, NULL, :e, :d)",
        i=b"\x01" * 16, e=b"sealed", d=DAY)  # fmt: skip
    run(url, "INSERT INTO receipts (lookup, envelope_id, status, status_on) VALUES (:l, :i, 'received', :d)",
        l=b"\x02" * 32, i=b"\x01" * 16, d=DAY)  # fmt: skip
    # When upgrading to 0006, a used token can be remembered, once
    upgrade(url, "0006")
    run(url, "INSERT INTO used_tokens (digest, forget_after) VALUES (:g, :d)", g=b"\x03" * 32, d=DAY)
    with pytest.raises(sa.exc.IntegrityError):
        run(url, "INSERT INTO used_tokens (digest, forget_after) VALUES (:g, :d)", g=b"\x03" * 32, d=DAY)
    assert run(url, "SELECT digest FROM used_tokens") == [(b"\x03" * 32,)]
    # When downgrading to 0004, the table is gone and the envelope and receipt are still there
    downgrade(url, "0004")
    assert "used_tokens" not in tables(url)
    assert run(url, "SELECT envelope FROM envelopes") == [(b"sealed",)]
    assert run(url, "SELECT status FROM receipts") == [("received",)]


def test_former_recipients_revision_upgrades_and_downgrades_with_data(config: IntakeConfig) -> None:
    config.instance_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url
    # Given revision 0005 with a registered key and an envelope sealed to it
    upgrade(url, "0005")
    run(url, "INSERT INTO recipients (fingerprint, public_text, added_on) VALUES ('a', 'key a', :d)", d=DAY)
    run(url, "INSERT INTO envelopes (id, serial, envelope, received_on, sealed_to) VALUES (:i, NULL, :e, :d, 'a')",
        i=b"\x01" * 16, e=b"sealed", d=DAY)  # fmt: skip
    # When upgrading to 0007, everything is there and a former key can be kept
    upgrade(url, "0007")
    assert "former_recipients" in tables(url)
    run(url, "INSERT INTO former_recipients (fingerprint, public_text, removed_on) VALUES ('b', 'key b', :d)", d=DAY)
    assert run(url, "SELECT fingerprint, public_text FROM former_recipients") == [("b", "key b")]
    assert run(url, "SELECT sealed_to FROM envelopes") == [("a",)]
    # When downgrading, the table goes and the rest stays
    downgrade(url, "0005")
    assert "former_recipients" not in tables(url)
    assert run(url, "SELECT fingerprint FROM recipients") == [("a",)]
    assert run(url, "SELECT sealed_to FROM envelopes") == [("a",)]


def test_questionnaires_revision_upgrades_and_downgrades_with_data(config: IntakeConfig) -> None:
    config.instance_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url
    # Given revision 0007 with a waiting envelope
    upgrade(url, "0007")
    run(url, "INSERT INTO envelopes (id, serial, envelope, received_on, sealed_to) VALUES (:i, NULL, :e, :d, 'a')",
        i=b"\x01" * 16, e=b"sealed", d=DAY)  # fmt: skip
    # When upgrading to 0009, a questionnaire version can be recorded, once per hash
    upgrade(url, "0009")
    run(url, "INSERT INTO questionnaires (sha256, canonical, recorded_on) VALUES (:h, :c, :d)",
        h="a" * 64, c=b'{"id":"x"}', d=DAY)  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError):
        run(url, "INSERT INTO questionnaires (sha256, canonical, recorded_on) VALUES (:h, :c, :d)",
            h="a" * 64, c=b"{}", d=DAY)  # fmt: skip
    assert run(url, "SELECT sha256, canonical FROM questionnaires") == [("a" * 64, b'{"id":"x"}')]
    assert run(url, "SELECT envelope FROM envelopes") == [(b"sealed",)]
    # When downgrading, the table goes and the envelope stays
    downgrade(url, "0007")
    assert "questionnaires" not in tables(url)
def test_revision_0008_adds_blobs_in_chunks_and_downgrade_keeps_the_envelopes(config: IntakeConfig) -> None:
    config.instance_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url
    # Given revision 0007 with an envelope
    upgrade(url, "0007")
    run(url, "INSERT INTO envelopes (id, serial, envelope, received_on, sealed_to) VALUES (:i, NULL, :e, :d, 'a')",
        i=b"\x01" * 16, e=b"sealed", d=DAY)  # fmt: skip
    # When upgrading to 0008, a blob of that envelope can be stored in chunks, each (blob, seq) once
    upgrade(url, "0008")
    assert {"blobs", "blob_chunks"} <= tables(url)
    run(url, "INSERT INTO blobs (id, envelope_id, stager, size, staged_on) VALUES (:b, :i, NULL, 6, :d)",
        b=b"\x05" * 16, i=b"\x01" * 16, d=DAY)  # fmt: skip
    for seq, data in ((1, b"def"), (0, b"abc")):
        run(url, "INSERT INTO blob_chunks (blob_id, seq, data) VALUES (:b, :s, :x)", b=b"\x05" * 16, s=seq, x=data)
    with pytest.raises(sa.exc.IntegrityError):
        run(url, "INSERT INTO blob_chunks (blob_id, seq, data) VALUES (:b, 0, :x)", b=b"\x05" * 16, x=b"again")
    assert run(url, "SELECT data FROM blob_chunks ORDER BY seq") == [(b"abc",), (b"def",)]
    assert run(url, "SELECT envelope_id, size FROM blobs") == [(b"\x01" * 16, 6)]
    # When downgrading, the blob tables go and the envelope stays
    downgrade(url, "0007")
    assert not {"blobs", "blob_chunks"} & tables(url)
    assert run(url, "SELECT envelope FROM envelopes") == [(b"sealed",)]


def test_revision_0010_gives_envelopes_random_rowids_and_downgrade_takes_them_away(config: IntakeConfig) -> None:
    config.instance_dir.mkdir(parents=True, exist_ok=True)
    url, sqlite = config.database_url, config.database_url.startswith("sqlite")
    # Given revision 0009 with twelve envelopes stored in a known order, three of them exported
    upgrade(url, "0009")
    arrival = [bytes([n]) * 16 for n in (5, 1, 9, 3, 12, 7, 2, 11, 4, 8, 10, 6)]
    for n, entry in enumerate(arrival):
        run(url, "INSERT INTO envelopes (id, serial, envelope, received_on, sealed_to) VALUES (:i, :s, :e, :d, 'a')",
            i=entry, s=n + 1 if n < 3 else None, e=entry * 2, d=DAY)  # fmt: skip
    before = sorted(run(url, "SELECT id, serial, envelope, received_on, sealed_to FROM envelopes"))
    # When upgrading to 0010, every envelope stays as it was, and its id is still its key
    upgrade(url, "0010")
    assert sorted(run(url, "SELECT id, serial, envelope, received_on, sealed_to FROM envelopes")) == before
    with pytest.raises(sa.exc.IntegrityError):
        run(url, "INSERT INTO envelopes (id, envelope, received_on) VALUES (:i, :e, :d)", i=arrival[0], e=b"x", d=DAY)
    if sqlite:
        # And the rowids are random: neither the order they arrived in nor the id order (12! orders each)
        by_rowid = [bytes(r[0]) for r in run(url, "SELECT id FROM envelopes ORDER BY rowid")]
        assert sorted(by_rowid) == sorted(arrival) and by_rowid not in (arrival, sorted(arrival))
        rowids = [r[0] for r in run(url, "SELECT rowid FROM envelopes")]
        assert max(rowids) - min(rowids) > 2**40
    # When downgrading, the envelopes stay, and on SQLite the table has no rowid again
    downgrade(url, "0009")
    assert sorted(run(url, "SELECT id, serial, envelope, received_on, sealed_to FROM envelopes")) == before
    if sqlite:
        with pytest.raises(sa.exc.OperationalError):
            run(url, "SELECT rowid FROM envelopes")
