"""Cases as the caseworker sees them: each envelope opened in memory, prioritised, never written back.

Envelopes are fetched one at a time (each is ~33 KB; 100,000 of them do not belong in memory), opened
with the caseworker's identity and prioritised; only the small decoded request stays alive, and only
for as long as the caller keeps the ``Case``. ``triage.parallel`` does the same on every core.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import crypto
from triage.answers_view import AnswerReader, Asked, asked_with_shipped, story_field
from triage.errors import CaseNotFoundError
from triage.i18n import N_
from triage.policy import Policy, Priority
from triage.store import CaseRecord, CaseStore, StoredCase

SHORT_ID_CHARS = 8


def short_id(entry_id: bytes) -> str:
    return entry_id.hex()[:SHORT_ID_CHARS]


@dataclass
class Case:
    entry_id: bytes
    serial: int
    imported_on: datetime.date
    record: CaseRecord
    request: dict[str, Any]
    priority: Priority
    days_waiting: int
    asked: Asked = field(default_factory=asked_with_shipped)  # the questionnaire the answers were given to

    @property
    def short_id(self) -> str:
        return short_id(self.entry_id)

    @property
    def story(self) -> str:
        """The person's own account (the questionnaire's longest text field), "" if it has none."""
        name = story_field(self.asked.questionnaire)
        value = self.request.get(name) if name is not None else None
        return value if isinstance(value, str) else ""

    def sort_key(self) -> tuple[int, int, int, int]:
        """Most severe level first, then highest score, then longest waiting, then first submitted."""
        return (self.priority.rank, -self.priority.score, -self.days_waiting, self.serial)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.entry_id.hex(),
            "short_id": self.short_id,
            "level": self.priority.level,
            "score": self.priority.score,
            "status": self.record.status,
            "reasons": list(self.priority.reasons),
            "days_waiting": self.days_waiting,
            "serial": self.serial,
            "imported_on": self.imported_on.isoformat(),
            "notes": self.record.notes,
            "thread": self.record.thread,
            "unread": self.record.unread,
            "sealed_to": self.record.sealed_to,
            "request": without_file_keys(self.request),
            "questionnaire": self.asked.ref,  # shared, not copied: the same for every case of a version
        }


def without_file_keys(request: dict[str, Any]) -> dict[str, Any]:
    """The request as listed: a file's key opens its sealed blob, and a listing may end up in a file or a pipe;
    it stays in the store (``triage attachment`` and the desk use it), never in the output."""
    files = request.get("files")
    if not isinstance(files, list):
        return request
    return {**request, "files": [{k: v for k, v in f.items() if k != "key"} if isinstance(f, dict) else f
                                 for f in files]}  # fmt: skip


@dataclass
class Skipped:
    """Cases that could not be shown, by cause: reported in one line, never silently dropped."""

    not_for_you: int = 0
    unreadable: int = 0
    by_status: int = 0
    errors: list[str] = field(default_factory=list)


def days_between(submitted_on: str, today: datetime.date) -> int:
    return max(0, (today - datetime.date.fromisoformat(submitted_on)).days)


def prioritised(
    entry_id: bytes, serial: int, imported_on: datetime.date, record: CaseRecord, payload: dict[str, Any],
    policy: Policy, today: datetime.date, reader: AnswerReader,
) -> Case:  # fmt: skip
    """A decoded request as a case: read with its questionnaire (``reader``), then prioritised by ``policy``."""
    request, asked = reader.read(payload)
    days = days_between(request["submitted_on"], today)
    priority = policy.evaluate_on(asked.questionnaire, request, days, new_messages=record.unread)
    return Case(entry_id, serial, imported_on, record, request, priority, days, asked)


def open_case(
    store: CaseStore, stored: StoredCase, identity: crypto.Identity, policy: Policy, today: datetime.date,
    reader: AnswerReader | None = None,
) -> Case:  # fmt: skip
    payload = crypto.open_request(store.envelope(stored.rowid), identity)
    return prioritised(stored.entry_id, stored.serial, stored.imported_on, stored.record, payload, policy, today,
                       reader or AnswerReader())  # fmt: skip


def find_case(store: CaseStore, prefix: str) -> StoredCase:
    matches = store.find(prefix)
    if not matches:
        raise CaseNotFoundError(N_("No case has an id starting with %(prefix)s; see `triage list`."),
                                prefix=repr(prefix.strip()[:32]))  # fmt: skip
    if len(matches) > 1:
        raise CaseNotFoundError(N_("%(count)s cases start with %(prefix)s; type more of the id."),
                                count=len(matches), prefix=repr(prefix.strip()[:32]))  # fmt: skip
    return matches[0]
