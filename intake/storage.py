"""Storage of sealed envelopes, receipt hashes, recipients and sealed replies (SQLAlchemy Core).

Every write is one transaction. Nothing stored says in which order submissions arrived within a day:
ids are random, SQLite tables have no rowid (the envelopes' rowids are random), and serials are given at
export in a shuffled order (``intake.exchange``). Each envelope records the fingerprints of the caseworker
keys it was sealed to, so that only one of them can have it deleted. A follow-up is stored exactly like a
request, with a receipt row under a random lookup that nobody holds, so the tables cannot tell the two apart.
"""

from __future__ import annotations

import datetime
import hmac
import secrets
import sqlite3
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

import crypto
from intake import blobs as blob_store
from intake import exchange, rotation
from intake.database import (
    AckReplayedError,
    Database,
    DiskFullError,
    DuplicateRecipientError,
    NoRecipientError,
    StorageError,
    StorageFullError,
    is_out_of_space,
    make_engine,
    today,
)
from intake.group_commit import GroupCommit, Pending
from intake.tables import (
    COLLECTED_COUNTER,
    RECEIVED,
    RECEIVED_COUNTER,
    counters,
    envelopes,
    random_rowid,
    receipts,
    recipients,
    reply_digests,
    used_tokens,
)
from intake.tables import replies as replies_table

__all__ = [
    "AckReplayedError", "AlreadySentError", "DiskFullError", "DuplicateRecipientError", "NoRecipientError",
    "OneTime", "Recipient", "Storage", "StorageError", "StorageFullError", "StoredReply", "make_engine", "today",
]  # fmt: skip

# Statements are built once: constructing SQLAlchemy expressions per request costs more than running them.
# One round trip: count this envelope in, and read how many were collected (to know how many are waiting).
_COLLECTED_NOW = counters.alias("collected")
_BUMP_RECEIVED = (update(counters).where(counters.c.name == RECEIVED_COUNTER).values(value=counters.c.value + 1)
                  .returning(counters.c.value, select(_COLLECTED_NOW.c.value)
                             .where(_COLLECTED_NOW.c.name == COLLECTED_COUNTER).scalar_subquery()))  # fmt: skip
_PENDING = select(func.count()).select_from(envelopes)
_INSERT_ENVELOPE = insert(envelopes)
_INSERT_RECEIPT = insert(receipts)
# A submission's statements as SQLite's driver runs them (see _store_group): sqlite3 prepares each once per
# connection and reuses it, where SQLAlchemy spent more per call (cache lookups, parameter and result
# processing) than SQLite did. Dates are stored as SQLAlchemy's SQLite Date stores them (ISO text), which
# tests/intake/test_storage.py reads back through the tables above.
_SQLITE_RECIPIENTS = "SELECT fingerprint, public_text FROM recipients ORDER BY added_on, fingerprint"
_SQLITE_COUNTERS = "SELECT (SELECT value FROM counters WHERE name = ?), (SELECT value FROM counters WHERE name = ?)"
_SQLITE_SET_COUNTER = "UPDATE counters SET value = ? WHERE name = ?"
# The rowid is random (invariant 15; see intake.tables): SQLite would otherwise give the next number.
_SQLITE_ENVELOPE = ("INSERT INTO envelopes (rowid, id, serial, envelope, received_on, sealed_to) "
                    "VALUES (?, ?, NULL, ?, ?, ?)")
_SQLITE_RECEIPT = "INSERT INTO receipts (lookup, envelope_id, status, status_on) VALUES (?, ?, ?, ?)"
_SQLITE_USE_ONCE = "INSERT OR IGNORE INTO used_tokens (digest, forget_after) VALUES (?, ?)"
_SQLITE_FORGET_TOKENS = "DELETE FROM used_tokens WHERE forget_after < ?"
_TOKEN_USED = select(used_tokens.c.digest).where(used_tokens.c.digest == bindparam("digest"))
_FORGET_TOKENS = delete(used_tokens).where(used_tokens.c.forget_after < bindparam("day"))
_RECEIPT = select(receipts.c.lookup, receipts.c.status).where(receipts.c.lookup == bindparam("lookup"))
_RECIPIENTS = select(recipients).order_by(recipients.c.added_on, recipients.c.fingerprint)
_RECIPIENTS_SEALED = (select(recipients.c.fingerprint, recipients.c.public_text)
                      .order_by(recipients.c.added_on, recipients.c.fingerprint))  # fmt: skip
_REPLIES = (select(replies_table.c.id, replies_table.c.container, replies_table.c.stored_on)
            .where(replies_table.c.mailbox == bindparam("mailbox")))  # fmt: skip


class AlreadySentError(StorageError):
    """This form's one-time token was used by a stored submission (intake.once): nothing was stored."""


@dataclass(frozen=True)
class OneTime:
    """A submission's one-time token, as stored: its keyed hash and the day it may be forgotten."""

    digest: bytes
    forget_after: datetime.date


@dataclass(frozen=True)
class Recipient:
    fingerprint: str
    public: crypto.PublicIdentity
    added_on: datetime.date


@dataclass(frozen=True)
class StoredReply:
    reply_id: bytes
    container: bytes
    stored_on: datetime.date


def same_name(a: str, b: str) -> bool:
    """Names a person would read as the same (case, width and spacing ignored)."""

    def fold(name: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", name).casefold().split())

    return fold(a) == fold(b)


# A request every key must be able to seal: adding a key tries it, so a key libsodium refuses (a
# low-order point) is refused at the door instead of turning every later submission into an error.
_PROBE_REQUEST = {"schema": 1, "locale": "en", "submitted_on": "2026-01-01", "danger": "not_immediate", "people": 1,
                  "contact_method": "other", "contact": "probe", "story": "probe", "consent": True}  # fmt: skip


class Storage(Database):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._parsed: dict[str, crypto.PublicIdentity] = {}
        # The recipient set the last submission found, (fingerprint, key text) pairs: the next one is sealed to
        # it before the write lock is taken, and the set is checked again under the lock (see seal_and_store).
        self._last_recipients: tuple[tuple[str, str], ...] | None = None
        # SQLite: submissions that arrive together share one commit (one fsync); see intake.group_commit.
        self._group = GroupCommit(self.writing, self._store_group) if self.is_sqlite else None
        self._tokens_forgotten_on: datetime.date | None = None  # the day expired one-time tokens were deleted

    # --- submissions -------------------------------------------------------------------------------

    def store_submission(self, envelope: bytes, lookup: bytes, day: datetime.date, max_pending: int) -> bytes:
        """Store one envelope sealed to the registered keys, and its receipt hash; return its id."""
        return self.seal_and_store(lambda _recipients: envelope, lookup, day, max_pending)

    def seal_and_store(
        self,
        seal: Callable[[list[crypto.PublicIdentity]], bytes],
        lookup: bytes,
        day: datetime.date,
        max_pending: int,
        once: OneTime | None = None,
        files: Sequence[bytes] = (),
    ) -> bytes:
        """``seal(recipients)`` in memory, then store the envelope in one transaction.

        ``files``: the staged blobs (intake.blobs) its manifest names, tied to it in the same transaction
        (StagedBlobLostError, storing nothing, if one is no longer staged).

        Sealing (an X25519 and 32 KiB of AEAD) happens before the write lock is taken, to the recipient set
        the previous submission found; under the lock the set is read again and, if it changed meanwhile,
        the request is sealed again there, so an envelope is always sealed to exactly the set its
        transaction saw (tests/intake/test_seal_outside_lock.py). On SQLite the transaction may hold other
        submissions too (group commit, tests/intake/test_group_commit.py). Durable when this returns. An
        exception from ``seal`` stores nothing. Raises NoRecipientError when no caseworker key is
        registered, StorageFullError past ``max_pending``, AlreadySentError (storing nothing) when ``once``
        was used by a stored submission, in the same transaction as the envelope so that two concurrent
        posts of one form store one envelope (tests/intake/test_once.py).
        """
        try:
            known = self._last_recipients
            if known is None:
                with self.reading() as conn:
                    known = self._recipient_set(conn)
            envelope = seal([self._public(text) for _, text in known]) if known else None
            if self._group is not None:
                return self._group.submit((seal, known, envelope, lookup, day, max_pending, once, tuple(files)))  # type: ignore[no-any-return]
            with self.writing() as conn:
                return self._seal_and_store(conn, seal, (known, envelope), lookup, day, max_pending, once, files)
        except (OperationalError, sqlite3.OperationalError) as error:
            if is_out_of_space(error):
                # The transaction rolled back; the person gets the 503 page, the operator frees space.
                raise DiskFullError("the database or its disk is full") from None
            raise

    def store_followup(
        self, seal: Callable[[list[crypto.PublicIdentity]], bytes], day: datetime.date, max_pending: int,
        files: Sequence[bytes] = (),
    ) -> bytes:  # fmt: skip
        """A follow-up message: stored exactly like a request, under a receipt lookup nobody holds."""
        return self.seal_and_store(seal, secrets.token_bytes(32), day, max_pending, files=files)

    def _seal_and_store(
        self,
        conn: Connection,
        seal: Callable[[list[crypto.PublicIdentity]], bytes],
        sealed: tuple[tuple[tuple[str, str], ...], bytes | None],
        lookup: bytes,
        day: datetime.date,
        max_pending: int,
        once: OneTime | None = None,
        files: Sequence[bytes] = (),
    ) -> bytes:
        """One submission in its own transaction (PostgreSQL; SQLite stores groups, see _store_group)."""
        found = self._recipient_set(conn)
        if not found:
            raise NoRecipientError("no caseworker key is registered")
        known, envelope = sealed
        if found != known or envelope is None:
            # A key was added or removed since: seal again, under the lock, to the set stored with it.
            envelope = seal([self._public(text) for _, text in found])
        self._last_recipients = found
        # Envelopes stored before this one: only acks delete, so this is an O(1) read where count(*)
        # would scan a table that may hold many thousands of envelopes.
        received, collected = conn.execute(_BUMP_RECEIVED).one()
        if received - 1 - collected >= max_pending:
            raise StorageFullError("too many envelopes are waiting for export")  # rolls the counter back too
        if once is not None:
            if self._tokens_forgotten_on != day:
                conn.execute(_FORGET_TOKENS, {"day": day})
            used = pg_insert(used_tokens).values(digest=once.digest, forget_after=once.forget_after)
            # RETURNING: the driver's rowcount is not reliable here; a row comes back only if it was inserted.
            if conn.execute(used.on_conflict_do_nothing().returning(used_tokens.c.digest)).first() is None:
                raise AlreadySentError("this form was already sent")  # rolls everything back
            self._tokens_forgotten_on = day
        entry_id = secrets.token_bytes(16)
        conn.execute(_INSERT_ENVELOPE, {"id": entry_id, "serial": None, "envelope": envelope, "received_on": day,
                                        "sealed_to": ",".join(fp for fp, _ in found)})  # fmt: skip
        conn.execute(_INSERT_RECEIPT, {"lookup": lookup, "envelope_id": entry_id, "status": RECEIVED,
                                       "status_on": day})  # fmt: skip
        blob_store.attach(conn, files, entry_id)  # raises (rolling everything back) if one is gone
        return entry_id

    def _store_group(self, conn: Connection, group: list[Pending]) -> None:
        """SQLite: the submissions of one group commit (intake.group_commit), each as _seal_and_store would."""
        driver: Any = conn.connection.driver_connection  # sqlite3.Connection
        found = tuple(driver.execute(_SQLITE_RECIPIENTS))
        if not found:
            for item in group:
                item.error = NoRecipientError("no caseworker key is registered")
            return
        received, collected = driver.execute(_SQLITE_COUNTERS, (RECEIVED_COUNTER, COLLECTED_COUNTER)).fetchone()
        sealed_to, stored = ",".join(fp for fp, _ in found), 0
        for item in group:
            seal, known, envelope, lookup, day, max_pending, once, files = item.work
            if found != known or envelope is None:
                try:  # a key was added or removed since: seal again, under the lock, to the set stored with it
                    envelope = seal([self._public(text) for _, text in found])
                except Exception as error:
                    item.error = error
                    continue
            if received + stored - collected >= max_pending:
                item.error = StorageFullError("too many envelopes are waiting for export")
                continue
            if not blob_store.sqlite_all_staged(driver, files):
                item.error = blob_store.StagedBlobLostError("a staged file is gone")
                continue
            if once is not None:
                if self._tokens_forgotten_on != day:
                    driver.execute(_SQLITE_FORGET_TOKENS, (day.isoformat(),))
                    self._tokens_forgotten_on = day
                # OR IGNORE: a second post of the token (in this group or stored before) changes nothing.
                if driver.execute(_SQLITE_USE_ONCE, (once.digest, once.forget_after.isoformat())).rowcount == 0:
                    item.error = AlreadySentError("this form was already sent")
                    continue
            item.result = entry_id = secrets.token_bytes(16)
            driver.execute(_SQLITE_ENVELOPE, (random_rowid(), entry_id, envelope, day.isoformat(), sealed_to))
            driver.execute(_SQLITE_RECEIPT, (lookup, entry_id, RECEIVED, day.isoformat()))
            blob_store.sqlite_attach(driver, files, entry_id)
            stored += 1
        if stored:
            driver.execute(_SQLITE_SET_COUNTER, (received + stored, RECEIVED_COUNTER))
        self._last_recipients = found

    @staticmethod
    def _recipient_set(conn: Connection) -> tuple[tuple[str, str], ...]:
        return tuple((row.fingerprint, row.public_text) for row in conn.execute(_RECIPIENTS_SEALED))

    def receipt_status(self, lookup: bytes) -> str | None:
        with self.reading() as conn:
            row = conn.execute(_RECEIPT, {"lookup": lookup}).first()
        if row is None or not hmac.compare_digest(bytes(row.lookup), lookup):
            return None
        return str(row.status)

    def token_used(self, digest: bytes) -> bool:
        """Whether a stored submission used this one-time token (a cheap check before sealing)."""
        with self.reading() as conn:
            return conn.execute(_TOKEN_USED, {"digest": digest}).first() is not None

    def pending_count(self) -> int:
        with self.reading() as conn:
            return int(conn.execute(_PENDING).scalar_one())

    def envelope_bytes(self) -> list[tuple[bytes, bytes]]:
        """(id, envelope) of every stored envelope, in id order (random): for tests and the demo."""
        with self.reading() as conn:
            rows = conn.execute(select(envelopes.c.id, envelopes.c.envelope).order_by(envelopes.c.id))
            return [(bytes(r.id), bytes(r.envelope)) for r in rows]

    # --- replies ---------------------------------------------------------------------------------------

    def replies_for(self, mailbox: bytes) -> list[StoredReply]:
        """The sealed replies waiting under ``mailbox``, oldest day first (same day: random order)."""
        with self.reading() as conn:
            rows = conn.execute(_REPLIES, {"mailbox": mailbox}).all()
        found = [StoredReply(bytes(r.id), bytes(r.container), r.stored_on) for r in rows]
        return sorted(found, key=lambda r: (r.stored_on, r.reply_id))

    def delete_reply(self, mailbox: bytes, reply_id: bytes) -> bool:
        """Delete one reply; both its id and its mailbox must match (a reply id alone deletes nothing)."""
        with self.writing() as conn:
            gone = conn.execute(delete(replies_table).where(replies_table.c.mailbox == mailbox,
                                                            replies_table.c.id == reply_id)).rowcount  # fmt: skip
        if gone:
            self.scrub()
        return bool(gone)

    def expire_replies(self, older_than: datetime.date) -> int:
        """Delete replies stored before ``older_than``, read or not, and their digests; return how many."""
        with self.writing() as conn:
            gone = int(conn.execute(delete(replies_table).where(replies_table.c.stored_on < older_than)).rowcount)
            conn.execute(delete(reply_digests).where(reply_digests.c.stored_on < older_than))
        if gone:
            self.scrub()
        return gone

    # --- recipients --------------------------------------------------------------------------------

    def _public(self, text: str) -> crypto.PublicIdentity:
        public = self._parsed.get(text)
        if public is None:
            public = crypto.PublicIdentity.from_text(text)
            self._parsed[text] = public
        return public

    def recipients(self) -> list[Recipient]:
        with self.reading() as conn:
            rows = conn.execute(_RECIPIENTS).all()
        return [Recipient(r.fingerprint, self._public(r.public_text), r.added_on) for r in rows]

    def add_recipient(self, public: crypto.PublicIdentity, day: datetime.date) -> bool:
        """Register a key. False if this exact key is registered; DuplicateRecipientError if its name is taken.

        A real seal to the key is tried first (crypto.MalformedError if libsodium refuses the key).
        """
        crypto.seal_request(_PROBE_REQUEST, for_recipients=[public])
        with self.writing() as conn:
            rows = conn.execute(select(recipients.c.fingerprint, recipients.c.public_text)).all()
            if any(row.fingerprint == public.fingerprint for row in rows):
                return False
            for row in rows:
                if same_name(self._public(row.public_text).name, public.name):
                    raise DuplicateRecipientError(
                        f"another key is already registered under the name {public.name!r} ({row.fingerprint})"
                    )
                # One encryption key is one reader (FORMAT.md §4.3): sealing to both would fail, and the other
                # signing key could acknowledge (delete) what it was never able to read.
                if hmac.compare_digest(self._public(row.public_text).box_public, public.box_public):
                    raise DuplicateRecipientError(
                        f"the key {row.fingerprint} already registered has the same encryption key; one person's "
                        "key cannot be registered twice under two signing keys"
                    )
            conn.execute(insert(recipients).values(fingerprint=public.fingerprint, public_text=public.to_text(),
                                                   added_on=day))  # fmt: skip
            rotation.reinstate(conn, public.fingerprint)
        return True

    def remove_recipient(self, fingerprint: str, day: datetime.date | None = None) -> bool:
        """Stop sealing to a key; its public half stays while stored envelopes name it (intake.rotation)."""
        with self.writing() as conn:
            return rotation.retire(conn, fingerprint, day or today())

    def remember_former(self, public: crypto.PublicIdentity, day: datetime.date) -> int:
        """Keep a removed key's public half for the waiting envelopes that name it; return how many do."""
        with self.writing() as conn:
            return rotation.remember_former(conn, public, day)

    def only_readable_by(self, fingerprint: str) -> int:
        """How many stored envelopes would no registered key be able to read once ``fingerprint`` is removed."""
        with self.reading() as conn:
            return rotation.only_readable_by(conn, fingerprint)

    def unreadable_count(self) -> int:
        """Stored envelopes that no registered key can read (kept, never exported)."""
        with self.reading() as conn:
            return len(rotation.unreadable_ids(conn))

    def drop_unreadable(self) -> int:
        """Delete the envelopes no registered key can read; return how many."""
        with self.writing() as conn:
            gone = rotation.drop_unreadable(conn)
        if gone:
            self.scrub()
        return gone

    # --- export and acknowledgement ------------------------------------------------------------------

    def export(self, out: BinaryIO, server_key: crypto.ServerKey, day: datetime.date) -> exchange.ExportResult:
        return exchange.export(self, out, server_key, day, blobs=blob_store.blobs_in)

    def give_back(self, sequence: int) -> bool:
        """An export whose bundle never reached its file: its number is not spent (intake.exchange.give_back)."""
        return exchange.give_back(self, sequence)

    def apply_ack(self, data: bytes, server_key: crypto.ServerKey, day: datetime.date) -> exchange.AckResult:
        return exchange.apply_ack(self, data, server_key, day)

    def export_blobs(self) -> Iterator[crypto.ExportBlob]:
        """Every stored blob of an envelope waiting for export (CONTRACTS §2), each read row by row on demand."""
        return blob_store.export_blobs(self)

    def registered(self) -> Sequence[crypto.PublicIdentity]:
        return [r.public for r in self.recipients()]
