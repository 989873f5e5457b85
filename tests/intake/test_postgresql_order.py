"""What a seized PostgreSQL database says of arrival order after ``intake compact`` (invariant 15, issue 24).

Read from the real server: the rows' physical order (``ctid``), the inserting transaction of each row (``xmin``,
which only grows), and the OID and place of each value stored out of line in the table's TOAST table (OIDs
only grow too). Before compaction all three follow arrival; after it, the heap and TOAST lie in key order
(random ids), and ``xmin`` follows the key order (one value per batch of the rewrite: here one per table).
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import Connection

import crypto
from intake import pg_compaction
from intake.blobs import BlobWriter, blob_bytes
from intake.database import CompactionWaitError
from tests.intake.helpers import receipt_of, submit
from tests.intake.test_reply_storage import _ack_one

Key = tuple[Any, ...]


def _key(row: Any, keys: tuple[str, ...]) -> Key:
    return tuple(bytes(getattr(row, k)) if isinstance(getattr(row, k), memoryview | bytes) else getattr(row, k)
                 for k in keys)  # fmt: skip


def _heap(conn: Connection, table: str, keys: tuple[str, ...]) -> tuple[list[Key], list[Key], set[int]]:
    """The keys in the order the rows lie in the table's file, in ``xmin`` order, and the set of ``xmin``."""
    rows = conn.exec_driver_sql(f"SELECT {', '.join(keys)}, xmin::text::bigint AS x FROM {table} ORDER BY ctid").all()
    by_xmin = sorted(rows, key=lambda row: row.x)  # stable: rows of one transaction keep their place
    return [_key(r, keys) for r in rows], [_key(r, keys) for r in by_xmin], {int(r.x) for r in rows}


def _toast(conn: Connection, table: str, column: str, keys: tuple[str, ...]) -> tuple[list[Key], list[Key]]:
    """The keys in the order of their out-of-line values' OIDs, and in the order the values lie in the TOAST file."""
    toast = conn.exec_driver_sql(f"SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = '{table}'::regclass"
                                 ).scalar_one()  # fmt: skip
    heads = {bytes(r.head): _key(r, keys) for r in conn.exec_driver_sql(
        f"SELECT {', '.join(keys)}, substring({column} from 1 for 64) AS head FROM {table}")}  # fmt: skip
    chunks = conn.exec_driver_sql(f"SELECT chunk_id::bigint AS oid, ctid::text AS place, "
                                  f"substring(chunk_data from 1 for 64) AS head FROM {toast} WHERE chunk_seq = 0"
                                  ).all()  # fmt: skip
    assert len(chunks) == len(heads), "every value of the test is stored out of line"
    by_oid = [heads[bytes(c.head)] for c in sorted(chunks, key=lambda c: c.oid)]
    place = conn.exec_driver_sql(f"SELECT chunk_id::bigint AS oid FROM {toast} WHERE chunk_seq = 0 ORDER BY ctid").all()
    oids = {c.oid: heads[bytes(c.head)] for c in chunks}
    return by_oid, [oids[p.oid] for p in place]


def _xmins_in_key_order(conn: Connection, table: str, keys: tuple[str, ...]) -> list[int]:
    rows = conn.exec_driver_sql(f"SELECT xmin::text::bigint AS x FROM {table} ORDER BY {', '.join(keys)}").all()
    return [int(r.x) for r in rows]


def test_after_compaction_blob_chunks_lie_in_key_order_with_xmin_and_toast_oids_in_key_order(
    pg_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = pg_app.extensions["intake"].storage
    monkeypatch.setitem(pg_compaction.BATCH_ROWS, "blob_chunks", 5)  # 12 rows: three rewriting transactions
    # Given six files of two chunk rows each (512 KiB and 88 KiB, both out of line), which arrived in an order
    # unlike that of their ids
    contents = {bytes([i]) * 16: os.urandom(600_000) for i in (5, 2, 6, 1, 4, 3)}
    for blob_id, content in contents.items():
        writer = BlobWriter(storage, b"s" * 16, datetime.date.today(), 1 << 30)
        writer.blob_id = blob_id
        writer.write(content)
        writer.close()
    arrived = [(blob_id, seq) for blob_id in contents for seq in (0, 1)]
    chunk_keys, blob_keys = ("blob_id", "seq"), ("id",)
    with storage.engine.connect() as conn:
        # (before compaction a seized database gives arrival order three ways)
        assert _heap(conn, "blob_chunks", chunk_keys)[:2] == (arrived, arrived)
        assert _toast(conn, "blob_chunks", "data", chunk_keys) == (arrived, arrived)
    # When the database is compacted
    storage.compact()
    # Then the chunk rows, their TOAST values and the blob rows lie in key order, which is not arrival order,
    # the rows' xmin (one per batch of the rewrite) and the OIDs follow the key order too
    with storage.engine.connect() as conn:
        place, _, xmins = _heap(conn, "blob_chunks", chunk_keys)
        assert place == sorted(arrived) != arrived and len(xmins) == 3
        in_order = _xmins_in_key_order(conn, "blob_chunks", chunk_keys)
        assert in_order == sorted(in_order)
        assert _toast(conn, "blob_chunks", "data", chunk_keys) == (sorted(arrived), sorted(arrived))
        place, _, xmins = _heap(conn, "blobs", blob_keys)
        assert place == sorted((b,) for b in contents) != [(b,) for b in contents] and len(xmins) == 1
    # And every file reads back exactly
    assert all(blob_bytes(storage, blob_id) == content for blob_id, content in contents.items())


def test_after_compaction_envelopes_and_receipts_lie_in_key_order_with_one_xmin(pg_app: Flask) -> None:
    storage = pg_app.extensions["intake"].storage
    client = pg_app.test_client()
    # Given eight requests sent one after another (their ids are random: 1 chance in 40,320 to be in order)
    for n in range(8):
        assert submit(client, story=f"Request number {n}.").status_code == 200
    with storage.engine.connect() as conn:
        arrived, by_xmin, _ = _heap(conn, "envelopes", ("id",))
        assert arrived == by_xmin and len(arrived) == 8
        assert _toast(conn, "envelopes", "envelope", ("id",)) == (arrived, arrived)
    # When the database is compacted
    storage.compact()
    # Then envelopes and receipts lie in key order, each table's rows with one xmin, the TOAST in key order
    with storage.engine.connect() as conn:
        place, _, xmins = _heap(conn, "envelopes", ("id",))
        assert place == sorted(arrived) and len(xmins) == 1
        assert _toast(conn, "envelopes", "envelope", ("id",)) == (sorted(arrived), sorted(arrived))
        place, _, xmins = _heap(conn, "receipts", ("lookup",))
        assert place == sorted(place) and len(place) == 8 and len(xmins) == 1
    # And every envelope is still there, whole
    assert len(storage.envelope_bytes()) == 8


def test_compaction_waits_a_bounded_time_for_a_running_export_then_says_so(
    pg_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = pg_app.extensions["intake"].storage
    client = pg_app.test_client()
    assert submit(client).status_code == 200
    monkeypatch.setattr(pg_compaction, "LOCK_WAIT", "200ms")  # the product waits 5 s
    # Given an export reading from its snapshot (it holds a read lock on the envelopes while it writes)
    with storage.reading() as export:
        assert len(export.exec_driver_sql("SELECT id FROM envelopes").all()) == 1
        # When the daily compaction runs, it does not queue behind the export (which would queue every writer
        # behind it) but stops with a sentence
        with pytest.raises(CompactionWaitError, match="Run `intake compact` again"):
            storage.compact()
        # And a request sent meanwhile is stored
        assert submit(client).status_code == 200
    # Then, once the export has finished, compaction runs through
    storage.compact()
    assert len(storage.envelope_bytes()) == 2


def test_after_compaction_no_transaction_id_ties_the_receipts_an_acknowledgement_collected_to_its_replies(
    pg_app: Flask, identity: crypto.Identity
) -> None:
    storage = pg_app.extensions["intake"].storage
    client = pg_app.test_client()
    # Given two requests, each collected by its own return file that stores one reply to that person
    acked = []
    for n in range(2):
        receipt = receipt_of(submit(client, story=f"Заявка {n}"))
        [(entry_id, envelope)] = [pair for pair in storage.envelope_bytes() if pair[0] not in acked]
        _ack_one(pg_app, identity, entry_id, envelope, receipt, f"Ответ {n}", datetime.date.today())
        acked.append(entry_id)

    def xmins(conn: Connection, table: str) -> set[int]:
        return {int(r.x) for r in conn.exec_driver_sql(f"SELECT xmin::text::bigint AS x FROM {table}")}

    with storage.engine.connect() as conn:
        # (before compaction each collected receipt and its reply carry the transaction id of their return file)
        assert len(xmins(conn, "receipts") & xmins(conn, "replies")) == 2
    # When the database is compacted
    storage.compact()
    # Then receipts, replies and reply digests each have one transaction id, none shared with another table
    with storage.engine.connect() as conn:
        found = [xmins(conn, table) for table in ("receipts", "replies", "reply_digests")]
    assert [len(x) for x in found] == [1, 1, 1] and len(set.union(*found)) == 3
