"""Storage of sealed envelopes, receipt hashes, recipients and acknowledgements (SQLAlchemy Core).

Every write is one transaction. The submission serial comes from an explicit counter row updated in the
same transaction as the insert, so SQLite and PostgreSQL behave alike: serials strictly increase and a
rolled-back submission consumes none. On SQLite every connection gets WAL, ``synchronous=FULL`` (the
commit is on disk before the receipt page is sent) and ``secure_delete=ON`` (deleted envelopes are
overwritten, not just unlinked from the b-tree).
"""

from __future__ import annotations

import datetime
import hmac
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import bindparam, create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

import crypto
from intake.tables import (
    BUNDLE_COUNTER,
    COLLECTED,
    COLLECTED_COUNTER,
    RECEIVED,
    SERIAL_COUNTER,
    applied_acks,
    counters,
    envelopes,
    receipts,
    recipients,
)

READ_ONLY = "intake_read_only"
# Statements are built once: constructing SQLAlchemy expressions per request costs more than running them.
_BUMP_SERIAL = (update(counters).where(counters.c.name == SERIAL_COUNTER).values(value=counters.c.value + 1)
                .returning(counters.c.value))  # fmt: skip
_BUMP_BUNDLE = (update(counters).where(counters.c.name == BUNDLE_COUNTER).values(value=counters.c.value + 1)
                .returning(counters.c.value))  # fmt: skip
_HIGH_WATER = select(counters.c.value).where(counters.c.name == SERIAL_COUNTER)
_PENDING = select(func.count()).select_from(envelopes)
_COLLECTED = select(counters.c.value).where(counters.c.name == COLLECTED_COUNTER)
_ADD_COLLECTED = (update(counters).where(counters.c.name == COLLECTED_COUNTER)
                  .values(value=counters.c.value + bindparam("deleted")))  # fmt: skip
_INSERT_ENVELOPE = insert(envelopes)
_INSERT_RECEIPT = insert(receipts)
_RECEIPT = select(receipts.c.lookup, receipts.c.status).where(receipts.c.lookup == bindparam("lookup"))
_RECIPIENTS = select(recipients).order_by(recipients.c.added_on, recipients.c.fingerprint)


class StorageError(Exception):
    """Base of the storage errors a caller can act on."""


class StorageFullError(StorageError):
    """The cap on envelopes waiting for export is reached."""


class DiskFullError(StorageFullError):
    """The database or its disk has no room left: nothing was stored, everything before is intact."""


# SQLite's SQLITE_FULL result code and PostgreSQL's SQLSTATE class 53 (insufficient resources).
_SQLITE_FULL = 13


def _is_out_of_space(error: OperationalError) -> bool:
    original = error.orig
    if getattr(original, "sqlite_errorcode", None) == _SQLITE_FULL:
        return True
    return str(getattr(original, "sqlstate", "") or "").startswith("53")


class NoRecipientError(StorageError):
    """No caseworker key is registered: nothing can be sealed."""


class AckReplayedError(StorageError):
    """This acknowledgement file was applied before."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (see _sqlite_begin); pysqlite's implicit transactions would defer locks.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON", "busy_timeout=30000",
                   "foreign_keys=ON"):  # fmt: skip
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue (busy_timeout) instead of deadlocking;
    # read-only transactions (see Storage._reading) take no lock until they read.
    connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


@dataclass(frozen=True)
class Recipient:
    fingerprint: str
    public: crypto.PublicIdentity
    added_on: datetime.date


@dataclass(frozen=True)
class ExportResult:
    count: int
    sequence: int
    high_water: int


@dataclass(frozen=True)
class AckResult:
    deleted: int
    not_found: int
    mismatched: int
    signer: str
    bundle_sequence: int


class Storage:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._parsed: dict[str, crypto.PublicIdentity] = {}

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()

    def _writing(self) -> AbstractContextManager[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite)."""
        return self.engine.begin()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read transaction that sees one snapshot (SQLite: deferred BEGIN in WAL; PostgreSQL: REPEATABLE READ)."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.execution_options(**{READ_ONLY: True})
            else:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    # --- submissions -------------------------------------------------------------------------------

    def store_submission(self, envelope: bytes, lookup: bytes, day: datetime.date, max_pending: int) -> int:
        """Store one envelope and its receipt hash; return its serial. Durable when this returns."""
        return self.seal_and_store(lambda _recipients: envelope, lookup, day, max_pending)

    def seal_and_store(
        self, seal: Callable[[list[crypto.PublicIdentity]], bytes], lookup: bytes, day: datetime.date, max_pending: int
    ) -> int:
        """In one transaction: read the recipients, ``seal(recipients)`` in memory, store the envelope.

        One transaction instead of two (read recipients, then write) halves the commits per submission;
        an exception from ``seal`` (e.g. RequestTooLargeError) rolls everything back, serial included.
        Raises NoRecipientError when no caseworker key is registered.
        """
        try:
            return self._seal_and_store(seal, lookup, day, max_pending)
        except OperationalError as error:
            if _is_out_of_space(error):
                # The transaction rolled back; the person gets the 503 page, the operator frees space.
                raise DiskFullError("the database or its disk is full") from None
            raise

    def _seal_and_store(
        self, seal: Callable[[list[crypto.PublicIdentity]], bytes], lookup: bytes, day: datetime.date, max_pending: int
    ) -> int:
        with self._writing() as conn:
            found = [self._public(row.public_text) for row in conn.execute(_RECIPIENTS)]
            if not found:
                raise NoRecipientError("no caseworker key is registered")
            envelope = seal(found)
            serial = conn.execute(_BUMP_SERIAL).scalar_one()
            # Envelopes stored before this one: serials are gapless and only acks delete, so this is an
            # O(1) read where count(*) would scan a table that may hold many thousands of envelopes.
            if serial - 1 - conn.execute(_COLLECTED).scalar_one() >= max_pending:
                raise StorageFullError("too many envelopes are waiting for export")  # rolls the serial back too
            entry_id = secrets.token_bytes(16)
            conn.execute(_INSERT_ENVELOPE, {"id": entry_id, "serial": serial, "envelope": envelope, "received_on": day})
            conn.execute(_INSERT_RECEIPT, {"lookup": lookup, "envelope_id": entry_id, "status": RECEIVED,
                                           "status_on": day})  # fmt: skip
        return int(serial)

    def receipt_status(self, lookup: bytes) -> str | None:
        with self._reading() as conn:
            row = conn.execute(_RECEIPT, {"lookup": lookup}).first()
        if row is None or not hmac.compare_digest(bytes(row.lookup), lookup):
            return None
        return str(row.status)

    def pending_count(self) -> int:
        with self._reading() as conn:
            return int(conn.execute(_PENDING).scalar_one())

    def envelope_bytes(self) -> list[tuple[bytes, bytes]]:
        """(id, envelope) of every stored envelope, by serial: for tests and the demo."""
        with self._reading() as conn:
            rows = conn.execute(select(envelopes.c.id, envelopes.c.envelope).order_by(envelopes.c.serial))
            return [(bytes(r.id), bytes(r.envelope)) for r in rows]

    # --- recipients --------------------------------------------------------------------------------

    def _public(self, text: str) -> crypto.PublicIdentity:
        public = self._parsed.get(text)
        if public is None:
            public = crypto.PublicIdentity.from_text(text)
            self._parsed[text] = public
        return public

    def recipients(self) -> list[Recipient]:
        with self._reading() as conn:
            rows = conn.execute(_RECIPIENTS).all()
        return [Recipient(r.fingerprint, self._public(r.public_text), r.added_on) for r in rows]

    def add_recipient(self, public: crypto.PublicIdentity, day: datetime.date) -> bool:
        """False if a key with this fingerprint is already registered."""
        with self._writing() as conn:
            found = conn.execute(select(recipients.c.fingerprint).where(recipients.c.fingerprint == public.fingerprint))
            if found.first() is not None:
                return False
            conn.execute(insert(recipients).values(fingerprint=public.fingerprint, public_text=public.to_text(),
                                                   added_on=day))  # fmt: skip
        return True

    def remove_recipient(self, fingerprint: str) -> bool:
        with self._writing() as conn:
            return conn.execute(delete(recipients).where(recipients.c.fingerprint == fingerprint)).rowcount > 0

    # --- export and acknowledgement ------------------------------------------------------------------

    def export(self, out: BinaryIO, server_key: crypto.ServerKey, day: datetime.date) -> ExportResult:
        """Write a signed bundle of every envelope still stored, from one consistent snapshot.

        The bundle number is taken first, in a short write transaction: a number spent on a failed export
        is skipped, never reused. The envelopes are then read from a snapshot, so submissions go on
        while a large bundle is written.
        """
        with self._writing() as conn:
            sequence = int(conn.execute(_BUMP_BUNDLE).scalar_one())
        with self._reading() as conn:
            high_water = int(conn.execute(_HIGH_WATER).scalar_one())
            count = int(conn.execute(_PENDING).scalar_one())

            def entries() -> Iterator[crypto.BundleEntry]:
                query = select(envelopes.c.id, envelopes.c.serial, envelopes.c.envelope).order_by(envelopes.c.serial)
                for row in conn.execution_options(yield_per=64).execute(query):
                    yield crypto.BundleEntry(entry_id=bytes(row.id), serial=int(row.serial),
                                             envelope=bytes(row.envelope))  # fmt: skip

            crypto.write_bundle(out, entries(), count=count, server_key=server_key, sequence=sequence,
                                high_water=high_water, created_on=day)  # fmt: skip
        return ExportResult(count=count, sequence=sequence, high_water=high_water)

    def apply_ack(self, data: bytes, server_key: crypto.ServerKey, day: datetime.date) -> AckResult:
        """Verify an acknowledgement, then delete exactly the envelopes it names by id AND digest.

        Raises the crypto errors of ``read_ack`` (nothing is deleted then) or AckReplayedError.
        """
        caseworkers = [r.public for r in self.recipients()]
        ack = crypto.read_ack(data, server=server_key.public, caseworkers=caseworkers)
        deleted = not_found = mismatched = 0
        with self._writing() as conn:
            if conn.execute(select(applied_acks.c.digest).where(applied_acks.c.digest == ack.digest)).first():
                raise AckReplayedError("this acknowledgement was applied before")
            for entry in ack.entries:
                row = conn.execute(select(envelopes.c.envelope).where(envelopes.c.id == entry.entry_id)).first()
                if row is None:
                    not_found += 1
                    continue
                if not hmac.compare_digest(crypto.envelope_digest(bytes(row.envelope)), entry.digest):
                    mismatched += 1
                    continue
                conn.execute(delete(envelopes).where(envelopes.c.id == entry.entry_id))
                conn.execute(update(receipts).where(receipts.c.envelope_id == entry.entry_id)
                             .values(status=COLLECTED, status_on=day, envelope_id=None))  # fmt: skip
                deleted += 1
            conn.execute(insert(applied_acks).values(digest=ack.digest, applied_on=day))
            conn.execute(_ADD_COLLECTED, {"deleted": deleted})
        if deleted:
            self.scrub()
        return AckResult(deleted, not_found, mismatched, ack.signer.fingerprint, ack.bundle_sequence)

    def scrub(self) -> None:
        """After deletions: move the WAL into the (secure_delete) database file and truncate the WAL."""
        if not self.is_sqlite:
            # PostgreSQL: let the freed rows be reused soon (the bytes stay until overwritten; ciphertext only).
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM envelopes")
            return
        raw = self.engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()
