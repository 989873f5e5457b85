"""PostgreSQL's part of ``intake compact``: leave no trace of arrival order in a row's header or its TOAST value.

``CLUSTER`` rewrites a table's heap in primary-key order (random ids, keyed hashes), but it copies each row as
it is, and two things in every PostgreSQL row still say when it arrived:

- ``xmin``, the id of the transaction that inserted it: transaction ids only grow, so ordering the rows by
  ``xmin`` gives their arrival order exactly, and CLUSTER (like VACUUM FULL and freezing) keeps it;
- the OID of each value stored out of line in the table's TOAST table (every envelope, reply and 512 KiB blob
  chunk is far over the ~2 KB threshold, and ciphertext does not compress): OIDs come from one counter that
  only grows, and CLUSTER keeps them ("swap by content") so that pointers stay valid.

So before CLUSTER, each table's rows are rewritten one by one in primary-key order, in short transactions of
a few rows: every new row version's ``xmin`` then follows the key order (random), as does its command number,
and every out-of-line value is stored again (``col || ''`` makes a new value, where ``SET col = col`` would
keep the old pointer) under a new OID taken in key order. CLUSTER then drops the old versions and writes heap
and TOAST in key order. The cost is one more copy of each table in the WAL. Each batch holds the table's lock
for a moment (16 chunk rows, 8 MiB), so a file arriving meanwhile waits milliseconds, not for the whole table;
CLUSTER's own lock still lasts as long as copying the table (about 3 s per 500 MiB of files on the test
machine). A row stored during the rewrite is not rewritten: its ``xmin`` says it arrived during compaction.

A row version an older snapshot still needs (an export running at that moment) survives CLUSTER with its
old ``xmin`` until the next compaction: run ``intake compact`` after an export, not during one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import LargeBinary, String, Table, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from intake import tables

# How long compaction waits for a table's lock. An export holds a read lock for as long as it writes its bundle,
# and PostgreSQL queues every later writer behind a lock request that waits: without a bound, submissions would
# wait for the whole export. Past it, compaction stops and says so (LockWaitError); run it again later.
LOCK_WAIT = "5s"
_LOCK_NOT_AVAILABLE = "55P03"

# The tables of submissions, receipts, replies and files, in the order compaction rewrites them.
KEYED = (tables.envelopes, tables.receipts, tables.replies, tables.reply_digests, tables.blobs, tables.blob_chunks)
# Rows per rewriting transaction: 16 chunk rows are 8 MiB, the lock held for a moment.
BATCH_ROWS = {"blob_chunks": 16}


def _fresh(column_name: str, column_type: object) -> str:
    """An expression equal to the column's value that PostgreSQL stores as a new value."""
    if isinstance(column_type, LargeBinary):
        return f"{column_name} || ''::bytea"
    if isinstance(column_type, String):  # Text is a String
        return f"{column_name} || ''"
    return column_name


def update_sql(table: Table) -> str:
    """An UPDATE of one row of ``table``, by its primary key, that stores every value of it again."""
    keys = [column.name for column in table.primary_key.columns]
    others = [column for column in table.columns if not column.primary_key]
    assignments = ", ".join(f"{c.name} = {_fresh(c.name, c.type)}" for c in others) or f"{keys[0]} = {keys[0]}"
    match = " AND ".join(f"{key} = :{key}" for key in keys)
    return f"UPDATE {table.name} SET {assignments} WHERE {match}"  # noqa: S608 - names from intake.tables only


def _keys_in_order(conn: Connection, table: Table) -> list[dict[str, object]]:
    names = [column.name for column in table.primary_key.columns]
    with conn.begin():
        listed = ", ".join(names)
        rows = conn.exec_driver_sql(f"SELECT {listed} FROM {table.name} ORDER BY {listed}")  # noqa: S608
        return [dict(zip(names, row, strict=True)) for row in rows]


class LockWaitError(Exception):
    """A table stayed locked (an export or a backup reading it) for longer than compaction waits."""


def _locked(error: OperationalError) -> bool:
    return str(getattr(error.orig, "sqlstate", "") or "") == _LOCK_NOT_AVAILABLE


@contextmanager
def _step(conn: Connection, table: Table) -> Iterator[None]:
    """A transaction of its own that waits at most ``LOCK_WAIT`` for any lock (LockWaitError)."""
    try:
        with conn.begin():
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
            yield
    except OperationalError as error:
        if _locked(error):
            raise LockWaitError(table.name) from None
        raise


def compact(conn: Connection) -> None:
    """Rewrite each keyed table in key order, in batches, then CLUSTER each (one table locked at a time, so no
    lock cycle with a writer). LockWaitError, naming the table, if a lock is not free within ``LOCK_WAIT``."""
    for table in KEYED:
        update = text(update_sql(table))
        keys = _keys_in_order(conn, table)
        size = BATCH_ROWS.get(table.name, 256)
        for start in range(0, len(keys), size):
            with _step(conn, table):
                # EXCLUSIVE: readers go on, writers wait (a moment), and no row is locked half way by another.
                conn.exec_driver_sql(f"LOCK TABLE {table.name} IN EXCLUSIVE MODE")
                for one in keys[start : start + size]:  # one statement per row: new versions and OIDs in key order
                    conn.execute(update, one)
    for table in KEYED:
        with _step(conn, table):
            conn.exec_driver_sql(f"CLUSTER {table.name} USING {table.name}_pkey")
