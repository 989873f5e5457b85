"""Opening many envelopes on every core: `triage list` over 100,000 cases is mostly X25519 and XChaCha20.

The parent only splits the store into ranges of rows. Worker processes are forked, so the unlocked
identity and store key reach them by inheritance of memory, never through a pipe or a file. Each
worker reads its rows with its own read-only connection, opens the records and envelopes, applies the
policy and sends back either the finished JSON encoding (small) or the ``Case``. Plaintext travels
only through the anonymous pipes between these processes. Where ``fork`` does not exist (Windows,
macOS' default), everything runs in one process.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from triage.answers_view import AnswerReader
from triage.cases import Case, Skipped, prioritised
from triage.policy import Policy
from triage.render import case_json
from triage.store import CaseRecord, request_context
from triage.text import escape_disguising

CHUNK = 256
_ROWS = (
    "SELECT e.rowid, e.entry_id, e.serial, e.imported_on, r.sealed, q.sealed FROM envelopes e "
    "JOIN records r ON r.entry_id = e.entry_id "
    "LEFT JOIN requests q ON q.entry_id = e.entry_id AND q.fingerprint = ? "
    "WHERE e.rowid BETWEEN ? AND ?"
)


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


_worker: _Worker | None = None


def _start(job: ListJob) -> None:
    global _worker
    _worker = _Worker(job, sqlite3.connect(f"file:{job.store_path}?mode=ro", uri=True))


def _stop() -> None:
    global _worker
    if _worker is not None:
        _worker.db.close()
    _worker = None


def _open_rows(bounds: tuple[int, int]) -> tuple[list[Any], Skipped]:
    assert _worker is not None
    job = _worker.job
    results: list[Any] = []
    skipped = Skipped()
    db = _worker.db
    me = job.identity.fingerprint
    for rowid, entry_id, serial, imported_on, sealed, cached in db.execute(_ROWS, (me, *bounds)).fetchall():
        entry_id = bytes(entry_id)
        record_bytes = job.store_key.open(sealed, context=b"case:" + entry_id)
        record = CaseRecord.from_bytes(record_bytes)
        if job.statuses is not None and record.status not in job.statuses:
            skipped.by_status += 1
            continue
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
                envelope = db.execute("SELECT envelope FROM envelopes WHERE rowid = ?", (rowid,)).fetchone()[0]
                request = crypto.open_request(bytes(envelope), job.identity)
                request_bytes = b""
        except crypto.NotRecipientError:
            skipped.not_for_you += 1  # sealed only to another caseworker of this home
            continue
        except crypto.CryptoError:
            skipped.unreadable += 1
            continue
        if not job.as_json:
            # Plain bytes cross the pipe far faster than pickled Case objects (3x on 10,000 cases); the
            # parent parses and prioritises them (``_case_from``).
            encoded = request_bytes or json.dumps(request).encode("utf-8")
            results.append((entry_id, serial, imported_on, record_bytes, encoded))
            continue
        assert request is not None
        case = prioritised(entry_id, serial, datetime.date.fromisoformat(imported_on), record, request, job.policy,
                           job.today, job.reader)  # fmt: skip
        # The cache's text stands for the request only if the request shown is that very object (a schema 3
        # payload is shown flattened by its questionnaire: encoded in full).
        if request_text is not None and case.request is request:
            results.append((case.sort_key(), spliced_json(case, request_text)))
        else:
            results.append((case.sort_key(), case_json(case)))
    return results, skipped


def spliced_json(case: Case, request_text: str) -> bytes:
    """``render.case_json(case)`` for a case whose request was parsed from ``request_text``, the store's cache.

    The cache holds the request's canonical encoding (crypto.encode_request: sorted keys, these separators,
    no ASCII escaping), which is exactly what json.dumps writes again for the object parsed from it; so the
    request, most of every case's bytes, is spliced in as it is instead of being encoded again (a third of
    the cache path's own work at 100,000 cases). Anything else (a summary whose request is not that very
    object) is encoded in full. tests/triage/test_list_json_splice.py proves both give the same bytes.
    """
    summary = case.summary()
    keys = list(summary)
    if "request" not in summary or keys[0] == "request" or summary["request"] is not case.request:
        return case_json(case)
    at = keys.index("request")
    before = json.dumps({k: summary[k] for k in keys[:at]}, ensure_ascii=False, separators=(",", ":"))
    after = json.dumps({k: summary[k] for k in keys[at + 1 :]}, ensure_ascii=False, separators=(",", ":"))
    rest = "}" if after == "{}" else "," + after[1:]
    return escape_disguising(before[:-1] + ',"request":' + request_text + rest).encode("utf-8")


def _case_from(job: ListJob, opened: tuple[bytes, int, str, bytes, bytes]) -> Case:
    entry_id, serial, imported_on, record_bytes, request_bytes = opened
    return prioritised(entry_id, serial, datetime.date.fromisoformat(imported_on), CaseRecord.from_bytes(record_bytes),
                       json.loads(request_bytes), job.policy, job.today, job.reader)  # fmt: skip


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
    """Yield, in no particular order, ``(sort_key, json_bytes)`` if ``as_json`` else a ``Case``, per case.

    ``db`` is the caller's connection, used only to plan the ranges of rows each worker reads.
    """
    rowids = [r for (r,) in db.execute("SELECT rowid FROM envelopes ORDER BY rowid")]
    ranges = [(rowids[i], rowids[min(i + CHUNK, len(rowids)) - 1]) for i in range(0, len(rowids), CHUNK)]
    del rowids
    if jobs <= 1 or len(ranges) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        _start(job)
        try:
            yield from _finish(job, _drain(map(_open_rows, ranges), skipped, advance))
        finally:
            _stop()
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(min(jobs, len(ranges)), initializer=_start, initargs=(job,)) as pool:
        yield from _finish(job, _drain(pool.imap_unordered(_open_rows, ranges), skipped, advance))


def _finish(job: ListJob, results: Iterator[Any]) -> Iterator[Any]:
    return results if job.as_json else (_case_from(job, opened) for opened in results)


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
