"""Sealed files in the database: staged chunk by chunk as they arrive, tied to their envelope when it is stored.

A blob is ciphertext only (crypto.filestream): its key lives only in the manifest inside its envelope. While
an upload arrives, its ciphertext is written in rows of at most ``CHUNK_ROW`` bytes, each in its own short
transaction, under the random id of the process receiving it (``Stager``). The transaction that stores the
envelope whose manifest names the blobs also ties them to it (``attach``), so a receipt is only ever sent
for an envelope whose files are stored with it. Anything else deletes what the request staged; what a killed
process left staged (unreadable: the key was in its memory only) is deleted at the next start
(``Stager.clean_dead``): each process holds an ``flock`` on a file named by its stager id, and a file whose
lock can be taken belongs to a process that is gone.

The pending cap in bytes (``INTAKE_PENDING_MAX_BYTES``) counts every blob byte stored, staged or waiting
for export: staging refuses past it (StorageFullError) before writing.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import secrets
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from crypto import ExportBlob
from intake.database import Database, DiskFullError, StorageError, StorageFullError, is_out_of_space
from intake.tables import blob_chunks, blobs

# Ciphertext bytes per row: what each upload in progress holds in memory, against one transaction per row.
# Not a format constant (rows of any size read back in order). 512 KiB stays within 2 MiB per upload at 8 at
# once with one copy per row and intake.service's malloc arenas (bench/upload_bench.py); 256 KiB rows saved
# about 0.2 MiB more but cost intake more server CPU per MiB (one run: 19.1 against 15.5 ms).
CHUNK_ROW = 512 * 1024
STAGING_FOLDER = "staging"

_INSERT_BLOB = insert(blobs)
_INSERT_CHUNK = insert(blob_chunks)
_GROW = update(blobs).where(blobs.c.id == bindparam("blob")).values(size=blobs.c.size + bindparam("n"))
_STORED_BYTES = select(func.coalesce(func.sum(blobs.c.size), 0))
_CHUNKS = (select(blob_chunks.c.data).where(blob_chunks.c.blob_id == bindparam("blob"))
           .order_by(blob_chunks.c.seq))  # fmt: skip
_CHUNK = select(blob_chunks.c.data).where(
    (blob_chunks.c.blob_id == bindparam("blob")) & (blob_chunks.c.seq == bindparam("seq"))
)
_SQLITE_STAGED = "SELECT count(*) FROM blobs WHERE envelope_id IS NULL AND id IN ({})"
_SQLITE_ATTACH = "UPDATE blobs SET envelope_id = ?, stager = NULL WHERE id = ? AND envelope_id IS NULL"
# A row of a staged blob on SQLite, through the driver: SQLAlchemy's statement machinery cost a fifth again of
# what SQLite itself spends writing the row. The same statements as the Core ones (tests/intake/test_uploads.py
# compares the rows both write).
_SQLITE_STORED_BYTES = "SELECT coalesce(sum(size), 0) FROM blobs"
_SQLITE_NEW_BLOB = "INSERT INTO blobs (id, envelope_id, stager, size, staged_on) VALUES (?, NULL, ?, 0, ?)"
_SQLITE_CHUNK = "INSERT INTO blob_chunks (blob_id, seq, data) VALUES (?, ?, ?)"
_SQLITE_GROW = "UPDATE blobs SET size = size + ? WHERE id = ?"


class StagedBlobLostError(StorageError):
    """A staged blob was gone when its envelope was stored (deleted as left over): nothing was stored."""


class Stager:
    """This process's staging id, held by an ``flock`` for as long as the process lives (per pid: forks too)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._pid = 0
        self._id = b""
        self._fd = -1

    def id(self) -> bytes:
        if self._pid != os.getpid():
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            stager = secrets.token_bytes(16)
            fd = os.open(self.folder / f"{stager.hex()}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._pid, self._id, self._fd = os.getpid(), stager, fd
        return self._id

    def dead(self) -> list[bytes]:
        """The stager ids whose process is gone (their lock can be taken), their lock files removed."""
        gone: list[bytes] = []
        if not self.folder.is_dir():
            return gone
        for path in sorted(self.folder.glob("*.lock")):
            try:
                stager = bytes.fromhex(path.stem)
            except ValueError:
                continue
            if len(stager) != 16 or (self._pid == os.getpid() and stager == self._id):
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # a live process holds it
                continue
            gone.append(stager)
            path.unlink(missing_ok=True)
            os.close(fd)
        return gone

    def clean_dead(self, db: Database, today: datetime.date) -> int:
        """Delete what dead processes staged, and any staged blob older than yesterday; return how many."""
        ids = self.dead()
        with db.writing() as conn:
            old = blobs.c.staged_on < today - datetime.timedelta(days=1)
            condition = blobs.c.envelope_id.is_(None) & ((old | blobs.c.stager.in_(ids)) if ids else old)
            doomed = [bytes(row.id) for row in conn.execute(select(blobs.c.id).where(condition))]
            _delete(conn, doomed)
        if doomed:
            db.scrub()
        return len(doomed)


def _delete(conn: Connection, ids: Sequence[bytes]) -> None:
    for start in range(0, len(ids), 200):
        part = list(ids[start : start + 200])
        conn.execute(delete(blob_chunks).where(blob_chunks.c.blob_id.in_(part)))
        conn.execute(delete(blobs).where(blobs.c.id.in_(part)))


class BlobWriter:
    """One blob being staged: ``write`` ciphertext in order, ``close`` when the sealer has finished."""

    def __init__(self, db: Database, stager: bytes, day: datetime.date, max_bytes: int) -> None:
        self.db = db
        self.blob_id = secrets.token_bytes(16)
        self._stager = stager
        self._day = day
        self._max = max_bytes
        self._buffer = bytearray()
        self._seq = 0
        self.stored = 0
        self.created = False

    def write(self, ciphertext: bytes) -> None:
        self._buffer += ciphertext
        while len(self._buffer) >= CHUNK_ROW:
            # The row is a view of the buffer: SQLite's driver copies it once, into the statement (on
            # PostgreSQL _row makes the one copy); the view is released before the buffer moves on.
            with memoryview(self._buffer) as view, view[:CHUNK_ROW] as row:
                self._flush(row)
            del self._buffer[:CHUNK_ROW]

    def close(self) -> None:
        if self._buffer or not self.created:
            self._flush(bytes(self._buffer))
            self._buffer.clear()

    def _flush(self, data: bytes | memoryview) -> None:
        try:
            with self.db.writing() as conn:
                if self.db.is_sqlite:
                    self._sqlite_row(conn.connection.driver_connection, data)
                else:
                    self._row(conn, data)
        except (OperationalError, sqlite3.OperationalError) as error:
            if is_out_of_space(error):
                raise DiskFullError("the database or its disk is full") from None
            raise
        self.created = True
        self._seq += 1
        self.stored += len(data)

    def _row(self, conn: Connection, data: bytes | memoryview) -> None:
        data = bytes(data)
        if int(conn.execute(_STORED_BYTES).scalar_one()) + len(data) > self._max:
            raise StorageFullError("the files waiting for export take the space allowed")
        if not self.created:
            conn.execute(_INSERT_BLOB, {"id": self.blob_id, "envelope_id": None, "stager": self._stager, "size": 0,
                                        "staged_on": self._day})  # fmt: skip
        conn.execute(_INSERT_CHUNK, {"blob_id": self.blob_id, "seq": self._seq, "data": data})
        conn.execute(_GROW, {"blob": self.blob_id, "n": len(data)})

    def _sqlite_row(self, driver: Any, data: bytes | memoryview) -> None:
        if int(driver.execute(_SQLITE_STORED_BYTES).fetchone()[0]) + len(data) > self._max:
            raise StorageFullError("the files waiting for export take the space allowed")
        if not self.created:
            driver.execute(_SQLITE_NEW_BLOB, (self.blob_id, self._stager, self._day.isoformat()))
        driver.execute(_SQLITE_CHUNK, (self.blob_id, self._seq, data))
        driver.execute(_SQLITE_GROW, (len(data), self.blob_id))


def delete_blobs(db: Database, ids: Sequence[bytes]) -> None:
    """Delete staged blobs (a request that failed or was refused); committed ones are never touched here."""
    if not ids:
        return
    with db.writing() as conn:
        staged = [bytes(row.id) for row in conn.execute(
            select(blobs.c.id).where(blobs.c.id.in_(list(ids)) & blobs.c.envelope_id.is_(None)))]  # fmt: skip
        _delete(conn, staged)


def attach(conn: Connection, ids: Sequence[bytes], envelope_id: bytes) -> None:
    """Tie staged blobs to the envelope being stored, in its transaction (StagedBlobLostError if one is gone)."""
    for blob_id in ids:
        done = conn.execute(update(blobs).where((blobs.c.id == blob_id) & blobs.c.envelope_id.is_(None))
                            .values(envelope_id=envelope_id, stager=None).returning(blobs.c.id)).first()  # fmt: skip
        if done is None:
            raise StagedBlobLostError("a staged file is gone")


def sqlite_all_staged(driver: Any, ids: Sequence[bytes]) -> bool:
    """SQLite group commit: whether every blob of a submission is still staged (checked before its envelope)."""
    if not ids:
        return True
    query = _SQLITE_STAGED.format(",".join("?" * len(ids)))
    return int(driver.execute(query, tuple(ids)).fetchone()[0]) == len(ids)


def sqlite_attach(driver: Any, ids: Sequence[bytes], envelope_id: bytes) -> None:
    for blob_id in ids:
        driver.execute(_SQLITE_ATTACH, (envelope_id, blob_id))


def delete_for_envelopes(conn: Connection, envelope_ids: Sequence[bytes]) -> int:
    """In an acknowledgement's transaction: the blobs of the envelopes it deletes; how many."""
    ids = []
    for start in range(0, len(envelope_ids), 200):
        part = list(envelope_ids[start : start + 200])
        ids += [bytes(row.id) for row in conn.execute(select(blobs.c.id).where(blobs.c.envelope_id.in_(part)))]
    _delete(conn, ids)
    return len(ids)


def blobs_in(conn: Connection, envelope_ids: Collection[bytes]) -> list[ExportBlob]:
    """The blobs of these envelopes as ``conn``'s snapshot sees them, in id order (random), each streamed from it.

    For an export: ``conn`` is the read transaction the envelopes come from, so an acknowledgement or a new
    submission while the bundle is written changes neither the envelopes nor the files it carries. Only ids
    and sizes are held; the bytes are read one row (``CHUNK_ROW``) at a time when the writer asks.
    """
    rows = conn.execute(select(blobs.c.id, blobs.c.size, blobs.c.envelope_id)
                        .where(blobs.c.envelope_id.is_not(None)).order_by(blobs.c.id))  # fmt: skip
    wanted = frozenset(envelope_ids)  # the export's own frozenset: no copy
    return [ExportBlob(bytes(r.id), int(r.size), _rows_of(conn, bytes(r.id))) for r in rows
            if bytes(r.envelope_id) in wanted]  # fmt: skip


def _rows_of(conn: Connection, blob_id: bytes) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        seq = 0
        while True:  # one row per query: a blob is never whole in memory
            row = conn.execute(_CHUNK, {"blob": blob_id, "seq": seq}).first()
            if row is None:
                return
            yield bytes(row.data)
            seq += 1

    return chunks


def export_blobs(db: Database) -> Iterator[ExportBlob]:
    """Every blob of a stored envelope, in id order (random), each read from one snapshot of its own when asked."""
    with db.reading() as conn:
        rows = [(bytes(r.id), int(r.size)) for r in conn.execute(
            select(blobs.c.id, blobs.c.size).where(blobs.c.envelope_id.is_not(None)).order_by(blobs.c.id))]  # fmt: skip

    def chunks_of(blob_id: bytes) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            with db.reading() as conn:
                yield from _rows_of(conn, blob_id)()

        return chunks

    for blob_id, size in rows:
        yield ExportBlob(blob_id, size, chunks_of(blob_id))


def stored_bytes(db: Database) -> int:
    with db.reading() as conn:
        return int(conn.execute(_STORED_BYTES).scalar_one())


def blob_bytes(db: Database, blob_id: bytes) -> bytes:
    """A whole blob (tests only: the server itself never holds one whole)."""
    with db.reading() as conn:
        return b"".join(bytes(row.data) for row in conn.execute(_CHUNKS, {"blob": blob_id}))
