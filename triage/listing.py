"""The listing cache: per case and caseworker, what `triage list` reads instead of the envelope, sealed.

A row of the store's ``listing`` table (fingerprint, entry id, sealed) holds, sealed with the store key under
the context ``listing:`` + entry id + ``:`` + fingerprint, the facts of one case that never change: its serial,
the day it was imported, and the request as every face reads it (``AnswerReader.read``: a schema 3 payload
flattened with the questionnaire it names), as JSON text already escaped for a terminal
(``text.escape_disguising``), which is how ``list --json`` writes it. It is written when the caseworker's
import opens the envelope, or once, for a store made before it, by ``fill``; it never changes, because the
envelope it comes from never changes. What does change (status, notes, the thread) stays in ``records``
and is read from there on every listing, and nothing that depends on the day of listing (days waiting,
level, score, reasons) is kept: those are worked out each time. So a listing row cannot go stale.

A row may also say that the envelope is not sealed to this caseworker (``NOT_FOR_YOU``), so that a shared
home does not try every colleague's envelope again on every listing. A row that cannot be used as it is (the
questionnaire it was read with is no longer known) sends the listing back to the envelope, as before.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

import crypto
from crypto.questionnaire import Questionnaire
from triage.answers_view import AnswerReader, asked_with_shipped
from triage.cases import without_file_keys
from triage.store import CaseStore, request_context
from triage.text import escape_disguising

FORMAT = 1
SHIPPED = ord("1")  # schema 1 or 2: the request is the payload, read with the built-in questionnaire
READ = ord("3")  # schema 3 read with the questionnaire it names (its reference is kept): answers flattened
PAYLOAD = ord("P")  # the payload as decoded, read again on every listing (answers that did not fit, or no
#                     questionnaire held for them when it was written)
NOT_FOR_YOU = ord("X")  # the envelope is not sealed to this caseworker
# format, kind, serial, imported_on, then the lengths of the reference, the request and the facts
_HEAD = struct.Struct(">BBq10sHII")
_TEXT_KINDS = ("short_text", "long_text")
ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # what json.dumps(...) writes
# How that encoder quotes a string (json.encoder picks the C function when there is one): a list of strings is
# "[" + ",".join(map(QUOTE, strings)) + "]", the same text without building an encoder per list.
QUOTE = json.encoder.encode_basestring
FILL_BATCH = 512


def context(entry_id: bytes, fingerprint: str) -> bytes:
    return b"listing:" + entry_id + b":" + fingerprint.encode("ascii")


class Row(NamedTuple):
    """One listing row, opened. ``request``, ``listed_text`` and ``facts`` are JSON text (UTF-8 bytes)."""

    kind: int
    serial: int = 0
    imported_on: str = ""
    ref: bytes = b""  # the questionnaire reference as the payload gave it (READ), JSON
    request: bytes = b""  # the request as read (file keys included), escaped: what the faces use
    facts: bytes = b""  # [questionnaire sha256, what a policy can look at] (``policy_facts``), JSON
    listed_text: bytes = b""  # the request as `list --json` shows it, escaped, when it differs (no file keys)

    @property
    def listed(self) -> bytes:
        return self.listed_text or self.request


def encode_row(row: Row) -> bytes:
    if row.kind == NOT_FOR_YOU:
        return bytes((FORMAT, NOT_FOR_YOU))
    day = row.imported_on.encode("ascii")
    head = _HEAD.pack(FORMAT, row.kind, row.serial, day, len(row.ref), len(row.request), len(row.facts))
    return head + row.ref + row.request + row.facts + row.listed_text


def decode_row(data: bytes) -> Row:
    """A row's plaintext; ValueError if it is not one this triage writes."""
    if len(data) == 2 and data[0] == FORMAT and data[1] == NOT_FOR_YOU:
        return Row(NOT_FOR_YOU)
    if len(data) < _HEAD.size or data[0] != FORMAT:
        raise ValueError("not a listing row")
    _, kind, serial, day, ref_length, request_length, facts_length = _HEAD.unpack_from(data)
    a = _HEAD.size
    b = a + ref_length
    c = b + request_length
    d = c + facts_length
    return Row(kind, serial, day.decode("ascii"), data[a:b], data[b:c], data[c:d], data[d:])


def policy_facts(questionnaire: Questionnaire, request: dict[str, Any]) -> dict[str, Any]:
    """What any policy can look at in a request read with ``questionnaire``, and nothing more.

    A rule tests a text field only for being filled and a file field only for holding something
    (triage.policy.Condition); its points and sentences use integer fields; choices are tested as they are.
    So a text is kept as "x" or "" and a file answer as 1 or 0 (a 10,000-character story is not parsed on
    every listing to learn that it is filled), the rest as it is, with the day the request was sent.
    """
    facts: dict[str, Any] = {"submitted_on": request.get("submitted_on")}
    for f in questionnaire.fields:
        if f.id not in request:
            continue
        value = request[f.id]
        if f.kind in _TEXT_KINDS:
            facts[f.id] = "x" if (value or "").strip() else ""
        elif f.kind == "file":
            facts[f.id] = 1 if value else 0
        else:
            facts[f.id] = value
    return facts


def escaped_json(value: Any) -> bytes:
    return escape_disguising(ENCODE(value)).encode("utf-8")


def row_for(canonical: bytes, serial: int, imported_on: datetime.date, reader: AnswerReader) -> Row:
    """The row of a request encoded as ``canonical`` (crypto.encode_request; or the JSON of the request as the
    envelope's reader gave it, for a case the older triage listed from its envelope: keys keep their order)."""
    parsed = json.loads(canonical)  # the very object the cached-request listing parsed: same keys, same order
    ref = b""
    if parsed.get("schema") != 3:
        kind, request, asked = SHIPPED, parsed, asked_with_shipped()
    else:
        request, asked = reader.read(parsed)
        if asked.questionnaire is None:
            # Read again on every listing, as before: the questionnaire's words may come later.
            return Row(PAYLOAD, serial, imported_on.isoformat(), b"", escaped_json(parsed))
        kind, ref = READ, ENCODE(asked.ref).encode("utf-8")
    assert asked.questionnaire is not None
    facts = ENCODE([asked.questionnaire.sha256, policy_facts(asked.questionnaire, request)]).encode("utf-8")
    listed = without_file_keys(request)
    return Row(kind, serial, imported_on.isoformat(), ref, escaped_json(request), facts,
               b"" if listed is request else escaped_json(listed))  # fmt: skip


def put(store: CaseStore, entry_id: bytes, fingerprint: str, row: Row) -> None:
    sealed = store.unlocked_key().seal(encode_row(row), context=context(entry_id, fingerprint))
    store.db.execute("INSERT OR REPLACE INTO listing VALUES (?, ?, ?)", (fingerprint, entry_id, sealed))


def has_row(store: CaseStore, entry_id: bytes, fingerprint: str) -> bool:
    found = store.db.execute("SELECT 1 FROM listing WHERE fingerprint = ? AND entry_id = ?",
                             (fingerprint, entry_id)).fetchone()  # fmt: skip
    return found is not None


def missing(db: sqlite3.Connection, fingerprint: str) -> int:
    """How many cases have no listing row for this caseworker (cheap: two counts over small indexes)."""
    cases = db.execute("SELECT count(*) FROM envelopes").fetchone()[0]
    rows = db.execute("SELECT count(*) FROM listing WHERE fingerprint = ?", (fingerprint,)).fetchone()[0]
    return max(0, int(cases) - int(rows))


MISSING_ROWS = (
    "SELECT e.rowid, e.entry_id, e.serial, e.imported_on FROM envelopes e WHERE NOT EXISTS "
    "(SELECT 1 FROM listing l WHERE l.fingerprint = ? AND l.entry_id = e.entry_id) ORDER BY e.rowid"
)


# In no order (the caller sorts): read from the small index of digests, not the envelopes' own pages.
MISSING_ROWIDS = (
    "SELECT e.rowid FROM envelopes e INDEXED BY envelopes_digests WHERE NOT EXISTS "
    "(SELECT 1 FROM listing l WHERE l.fingerprint = ? AND l.entry_id = e.entry_id)"
)


def fill(store: CaseStore, identity: crypto.Identity, reader: AnswerReader,
         advance: Callable[[int], None] | None = None) -> int:  # fmt: skip
    """Write the missing rows of ``identity`` (a store made before the listing, or by an older triage): from
    the cached request where there is one, else by opening the envelope. Returns how many were written.

    Committed in batches, so an interrupted fill keeps what it did; an envelope that does not open (damaged)
    gets no row and is listed from the envelope, as before. A store that cannot be written (read-only) is
    left as it is.
    """
    me = identity.fingerprint
    key = store.unlocked_key()
    todo = store.db.execute(MISSING_ROWS, (me,)).fetchall()
    written = 0
    try:
        for start in range(0, len(todo), FILL_BATCH):
            batch = todo[start : start + FILL_BATCH]
            with store.transaction():
                for rowid, entry_id, serial, imported_on in batch:
                    entry_id = bytes(entry_id)
                    if has_row(store, entry_id, me):  # written meanwhile by an import in another process
                        continue
                    row = _row_from_store(store, key, identity, reader, rowid, entry_id, serial, imported_on)
                    if row is not None:
                        put(store, entry_id, me, row)
                        written += 1
            if advance is not None:
                advance(len(batch))
    except sqlite3.OperationalError:  # a read-only store or file system: listed from the envelopes, as before
        return written
    return written


def _row_from_store(
    store: CaseStore, key: crypto.StoreKey, identity: crypto.Identity, reader: AnswerReader, rowid: int,
    entry_id: bytes, serial: int, imported_on: str,
) -> Row | None:  # fmt: skip
    day = datetime.date.fromisoformat(imported_on)
    cached = store.db.execute("SELECT sealed FROM requests WHERE entry_id = ? AND fingerprint = ?",
                              (entry_id, identity.fingerprint)).fetchone()  # fmt: skip
    try:
        if cached is not None:
            canonical = key.open(bytes(cached[0]), context=request_context(entry_id, identity.fingerprint))
        else:  # listed until now straight from the envelope, keys in the order the envelope's reader gives them
            canonical = ENCODE(crypto.open_request(store.envelope(rowid), identity)).encode("utf-8")
    except crypto.NotRecipientError:
        return Row(NOT_FOR_YOU)
    except crypto.CryptoError:
        return None
    return row_for(canonical, serial, day, reader)
