"""The database connection: engine set-up, transactions, and the errors storage raises.

On SQLite every connection gets WAL, ``synchronous=FULL`` (the commit is on disk before the receipt page
is sent) and ``secure_delete=ON`` (deleted envelopes are overwritten, not just unlinked from the b-tree).
"""

from __future__ import annotations

import datetime
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

from intake import pg_compaction

READ_ONLY = "intake_read_only"
# SQLite's SQLITE_FULL result code and PostgreSQL's SQLSTATE class 53 (insufficient resources).
_SQLITE_FULL = 13
BUSY_TIMEOUT_MS = 30_000
# A checkpoint that must wait for an old reader holds writers this long at most per try (Database.scrub).
CHECKPOINT_WAIT_MS = 100
CHECKPOINT_TRIES = 5


class StorageError(Exception):
    """Base of the storage errors a caller can act on."""


class StorageFullError(StorageError):
    """The cap on envelopes waiting for export is reached."""


class DiskFullError(StorageFullError):
    """The database or its disk has no room left: nothing was stored, everything before is intact."""


class NoRecipientError(StorageError):
    """No caseworker key is registered: nothing can be sealed."""


class CompactionWaitError(StorageError):
    """PostgreSQL: a table stayed locked by a reader (an export) longer than compaction waits for it."""


class AckReplayedError(StorageError):
    """This acknowledgement file was applied before."""


class DuplicateRecipientError(StorageError):
    """A key with this fingerprint, or another key with the same name, is already registered."""


def is_out_of_space(error: Exception) -> bool:
    """True for an SQLAlchemy OperationalError (or a bare sqlite3 error) that says the disk is full."""
    original = getattr(error, "orig", error)
    if getattr(original, "sqlite_errorcode", None) == _SQLITE_FULL:
        return True
    return str(getattr(original, "sqlstate", "") or "").startswith("53")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (see _sqlite_begin); pysqlite's implicit transactions would defer locks.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON", f"busy_timeout={BUSY_TIMEOUT_MS}",
                   "foreign_keys=ON", "temp_store=MEMORY"):  # fmt: skip
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue (busy_timeout) instead of deadlocking;
    # read-only transactions (see Database.reading) take no lock until they read.
    connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


class WriteQueue:
    """Writers of one SQLite database wait their turn here, not in SQLite's busy handler.

    A writer that finds the write lock taken is put to sleep by SQLite for 1, 2, 5, 10 ... up to 100 ms
    between tries, however soon the lock is freed: under load most of a submission's time was spent asleep
    in ``BEGIN IMMEDIATE`` while the disk sat idle, and the unlucky waited longest (the p99). Here the
    threads of a process queue on a mutex and the processes on an ``flock`` of a lock file beside the
    database, and the kernel wakes the next writer the moment the last one is done. ``BEGIN IMMEDIATE`` then
    finds the lock free (a writer that does not queue here, such as an older ``intake`` command, is still
    waited for by busy_timeout). Nothing is written to the lock file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._mutex = threading.Lock()
        self._fd = -1
        self._pid = 0

    def _lock_file(self) -> int:
        # One open file per process: an flock belongs to the open file, which a forked child would share.
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._mutex:
            fd = self._lock_file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._mutex:
            if self._pid == os.getpid():
                os.close(self._fd)
            self._fd, self._pid = -1, 0


def _write_queue(engine: Engine) -> WriteQueue | None:
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return WriteQueue(database + "-writers")


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._queue = _write_queue(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()
        if self._queue is not None:
            self._queue.close()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite, after this writer's turn in the WriteQueue)."""
        if self._queue is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._queue.turn(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction that sees one snapshot (SQLite: deferred BEGIN in WAL; PostgreSQL: REPEATABLE READ)."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.execution_options(**{READ_ONLY: True})
            else:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def scrub(self) -> bool:
        """After deletions: move the WAL into the (secure_delete) database file and truncate the WAL; True if done.

        On SQLite a TRUNCATE checkpoint holds the write lock while it waits for readers of an older snapshot, and
        an export streaming a large bundle holds one for minutes: with the connection's 30 s busy timeout every
        submission would wait behind it. So each try waits at most ``CHECKPOINT_WAIT_MS`` and the tries are
        spaced so writers go on between them; False when a reader still holds the WAL after them: the next
        scrub folds in the rest (an export runs one when it ends; compaction, the next acknowledgement).
        """
        if not self.is_sqlite:
            # PostgreSQL: let the freed rows be reused soon (the bytes stay until overwritten; ciphertext only).
            with self.engine.connect() as conn:
                auto = conn.execution_options(isolation_level="AUTOCOMMIT")
                auto.exec_driver_sql("VACUUM envelopes")
                auto.exec_driver_sql("VACUUM replies")
                auto.exec_driver_sql("VACUUM blobs")
                auto.exec_driver_sql("VACUUM blob_chunks")
            return True
        raw = self.engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
        try:
            cursor = raw.cursor()
            cursor.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            try:
                for _ in range(CHECKPOINT_TRIES):
                    if cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
                        return True
                    time.sleep(CHECKPOINT_WAIT_MS / 1000)  # the writers' turn
                return False
            finally:
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                cursor.close()
        finally:
            raw.close()

    def compact(self) -> None:
        """Rewrite the SQLite file in key order (random ids), so page order no longer follows arrival order."""
        self.scrub()
        if not self.is_sqlite:
            # Every row again in key order (its xmin and TOAST OIDs said when it arrived), then CLUSTER rewrites
            # each table in primary-key order: random ids and keyed hashes, not arrival (intake.pg_compaction).
            with self.engine.connect() as conn:
                try:
                    pg_compaction.compact(conn)
                except pg_compaction.LockWaitError as error:
                    raise CompactionWaitError(
                        f"The table {error} is being read (an export or a backup is running): compaction stopped "
                        "there, nothing is lost. Run `intake compact` again once it has finished.") from None
            return
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("VACUUM")
            cursor.close()
        finally:
            raw.close()
        self.scrub()
