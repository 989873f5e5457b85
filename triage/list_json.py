"""The JSON of listed cases, written in pieces: what many cases share is worked out once per listing (``Memo``),
and each case's bytes are joined from its head, its record's part, its request and its questionnaire's tail,
exactly as ``render.case_json`` writes the whole (tests/triage/test_reopen_json.py, test_list_json_splice.py)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

from triage.answers_view import AnswerReader, Asked, asked_with_shipped
from triage.cases import SHORT_ID_CHARS, Case, days_between, without_file_keys
from triage.listing import ENCODE, QUOTE, escaped_json
from triage.policy import Policy, Priority
from triage.render import case_json
from triage.store import CaseRecord
from triage.text import escape_disguising

MAX_RECORDS = 4096  # distinct records (and days, references) a listing keeps read (a few MiB at most)


def tail_of(ref: Mapping[str, Any]) -> bytes:
    return escaped_json(ref).join((b',"questionnaire":', b"}"))


class Memo:
    """What many cases share, worked out once per listing: days since a day, a questionnaire's reading, words."""

    def __init__(self, today: datetime.date, reader: AnswerReader, policy: Policy) -> None:
        self.today, self.reader, self.policy = today, reader, policy
        self.days: dict[str, int] = {}
        self.asked: dict[bytes, Asked | None] = {}
        self.tails: dict[int, tuple[Asked, bytes]] = {}
        self.words: dict[Any, str] = {}
        self.ref_tails: dict[tuple[Any, ...], bytes] = {}
        self.iso_days: dict[str, str] = {}
        # Records by their plaintext: most cases of a queue are new, with no note and no message yet, and so have
        # the very same record (its status and who it was sealed to). Read once; never changed by the listing.
        self.records: dict[bytes, tuple[CaseRecord, bytes]] = {}

    def record(self, plaintext: bytes) -> tuple[CaseRecord, bytes]:
        """A record and its JSON part, read once per distinct plaintext."""
        known = self.records.get(plaintext)
        if known is not None:
            return known
        record = CaseRecord.from_bytes(plaintext)
        found = (record, record_json(record))
        if len(self.records) < MAX_RECORDS:
            self.records[plaintext] = found
        return found

    def days_since(self, submitted_on: str) -> int:
        days = self.days.get(submitted_on)
        if days is None:
            days = self.days[submitted_on] = days_between(submitted_on, self.today)
        return days

    def asked_for(self, ref: bytes) -> Asked | None:
        """How a READ row's request was asked: the questionnaire it names, if this laptop still holds it."""
        if not ref:
            return asked_with_shipped()
        if ref not in self.asked:
            named = json.loads(ref)
            found = self.reader.questionnaire(named["id"], named["version"], named["sha256"])
            self.asked[ref] = None if found is None else Asked(found, named)
        return self.asked[ref]

    def tail(self, asked: Asked) -> bytes:
        """The end of a case's JSON after its request: the questionnaire reference (the last key of a summary)."""
        found = self.tails.get(id(asked))
        if found is None:
            found = self.tails[id(asked)] = (asked, tail_of(asked.ref))
        return found[1]

    def ref_tail(self, ref: Mapping[str, Any]) -> bytes:
        """``tail`` for any questionnaire reference, once per reference (its keys in order, its values typed)."""
        try:
            key = tuple((k, v.__class__, v) for k, v in ref.items())
            found = self.ref_tails.get(key)
        except TypeError:  # a value that cannot be a key: encoded every time
            return tail_of(ref)
        if found is None:
            found = tail_of(ref)
            if len(self.ref_tails) < MAX_RECORDS:
                self.ref_tails[key] = found
        return found

    def day(self, imported_on: str) -> str:
        """The day a case was imported as ``Case.summary`` writes it (``date.isoformat``), once per day."""
        day = self.iso_days.get(imported_on)
        if day is None:
            day = datetime.date.fromisoformat(imported_on).isoformat()
            if len(self.iso_days) < MAX_RECORDS:
                self.iso_days[imported_on] = day
        return day

    def word(self, value: Any) -> str:
        """A short value's JSON (a level, a status), once per value."""
        text = self.words.get(value)
        if text is None:
            text = self.words[value] = ENCODE(value)
        return text


def head_json(memo: Memo, entry_id: bytes, priority: Priority, days: int, serial: int, day: str,
          record: CaseRecord) -> bytes:  # fmt: skip
    """A case's JSON up to its record's part (``Memo.record``): ``render.case_json`` writes these keys in this
    order (Case.summary). ``day``: the day it was imported, as ``date.isoformat`` writes it."""
    case_id = entry_id.hex()
    words = memo.words
    level, status = priority.level, record.status
    text = "".join((
        '{"id":"', case_id, '","short_id":"', case_id[:SHORT_ID_CHARS],
        '","level":', words.get(level) or memo.word(level), ',"score":', str(priority.score),
        ',"status":', words.get(status) or memo.word(status),
        # A list of strings, written as json.dumps writes one (its separators, each string as it quotes it)
        ',"reasons":[', ",".join(map(QUOTE, priority.reasons)),
        '],"days_waiting":', str(days), ',"serial":', str(serial),
        ',"imported_on":', words.get(day) or memo.word(day),
    ))  # fmt: skip
    return escape_disguising(text).encode("utf-8")


def record_json(record: CaseRecord) -> bytes:
    """The part of a case's JSON that comes from its record, after ``head_json`` and before the request."""
    text = "".join((
        ',"notes":', ENCODE(record.notes) if record.notes else "[]",
        ',"thread":', ENCODE(record.thread) if record.thread else "[]", ',"unread":', str(record.unread),
        ',"sealed_to":', ENCODE(record.sealed_to) if record.sealed_to else "[]", ',"request":',
    ))  # fmt: skip
    return escape_disguising(text).encode("utf-8")


def encoded_case(memo: Memo, entry_id: bytes, serial: int, imported_on: str, record_bytes: bytes,
             payload: dict[str, Any]) -> tuple[tuple[int, int, int, int], bytes]:  # fmt: skip
    """``(case.sort_key(), render.case_json(case))`` for the case ``prioritised`` makes of a decoded payload,
    written in pieces as the listing rows' cases are: the record's part once per record, the questionnaire's
    once per reference, and no summary built (tests/triage/test_reopen_json.py: the same bytes)."""
    record, record_part = memo.record(record_bytes)
    request, asked = memo.reader.read(payload)
    days = memo.days_since(request["submitted_on"])
    priority = memo.policy.evaluate_on(asked.questionnaire, request, days, new_messages=record.unread)
    head = head_json(memo, entry_id, priority, days, serial, memo.day(imported_on), record)
    encoded = head + record_part + escaped_json(without_file_keys(request)) + memo.ref_tail(asked.ref)
    return (priority.rank, -priority.score, -days, serial), encoded


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
