"""Cases that belong together, worked out in memory on the laptop each time the queue is drawn.

* **Possibly the same person**: two cases that give the same contact handle (a phone number compared by its
  last ten digits, any other handle without spaces, case or a leading @) or the same reply key. Only
  a hint for a caseworker, who decides and links them (``Session.link_duplicate``); nothing is merged.
* **A burst**: at least ``BURST_MIN`` requests of the same level with near-identical stories, sent within
  ``BURST_DAYS`` of each other, as a flood sends them. The faces show a burst as one row (the most
  urgent member) with the others listed under it; every member stays a case of its own, opened one by
  one. Requiring the same level keeps an emergency from ever being folded under a calmer row.

Near-identical: after folding case, digits and punctuation away, two stories share their first, middle
or last ``BAND_WORDS`` words (or the whole text, when shorter) and ``SIMILAR`` of their distinct words.
The bands keep this linear in the number of cases; nothing of it is written anywhere.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from triage.cases import Case

BURST_MIN = 3
BURST_DAYS = 1
BAND_WORDS = 8
SIMILAR = 0.8
MIN_HANDLE = 4
SAMPLE_CHARS = 480
_WORD = re.compile(r"[^\W\d_]+")


@dataclass
class Relations:
    """For each case (by entry id): the others that may be the same person, and its burst if it is in one."""

    same_person: dict[bytes, list[Case]] = field(default_factory=dict)
    burst_of: dict[bytes, list[Case]] = field(default_factory=dict)

    @property
    def bursts(self) -> list[list[Case]]:
        seen: set[int] = set()
        found = []
        for members in self.burst_of.values():
            if id(members) not in seen:
                seen.add(id(members))
                found.append(members)
        return found


def contact_handle(value: object) -> str:
    """A contact as a comparable handle: "" when too short to mean anything."""
    if not isinstance(value, str):
        return ""
    digits = re.sub(r"\D", "", value)
    letters = re.sub(r"[\s\-().]", "", value).casefold().lstrip("@")
    if len(digits) >= 7 and len(digits) >= len(letters) - 2:  # a phone number however it is written
        return "tel:" + digits[-10:]
    return letters if len(letters) >= MIN_HANDLE else ""


def _same_person(cases: Sequence[Case]) -> dict[bytes, list[Case]]:
    by_key: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        handle = contact_handle(case.request.get("contact"))
        if handle:
            by_key["contact:" + handle].append(case)
        reply_key = case.request.get("reply_key")
        if isinstance(reply_key, str) and reply_key:
            by_key["reply:" + reply_key].append(case)
    found: dict[bytes, list[Case]] = {}
    for group in by_key.values():
        if len(group) < 2:
            continue
        for case in group:
            others = found.setdefault(case.entry_id, [])
            others.extend(c for c in group if c is not case and c not in others)
    return found


def story_words(text: object) -> list[str]:
    """The words compared: of the story's first and last characters only, so that 10,000 long stories stay cheap
    (a flood's copies differ nowhere, or in a word or two)."""
    if not isinstance(text, str):
        return []
    if len(text) > SAMPLE_CHARS:
        text = text[: SAMPLE_CHARS * 3 // 4] + " " + text[-SAMPLE_CHARS // 4 :]
    return _WORD.findall(text.casefold())


def _bands(words: list[str]) -> list[tuple[str, ...]]:
    if len(words) <= BAND_WORDS:
        return [tuple(words)]
    middle = (len(words) - BAND_WORDS) // 2
    return [tuple(words[:BAND_WORDS]), tuple(words[middle : middle + BAND_WORDS]), tuple(words[-BAND_WORDS:])]


def near_identical(a: set[str], b: set[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) >= SIMILAR * len(a | b)


def _find(parent: dict[int, int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _bursts(cases: Sequence[Case]) -> dict[bytes, list[Case]]:
    words = [story_words(c.story) for c in cases]
    sets: dict[int, set[str]] = {}  # made only for the cases that share a band with another

    def words_of(i: int) -> set[str]:
        found = sets.get(i)
        if found is None:
            found = sets[i] = set(words[i])
        return found

    def day(i: int) -> datetime.date:
        return datetime.date.fromisoformat(str(cases[i].request["submitted_on"]))
    parent = {i: i for i in range(len(cases))}
    buckets: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for i, case in enumerate(cases):
        if not words[i]:
            continue
        for n, band in enumerate(_bands(words[i])):
            buckets[(case.priority.level, n, band)].append(i)
    for members in buckets.values():
        for k, j in enumerate(members):
            for i in reversed(members[max(0, k - 8) : k]):  # the last few earlier ones: a burst is a chain
                if abs((day(i) - day(j)).days) <= BURST_DAYS and near_identical(words_of(i), words_of(j)):
                    parent[_find(parent, j)] = _find(parent, i)
                    break
    groups: dict[int, list[Case]] = defaultdict(list)
    for i, case in enumerate(cases):
        groups[_find(parent, i)].append(case)
    found: dict[bytes, list[Case]] = {}
    for group in groups.values():
        if len(group) >= BURST_MIN:
            group.sort(key=Case.sort_key)
            for case in group:
                found[case.entry_id] = group
    return found


def relations(cases: Sequence[Case]) -> Relations:
    """Who may be the same person, and which cases arrived as a burst, over ``cases`` (any order)."""
    return Relations(_same_person(cases), _bursts(cases))
