"""The case store: one SQLite file in the home folder; nothing in it is readable without a caseworker key.

* ``envelopes``: each envelope exactly as the server sealed it, with its entry id, serial, the day it
  was imported, the bundle it came in and its digest (what an acknowledgement names).
* ``records``: per case, status, notes and history as JSON sealed with the store key; the record's
  context is its entry id, so records cannot be swapped between cases unnoticed.
* ``listing``: per case and caseworker, what `triage list` needs from the envelope (its serial, the day it
  was imported, the request as read), sealed with the store key under the context ``listing:`` + entry id +
  the caseworker's fingerprint, so that listing 100,000 cases does not redo 100,000 public-key operations
  nor read the envelopes. Written by the caseworker's own import (or once, for an older store, by the first
  listing: ``triage.listing.fill``); it never changes, as the envelope never does. Only the caseworker
  whose key opened the envelope gets a row with its request, so sharing a home never shows anyone a request
  that was not sealed to them. The envelope stays the source of truth (``list --reopen``, ``show``).
* ``requests``: the cache that came before ``listing`` (each request's canonical JSON, sealed under
  ``request:`` + entry id + fingerprint). No longer written; read once to fill ``listing``, and kept so an
  older triage still lists such a store fast.
* ``meta``: sealed settings; above all the trust record (``triage.trust``): the pinned server key, the
  accepted recipient set, the last bundle imported and a manifest of the envelopes held, so editing the
  file cannot silently re-pin the server, rewind the replay check or change what an acknowledgement names.
* ``questionnaires``: each questionnaire version a bundle carried (its canonical bytes, sealed with the store
  key under its hash; ``triage.questionnaires``); which of them a caseworker accepted is in the trust record.
* ``caseworkers``: each caseworker's public key and the store key wrapped (crypto_box_seal) for them.

One random ``crypto.StoreKey`` per store is wrapped for every caseworker of the home; a caseworker
added later gets it from one who already has it (``triage grant``). Decrypted requests never come
here: they are opened from the envelopes, in memory, each time they are shown.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from triage import trust
from triage.errors import HomeError, NoAccessError

SCHEMA_VERSION = 2  # 2: the trust record replaces the separate 'server' and 'last_bundle' rows
STATUSES = ("new", "contacted", "in_progress", "evacuated", "closed", "duplicate", "not_eligible")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS caseworkers (
    fingerprint TEXT PRIMARY KEY, name TEXT NOT NULL, public_key TEXT NOT NULL, wrapped_store_key BLOB
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS envelopes (
    entry_id BLOB PRIMARY KEY, serial INTEGER NOT NULL, imported_on TEXT NOT NULL,
    bundle_sequence INTEGER NOT NULL, digest BLOB NOT NULL, envelope BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS records (entry_id BLOB PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS followups (
    entry_id BLOB PRIMARY KEY, serial INTEGER NOT NULL, imported_on TEXT NOT NULL,
    bundle_sequence INTEGER NOT NULL, digest BLOB NOT NULL, envelope BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS links (tag BLOB NOT NULL, entry_id BLOB NOT NULL, kind TEXT NOT NULL,
                                  PRIMARY KEY (tag, entry_id));
CREATE TABLE IF NOT EXISTS outbox (reply_id BLOB PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS recalled (reply_id BLOB PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS questionnaires (sha256 TEXT PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    entry_id BLOB NOT NULL, fingerprint TEXT NOT NULL, sealed BLOB NOT NULL, PRIMARY KEY (entry_id, fingerprint)
);
"""
# Added later (triage.listing): a store the older triage made gets them when it is first opened here; one on a
# medium that cannot be written is read as before, without them (``CaseStore.listing_ready``).
_LISTING_SCHEMA = """
CREATE TABLE IF NOT EXISTS listing (
    fingerprint TEXT NOT NULL, entry_id BLOB NOT NULL, sealed BLOB NOT NULL, PRIMARY KEY (fingerprint, entry_id)
);
CREATE INDEX IF NOT EXISTS envelopes_digests ON envelopes (entry_id, digest);
CREATE INDEX IF NOT EXISTS followups_digests ON followups (entry_id, digest);
"""


def request_context(entry_id: bytes, fingerprint: str) -> bytes:
    return b"request:" + entry_id + b":" + fingerprint.encode("ascii")


@dataclass
class CaseRecord:
    """What the caseworkers add to a case. Sealed as JSON; never stored in the clear.

    ``assignee`` (a caseworker's name, "" for nobody) and ``audit`` (who did what, on which day:
    ``{"on", "by", "action", "value"}``) came later: records written before them read with the defaults.
    """

    status: str = "new"
    notes: list[dict[str, str]] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    assignee: str = ""
    audit: list[dict[str, str]] = field(default_factory=list)
    # The fingerprints of the keys the server sealed this request to (from the bundle, invariant 14).
    sealed_to: list[str] = field(default_factory=list)
    # The conversation (triage.threads): {"dir": "in"|"out", "on", "text", "by"?, "state", "seq"? (int), …}.
    thread: list[dict[str, Any]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        value = {"status": self.status, "notes": self.notes, "history": self.history,
                 "assignee": self.assignee, "audit": self.audit, "sealed_to": self.sealed_to,
                 "thread": self.thread}  # fmt: skip
        return json.dumps(value, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> CaseRecord:
        value = json.loads(data)
        if value.keys() == _RECORD_KEYS:  # written by this triage: every key, and no other (every listing, per case)
            return cls(**value)
        return cls(
            status=value["status"], notes=value["notes"], history=value["history"],
            assignee=value.get("assignee", ""), audit=value.get("audit", []),
            sealed_to=value.get("sealed_to", []), thread=value.get("thread", []),
        )  # fmt: skip

    @property
    def unread(self) -> int:
        return sum(1 for message in self.thread if message.get("dir") == "in" and message.get("state") == "unread")


_RECORD_KEYS = frozenset({"status", "notes", "history", "assignee", "audit", "sealed_to", "thread"})


@dataclass(frozen=True)
class StoredCase:
    rowid: int
    entry_id: bytes
    serial: int
    imported_on: datetime.date
    record: CaseRecord


class CaseStore:
    """The SQLite file. ``unlock(identity)`` must succeed before anything sealed is read or written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        created = not path.exists()
        try:
            if created:
                # Create it 0600 before SQLite writes a byte.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA secure_delete = ON")  # overwritten records are zeroed, not left behind
            self.db.execute("PRAGMA temp_store = MEMORY")  # no temporary files next to the store
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise HomeError(f"The case store {path} was made by a newer triage; update triage.")
            self.db.executescript(_SCHEMA)
            try:
                self.db.executescript(_LISTING_SCHEMA)
            except sqlite3.OperationalError:  # read-only: listed from the envelopes and the older cache
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
            self.listing_ready = self._has_listing()
            self.version = int(version) if not created else SCHEMA_VERSION
            if created:
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (sqlite3.DatabaseError, UnicodeDecodeError):
            # A damaged schema page surfaces from Python's sqlite3 as a text-decoding error, not a DatabaseError.
            raise HomeError(f"The case store {path} is not a triage case store or is damaged.") from None
        self.key: crypto.StoreKey | None = None
        self.trust = trust.TrustState()

    def _has_listing(self) -> bool:
        names = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master")}
        return {"listing", "envelopes_digests", "followups_digests"} <= names

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: committed only if the block finishes without an exception."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            if self.key is not None:  # what was changed in memory was not committed either
                self.trust = trust.load(self.db, self.key)
            raise
        self.db.execute("COMMIT")

    # -- caseworkers and the store key ---------------------------------------------------------------

    def caseworkers(self) -> list[tuple[crypto.PublicIdentity, bool]]:
        rows = self.db.execute("SELECT public_key, wrapped_store_key IS NOT NULL FROM caseworkers ORDER BY name")
        return [(crypto.PublicIdentity.from_text(text), bool(has)) for text, has in rows]

    def add_caseworker(self, public: crypto.PublicIdentity) -> bool:
        """Register ``public``; True if it got the store key now (a new, empty store)."""
        with self.transaction():
            granted = self.db.execute("SELECT 1 FROM caseworkers WHERE wrapped_store_key IS NOT NULL").fetchone()
            wrapped = None if granted else crypto.StoreKey.generate().wrap_for(public)
            self.db.execute(
                "INSERT OR IGNORE INTO caseworkers VALUES (?, ?, ?, ?)",
                (public.fingerprint, public.name, public.to_text(), wrapped),
            )
        return wrapped is not None

    def unlock(self, identity: crypto.Identity) -> None:
        row = self.db.execute(
            "SELECT wrapped_store_key FROM caseworkers WHERE fingerprint = ?", (identity.fingerprint,)
        ).fetchone()
        if row is None:
            self.add_caseworker(identity.public)
            row = self.db.execute(
                "SELECT wrapped_store_key FROM caseworkers WHERE fingerprint = ?", (identity.fingerprint,)
            ).fetchone()
        if row[0] is None:
            raise NoAccessError(
                f"Your key ({identity.name}) has no access to this case store yet. A caseworker who has "
                f"access runs `triage grant {identity.name}` once; then try again."
            )
        self.key = crypto.StoreKey.unwrap(row[0], identity)
        if self.version < SCHEMA_VERSION:
            self._upgrade_trust()
        self.trust = trust.load(self.db, self.key)

    def _upgrade_trust(self) -> None:
        """A store made before the trust record: gather its sealed pins into one, once."""
        key = self.unlocked_key()
        with self.transaction():
            if self.db.execute("SELECT 1 FROM meta WHERE name = ?", (trust.TRUST_ROW,)).fetchone() is None:
                state = trust.TrustState(server=self.get_meta("server"), last_bundle=self.get_meta("last_bundle"))
                if state.server is not None or self.db.execute("SELECT 1 FROM envelopes LIMIT 1").fetchone() is None:
                    trust.save(self.db, key, state)
                    self.db.execute("DELETE FROM meta WHERE name IN ('server', 'last_bundle')")
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self.version = SCHEMA_VERSION

    def save_trust(self) -> None:
        """Seal the trust state with the envelopes as they are now; call inside a write transaction."""
        trust.save(self.db, self.unlocked_key(), self.trust)

    def grant(self, fingerprint: str) -> crypto.PublicIdentity:
        row = self.db.execute("SELECT public_key FROM caseworkers WHERE fingerprint = ?", (fingerprint,)).fetchone()
        if row is None:
            raise HomeError("No caseworker with that key is registered in this home.")
        public = crypto.PublicIdentity.from_text(row[0])
        self.db.execute(
            "UPDATE caseworkers SET wrapped_store_key = ? WHERE fingerprint = ?",
            (self.unlocked_key().wrap_for(public), fingerprint),
        )
        return public

    def unlocked_key(self) -> crypto.StoreKey:
        if self.key is None:
            raise HomeError("The case store is locked.")
        return self.key

    # -- sealed settings ------------------------------------------------------------------------------

    def get_meta(self, name: str) -> Any:
        row = self.db.execute("SELECT sealed FROM meta WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return json.loads(self.unlocked_key().open(row[0], context=b"meta:" + name.encode()))

    def set_meta(self, name: str, value: Any) -> None:
        sealed = self.unlocked_key().seal(json.dumps(value).encode(), context=b"meta:" + name.encode())
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, sealed))

    def pinned_server(self) -> crypto.ServerPublicKey | None:
        return self.trust.pinned_server()

    def pin_server(self, server: crypto.ServerPublicKey) -> None:
        """Pin ``server``; the replay check starts again from its bundles (call inside a transaction)."""
        self.trust.server = server.to_text()
        self.trust.last_bundle = None
        self.save_trust()

    def last_bundle(self) -> dict[str, Any] | None:
        return self.trust.last_bundle

    # -- envelopes and records ------------------------------------------------------------------------

    def envelope_digest_of(self, entry_id: bytes) -> bytes | None:
        row = self.db.execute(
            "SELECT digest FROM envelopes WHERE entry_id = ? UNION ALL SELECT digest FROM followups WHERE entry_id = ?",
            (entry_id, entry_id),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def add_case(self, entry: crypto.BundleEntry, *, digest: bytes, sequence: int, today: datetime.date) -> None:
        """Store an envelope that opened, with a new record; the importer writes its listing row (triage.listing)."""
        self.db.execute(
            "INSERT INTO envelopes VALUES (?, ?, ?, ?, ?, ?)",
            (entry.entry_id, entry.serial, today.isoformat(), sequence, digest, entry.envelope),
        )
        self.put_record(entry.entry_id, CaseRecord(sealed_to=list(getattr(entry, "sealed_to", ()))))

    def put_record(self, entry_id: bytes, record: CaseRecord) -> None:
        sealed = self.unlocked_key().seal(record.to_bytes(), context=b"case:" + entry_id)
        self.db.execute("INSERT OR REPLACE INTO records VALUES (?, ?)", (entry_id, sealed))

    def open_record(self, entry_id: bytes, sealed: bytes) -> CaseRecord:
        return CaseRecord.from_bytes(self.unlocked_key().open(sealed, context=b"case:" + entry_id))

    def serials(self, up_to: int) -> set[int]:
        rows = self.db.execute(
            "SELECT serial FROM envelopes WHERE serial <= ? UNION ALL SELECT serial FROM followups WHERE serial <= ?",
            (up_to, up_to),
        )
        return {s for (s,) in rows}

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM envelopes").fetchone()[0])

    def cases(self) -> Iterator[StoredCase]:
        """Every case with its record opened; envelopes are fetched one at a time with ``envelope``."""
        rows = self.db.execute(
            "SELECT e.rowid, e.entry_id, e.serial, e.imported_on, r.sealed "
            "FROM envelopes e JOIN records r ON r.entry_id = e.entry_id ORDER BY e.serial"
        )
        for rowid, entry_id, serial, imported_on, sealed in rows:
            entry_id = bytes(entry_id)
            record = self.open_record(entry_id, sealed)
            yield StoredCase(rowid, entry_id, serial, datetime.date.fromisoformat(imported_on), record)

    def envelope(self, rowid: int) -> bytes:
        return bytes(self.db.execute("SELECT envelope FROM envelopes WHERE rowid = ?", (rowid,)).fetchone()[0])

    def find(self, prefix_hex: str) -> list[StoredCase]:
        prefix = prefix_hex.strip().lower()
        if not prefix or any(ch not in "0123456789abcdef" for ch in prefix) or len(prefix) > 32:
            return []
        rows = self.db.execute(
            "SELECT e.rowid, e.entry_id, e.serial, e.imported_on, r.sealed FROM envelopes e "
            "JOIN records r ON r.entry_id = e.entry_id WHERE lower(hex(e.entry_id)) LIKE ? LIMIT 10",
            (prefix + "%",),
        )
        return [
            StoredCase(rowid, bytes(eid), serial, datetime.date.fromisoformat(on), self.open_record(bytes(eid), sealed))
            for rowid, eid, serial, on, sealed in rows
        ]

    def ack_entries(self) -> list[crypto.AckEntry]:
        rows = self.db.execute(
            "SELECT entry_id, digest FROM envelopes UNION ALL SELECT entry_id, digest FROM followups"
        )
        return [crypto.AckEntry(bytes(entry_id), bytes(digest)) for entry_id, digest in rows]
