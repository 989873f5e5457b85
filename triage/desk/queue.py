"""The queue page's arithmetic, without Flask: filters, the in-memory search, counts, the weekly chart, and
the rows (bursts folded into one row, possible duplicates marked: ``triage.groups``).

Everything here works on ``Case`` objects already opened in memory; the search never builds an index
and never writes anything down.
"""

from __future__ import annotations

import datetime
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from triage.answers_view import text_fields
from triage.cases import Case
from triage.groups import Relations
from triage.policy import LEVELS
from triage.store import STATUSES
from triage.text import DISGUISING

# A case with one of these statuses has left the queue; the chart counts the rest as waiting.
DONE_STATUSES = frozenset({"evacuated", "closed", "duplicate", "not_eligible"})
CHART_WEEKS = 8


@dataclass(frozen=True)
class Filters:
    status: str = ""
    level: str = ""
    assignee: str = ""
    text: str = ""
    unread: bool = False

    @classmethod
    def from_args(cls, status: str, level: str, assignee: str, text: str, unread: str = "") -> Filters:
        """Unknown values are dropped rather than refused: a filter link never breaks the page."""
        return cls(
            status if status in STATUSES else "",
            level if level in LEVELS else "",
            _visible(assignee)[:64],
            _visible(text)[:200],
            unread == "1",
        )

    @property
    def active(self) -> bool:
        return bool(self.status or self.level or self.assignee or self.text or self.unread)


def _visible(value: str) -> str:
    """What a search box may hold: no bidi, zero-width or control characters (they would be echoed back)."""
    return "".join(ch for ch in value if unicodedata.category(ch) not in DISGUISING).strip()


def _matches_text(case: Case, needle: str) -> bool:
    for name in text_fields(case.asked.questionnaire, case.request):  # the person's own words, not the choices
        value = case.request.get(name)
        if isinstance(value, str) and needle in value.casefold():
            return True
    return any(needle in note.get("text", "").casefold() for note in case.record.notes) or case.short_id.startswith(
        needle
    )


def apply_filters(cases: Iterable[Case], filters: Filters) -> list[Case]:
    needle = filters.text.casefold()
    assignee = filters.assignee.casefold()
    return [
        case
        for case in cases
        if (not filters.status or case.record.status == filters.status)
        and (not filters.level or case.priority.level == filters.level)
        and (not assignee or case.record.assignee.casefold() == assignee)
        and (not filters.unread or case.record.unread > 0)
        and (not needle or _matches_text(case, needle))
    ]


@dataclass(frozen=True)
class Counts:
    levels: dict[str, int]
    statuses: dict[str, int]
    assignees: list[str]
    total: int
    with_new_messages: int


def count(cases: Sequence[Case]) -> Counts:
    open_cases = [c for c in cases if c.record.status not in DONE_STATUSES]
    levels = Counter(c.priority.level for c in open_cases)
    statuses = Counter(c.record.status for c in cases)
    assignees = sorted({c.record.assignee for c in cases if c.record.assignee})
    return Counts(
        {level: levels.get(level, 0) for level in LEVELS},
        {status: statuses.get(status, 0) for status in STATUSES},
        assignees,
        len(cases),
        sum(1 for c in cases if c.record.unread),
    )


@dataclass(frozen=True)
class Week:
    ends_on: datetime.date
    waiting: int  # cases received by then and not yet done
    arrived: int  # received that week
    median_days: int  # how long the waiting ones had waited, in the middle


def _done_on(case: Case) -> datetime.date | None:
    """The day the case last moved to a done status and stayed there, if it is done now."""
    if case.record.status not in DONE_STATUSES:
        return None
    for entry in reversed(case.record.history):
        if entry.get("status") in DONE_STATUSES:
            return datetime.date.fromisoformat(entry["on"])
    return datetime.date.min  # done without a dated change: left before any week shown


def weekly(cases: Sequence[Case], today: datetime.date, weeks: int = CHART_WEEKS) -> list[Week]:
    """For each of the last ``weeks`` weeks (oldest first): waiting, arrived, median waiting days."""
    spans = []
    for case in cases:
        submitted = datetime.date.fromisoformat(case.request["submitted_on"])
        spans.append((submitted, _done_on(case)))
    result = []
    for back in range(weeks - 1, -1, -1):
        end = today - datetime.timedelta(days=7 * back)
        start = end - datetime.timedelta(days=6)
        waiting_days = [(end - s).days for s, done in spans if s <= end and (done is None or done > end)]
        arrived = sum(1 for s, _ in spans if start <= s <= end)
        median = int(statistics.median(waiting_days)) if waiting_days else 0
        result.append(Week(end, len(waiting_days), arrived, median))
    return result


def first_line(text: str, limit: int = 90) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class Row:
    """One row of the queue table: a case, and when it leads a burst, the other members shown under it."""

    case: Case
    burst: tuple[Case, ...] = ()
    same_person: tuple[Case, ...] = ()


def rows(shown: Sequence[Case], relations: Relations, limit: int) -> tuple[list[Row], int]:
    """The table's rows over the filtered cases, a burst folded into its most urgent member's row.

    Returns at most ``limit`` rows and how many rows there are in all.
    """
    placed: set[int] = set()
    result: list[Row] = []
    total = 0
    for case in shown:
        group = relations.burst_of.get(case.entry_id)
        if group is not None and id(group) in placed:
            continue
        others: tuple[Case, ...] = ()
        if group is not None:
            placed.add(id(group))
            others = tuple(c for c in group if c is not case)
        total += 1
        if len(result) < limit:
            result.append(Row(case, others, tuple(relations.same_person.get(case.entry_id, ()))))
    return result, total


@dataclass(frozen=True)
class Related:
    """What the case page says about other cases: maybe the same person, and the burst it came in."""

    same_person: tuple[Case, ...]
    burst: tuple[Case, ...]


def related_to(case: Case, found: Relations) -> Related:
    burst = found.burst_of.get(case.entry_id, [])
    return Related(
        tuple(found.same_person.get(case.entry_id, ())), tuple(c for c in burst if c.entry_id != case.entry_id)
    )
