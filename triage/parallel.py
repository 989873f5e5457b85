"""Opening many envelopes on every core: `triage list` over 100,000 cases is mostly X25519 and XChaCha20.

The parent only splits the store into ranges of rows. Worker processes are forked (triage.forked), so the
unlocked identity and store key reach them by inheritance of memory, never through a pipe or a file. Each
worker reads its rows with its own read-only connection, opens the records and envelopes, applies the
policy and sends back either the finished JSON encoding (small) or what the parent makes a ``Case`` of.
Plaintext travels only through the anonymous pipes between these processes. Where ``fork`` does not exist
(Windows, macOS' default), everything runs in one process.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import json
import os
import pickle  # only what this process's own forked workers wrote
import sqlite3
import struct
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from triage import forked, listing
from triage.answers_view import AnswerReader
from triage.cases import Case, Skipped, prioritised
from triage.list_json import Memo, encoded_case, head_json, spliced_json
from triage.policy import Policy
from triage.render import case_json
from triage.store import CaseRecord, request_context

CHUNK = 256
# Cases with a listing row (triage.listing): never the envelopes table. ``+l.fingerprint`` keeps SQLite on the
# rowid range instead of the (fingerprint, entry_id) index, which would be scanned whole for every range.
_LISTED = (
    "SELECT l.entry_id, l.sealed, r.sealed FROM listing l JOIN records r ON r.entry_id = l.entry_id "
    "WHERE +l.fingerprint = ? AND l.rowid BETWEEN ? AND ?"
)
# Cases without one (not filled: a store that cannot be written, a damaged envelope), from the envelopes; also a
# store that cannot be written, made before the listing (no listing table): every case as it was listed then.
_ROWS = (
    "SELECT e.rowid, e.entry_id, e.serial, e.imported_on, r.sealed, q.sealed FROM envelopes e "
    "JOIN records r ON r.entry_id = e.entry_id "
    "LEFT JOIN requests q ON q.entry_id = e.entry_id AND q.fingerprint = ? "
)
_UNLISTED = _ROWS + (  # noqa: S608 - constant text only
    "WHERE e.rowid BETWEEN ? AND ? AND NOT EXISTS "
    "(SELECT 1 FROM listing l WHERE l.fingerprint = ? AND l.entry_id = e.entry_id)"
)
_LEGACY = _ROWS + "WHERE e.rowid BETWEEN ? AND ?"
# --reopen: each envelope read with its row (one walk of its pages, not a second lookup per case).
_ALL = (
    "SELECT e.rowid, e.entry_id, e.serial, e.imported_on, r.sealed, NULL, e.envelope FROM envelopes e "
    "JOIN records r ON r.entry_id = e.entry_id WHERE e.rowid BETWEEN ? AND ?"
)
_ONE = _ROWS + "WHERE e.entry_id = ?"
# The kinds of work, each over a range of rowids: listing rows; envelopes without one; every envelope (--reopen).
LISTED, UNLISTED, ALL, LEGACY = "listing", "unlisted", "envelopes", "legacy"


@dataclass(frozen=True)
class ListJob:
    """Everything a worker needs; it reaches forked workers by inheritance, never by pickling."""

    store_path: Path
    identity: crypto.Identity
    store_key: crypto.StoreKey
    policy: Policy
    today: datetime.date
    statuses: Collection[str] | None
    as_json: bool
    reopen: bool = False
    reader: AnswerReader = field(default_factory=AnswerReader)  # finds each request's questionnaire


@dataclass
class _Worker:
    job: ListJob
    db: sqlite3.Connection
    memo: Memo


_worker: _Worker | None = None


def _start(job: ListJob, *, worker: bool = False) -> None:
    global _worker
    db = sqlite3.connect(f"file:{job.store_path}?mode=ro", uri=True)
    _worker = _Worker(job, db, Memo(job.today, job.reader, job.policy))
    if worker:
        gc.disable()  # a forked worker: see _no_cycle_collection


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The listing makes no reference cycles, but keeps 100,000 cases' results alive while it runs: Python's cycle
    collector would walk all of them again and again as they pile up (a tenth of the listing's time). Reference
    counting frees everything as before; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _stop() -> None:
    global _worker
    if _worker is not None:
        _worker.db.close()
    _worker = None


def _open_rows(work: tuple[str, int, int]) -> tuple[list[Any], Skipped]:
    assert _worker is not None
    kind, low, high = work
    if kind != LISTED:
        return _open_envelopes(kind, low, high)
    job, db, memo = _worker.job, _worker.db, _worker.memo
    results: list[Any] = []
    skipped = Skipped()
    me = job.identity.fingerprint
    key, statuses, as_json = job.store_key, job.statuses, job.as_json
    for entry_id, sealed_row, sealed in db.execute(_LISTED, (me, low, high)).fetchall():
        entry_id = bytes(entry_id)
        record_bytes = key.open(sealed, context=b"case:" + entry_id)
        record, record_part = memo.record(record_bytes)
        if statuses is not None and record.status not in statuses:
            skipped.by_status += 1
            continue
        try:
            row = listing.decode_row(key.open(sealed_row, context=listing.context(entry_id, me)))
        except (crypto.CryptoError, ValueError):
            row = None  # not one this triage can use: the envelope says what it holds
        if row is not None and row.kind == listing.NOT_FOR_YOU:
            skipped.not_for_you += 1  # sealed only to another caseworker of this home
            continue
        asked = None if row is None or row.kind == listing.PAYLOAD else memo.asked_for(row.ref)
        if row is None or (asked is None and row.kind != listing.PAYLOAD):
            for found in db.execute(_ONE, (me, entry_id)).fetchall():
                _open_one(found, results, skipped, record_bytes, record)
            continue
        if not as_json:
            # Plain bytes cross the pipe far faster than pickled Case objects (3x on 10,000 cases); the
            # parent parses and prioritises them (``_case_from``).
            ref = None if asked is None else row.ref
            results.append((entry_id, row.serial, row.imported_on, record_bytes, row.request, ref))
            continue
        if asked is None:  # a payload read again with its questionnaire, as the envelope would be: encoded in full
            case = prioritised(entry_id, row.serial, datetime.date.fromisoformat(row.imported_on), record,
                               json.loads(row.request), job.policy, job.today, job.reader)  # fmt: skip
            results.append((case.sort_key(), case_json(case)))
            continue
        # The policy reads only the facts kept for it (listing.policy_facts), if they were taken with this very
        # questionnaire; the request itself goes out as the text the row holds.
        sha256, facts = json.loads(row.facts)
        assert asked.questionnaire is not None
        request = facts if sha256 == asked.questionnaire.sha256 else json.loads(row.request)
        days = memo.days_since(request["submitted_on"])
        priority = job.policy.evaluate_on(asked.questionnaire, request, days, new_messages=record.unread)
        head = head_json(memo, entry_id, priority, days, row.serial, row.imported_on, record)
        results.append(((priority.rank, -priority.score, -days, row.serial), head + record_part + row.listed +
                        memo.tail(asked)))  # fmt: skip
    return results, skipped


def _open_envelopes(kind: str, low: int, high: int) -> tuple[list[Any], Skipped]:
    assert _worker is not None
    me = _worker.job.identity.fingerprint
    results: list[Any] = []
    skipped = Skipped()
    query, values = {UNLISTED: (_UNLISTED, (me, low, high, me)), ALL: (_ALL, (low, high)),
                     LEGACY: (_LEGACY, (me, low, high))}[kind]  # fmt: skip
    for found in _worker.db.execute(query, values).fetchall():
        _open_one(found, results, skipped)
    return results, skipped


def _open_one(found: tuple[Any, ...], results: list[Any], skipped: Skipped, record_bytes: bytes | None = None,
              record: CaseRecord | None = None) -> None:  # fmt: skip
    """One case from its envelope (or the cache that came before the listing): as every listing did before it."""
    assert _worker is not None
    job, db, memo = _worker.job, _worker.db, _worker.memo
    me = job.identity.fingerprint
    rowid, entry_id, serial, imported_on, sealed, cached, *envelope = found
    entry_id = bytes(entry_id)
    if record is None or record_bytes is None:
        record_bytes = job.store_key.open(sealed, context=b"case:" + entry_id)
        # Most records are alike (a new case's): for JSON each is read once (``Memo.record``).
        record = memo.record(record_bytes)[0] if job.as_json else CaseRecord.from_bytes(record_bytes)
        if job.statuses is not None and record.status not in job.statuses:
            skipped.by_status += 1
            return
    try:
        request_text = None
        if cached is not None and not job.reopen:
            request_bytes = job.store_key.open(cached, context=request_context(entry_id, me))
            if job.as_json:
                request_text = request_bytes.decode("utf-8")
                request = json.loads(request_text)
            else:
                request = None
        else:
            if not envelope:
                envelope = db.execute("SELECT envelope FROM envelopes WHERE rowid = ?", (rowid,)).fetchone()
            request = crypto.open_request(bytes(envelope[0]), job.identity)
            request_bytes = b""
    except crypto.NotRecipientError:
        skipped.not_for_you += 1  # sealed only to another caseworker of this home
        return
    except crypto.CryptoError:
        skipped.unreadable += 1
        return
    if not job.as_json:
        encoded = request_bytes or json.dumps(request).encode("utf-8")
        results.append((entry_id, serial, imported_on, record_bytes, encoded, None))
        return
    assert request is not None
    if request_text is None:  # opened from its envelope
        results.append(encoded_case(memo, entry_id, serial, imported_on, record_bytes, request))
        return
    case = prioritised(entry_id, serial, datetime.date.fromisoformat(imported_on), record, request, job.policy,
                       job.today, job.reader)  # fmt: skip
    # The cache's text stands for the request only if the request shown is that very object (a schema 3
    # payload is shown flattened by its questionnaire: encoded in full).
    if request_text is not None and case.request is request:
        results.append((case.sort_key(), spliced_json(case, request_text)))
    else:
        results.append((case.sort_key(), case_json(case)))


def _case_from(job: ListJob, memo: Memo, opened: tuple[bytes, int, str, bytes, bytes, bytes | None]) -> Case:
    entry_id, serial, imported_on, record_bytes, request_bytes, ref = opened
    record = CaseRecord.from_bytes(record_bytes)
    day = datetime.date.fromisoformat(imported_on)
    if ref is None:  # a payload, read here with its questionnaire
        return prioritised(entry_id, serial, day, record, json.loads(request_bytes), job.policy, job.today,
                           job.reader)  # fmt: skip
    asked = memo.asked_for(ref)
    assert asked is not None  # the worker found it with the same reader
    request = json.loads(request_bytes)
    days = memo.days_since(request["submitted_on"])
    priority = job.policy.evaluate_on(asked.questionnaire, request, days, new_messages=record.unread)
    return Case(entry_id, serial, day, record, request, priority, days, asked)


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def open_all(
    db: sqlite3.Connection,
    job: ListJob,
    *,
    jobs: int,
    skipped: Skipped,
    advance: Callable[[int], None] | None = None,
) -> Iterator[Any]:
    """Yield, in no particular order, ``(sort_key, json)`` if ``as_json`` (the JSON's bytes, or a view of them in
    a worker's message) else a ``Case``, per case.

    ``db`` is the caller's connection, used only to plan the ranges of rows each worker reads.
    """
    me = job.identity.fingerprint
    # The parent's connection plans the work: ranges of listing rows, and of envelopes without one.
    ready = db.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('listing', 'envelopes_digests')")
    if ready.fetchone()[0] != 2:  # a store made before the listing, that cannot be written
        rowids = [r for (r,) in db.execute("SELECT rowid FROM envelopes ORDER BY rowid")]
        ranges = _ranges(ALL if job.reopen else LEGACY, rowids)
    elif job.reopen:
        ranges = _ranges(ALL, envelope_rowids(db))
    else:
        listed = [r for (r,) in db.execute("SELECT rowid FROM listing WHERE fingerprint = ? ORDER BY rowid", (me,))]
        ranges = _ranges(LISTED, listed)
        del listed
        if listing.missing(db, me):
            ranges += _ranges(UNLISTED, sorted(r for (r,) in db.execute(listing.MISSING_ROWIDS, (me,))))
    if jobs <= 1 or len(ranges) <= 1 or not hasattr(os, "fork"):
        _start(job)
        try:
            with _no_cycle_collection():
                yield from _finish(job, _drain(map(_open_rows, ranges), skipped, advance))
        finally:
            _stop()
        return

    def run(work: tuple[str, int, int]) -> bytes:
        return packed(*_open_rows(work), as_json=job.as_json)

    results = forked.fork_map(ranges, run, jobs, lambda: _start(job, worker=True))
    with contextlib.closing(results), _no_cycle_collection():
        outputs = (unpacked(message, as_json=job.as_json) for _, message in results)
        yield from _finish(job, _drain(outputs, skipped, advance))


_META = struct.Struct(">Q")


def packed(results: list[Any], skipped: Skipped, *, as_json: bool) -> bytes:
    """A worker's results for one range, as the one message it sends back (``unpacked`` reads it).

    JSON: every case's encoding, end to end, after the sort keys and lengths; the parent keeps the message as it
    read it and each case as a view of it, so the bulk of the listing (a few KB a case) is neither pickled nor
    copied out again case by case. Anything else (what ``_case_from`` reads) is pickled as it is."""
    if not as_json:
        return pickle.dumps((results, skipped), protocol=pickle.HIGHEST_PROTOCOL)
    meta = pickle.dumps(([key for key, _ in results], [len(encoded) for _, encoded in results], skipped),
                        protocol=pickle.HIGHEST_PROTOCOL)  # fmt: skip
    return b"".join((_META.pack(len(meta)), meta, *(encoded for _, encoded in results)))


def unpacked(message: bytes | bytearray, *, as_json: bool) -> tuple[list[Any], Skipped]:
    """``packed``'s results: for JSON, ``(sort_key, encoding)`` per case, each encoding a view of ``message``."""
    view = memoryview(message)
    if not as_json:
        return pickle.loads(view)  # type: ignore[no-any-return]  # noqa: S301 - written by our own worker
    (size,) = _META.unpack_from(view)
    at = _META.size + size
    keys, lengths, skipped = pickle.loads(view[_META.size : at])  # noqa: S301 - written by our own worker
    results = []
    for key, length in zip(keys, lengths, strict=True):
        results.append((key, view[at : at + length]))
        at += length
    if at != len(view):
        raise ValueError("a worker's results do not add up")
    return results, skipped


def envelope_rowids(db: sqlite3.Connection) -> list[int]:
    """Every case's rowid, in order, read from the small index of digests rather than the envelopes' own pages
    (about 33 KB a row: 100,000 of them are gigabytes to walk with a cold page cache)."""
    return sorted(r for (r,) in db.execute("SELECT rowid FROM envelopes INDEXED BY envelopes_digests"))


def _ranges(kind: str, rowids: list[int]) -> list[tuple[str, int, int]]:
    return [(kind, rowids[i], rowids[min(i + CHUNK, len(rowids)) - 1]) for i in range(0, len(rowids), CHUNK)]


def _finish(job: ListJob, results: Iterator[Any]) -> Iterator[Any]:
    if job.as_json:
        return results
    memo = Memo(job.today, job.reader, job.policy)
    return (_case_from(job, memo, opened) for opened in results)


def _drain(
    outputs: Iterator[tuple[list[Any], Skipped]], skipped: Skipped, advance: Callable[[int], None] | None
) -> Iterator[Any]:
    for results, counts in outputs:
        skipped.not_for_you += counts.not_for_you
        skipped.unreadable += counts.unreadable
        skipped.by_status += counts.by_status
        if advance is not None:
            advance(len(results) + counts.not_for_you + counts.unreadable + counts.by_status)
        yield from results
