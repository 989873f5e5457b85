"""Cases that belong together (issue 19 item 10, issue 21 item 4): possibly the same person, and bursts.

Worked out in memory from opened cases; the desk marks them and folds a burst into one row, and
`triage list` says so. Every member of a burst stays a case of its own, opened one by one.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.triage.helpers import TODAY, Server, Triage, make_request
from triage.cases import Case
from triage.groups import BURST_MIN, contact_handle, relations
from triage.policy import Priority
from triage.store import CaseRecord

FLOOD = "Помогите нам срочно уехать, нас ищут уже неделю, мы прячемся у знакомых в подвале и боимся выходить"


def case(n: int, *, story: str = "своя история", level: str = "normal", day: int = 0, **request: Any) -> Case:
    fields = {"story": story, "submitted_on": (TODAY - datetime.timedelta(days=day)).isoformat(), **request}
    return Case(n.to_bytes(16, "big"), n, TODAY, CaseRecord(), fields, Priority(level, 0, ()), 0)


@pytest.mark.parametrize(("a", "b"), [("+7 (900) 123-45-67", "89001234567"), ("@Marina_K", "marina_k"),
                                      ("marina@example.org", " Marina@Example.org ")])  # fmt: skip
def test_one_handle_however_it_is_written(a: str, b: str) -> None:
    assert contact_handle(a) == contact_handle(b) != ""


def test_a_shared_contact_or_reply_key_marks_possibly_the_same_person() -> None:
    cases = [case(1, contact="+7 900 123 45 67"), case(2, contact="8 (900) 123-45-67"), case(3, contact="@other"),
             case(4, reply_key="k" * 44), case(5, reply_key="k" * 44), case(6, contact="—")]  # fmt: skip
    found = relations(cases).same_person
    assert [c.serial for c in found[cases[0].entry_id]] == [2]
    assert [c.serial for c in found[cases[3].entry_id]] == [5]
    assert cases[2].entry_id not in found and cases[5].entry_id not in found


def test_near_identical_requests_sent_together_are_one_burst() -> None:
    flood = [case(i, story=FLOOD + (" " + "ещё" if i % 2 else "")) for i in range(1, 41)]
    others = [case(100, story="Муж угрожает мне, я в Грозном"), case(101, story=FLOOD, day=5)]
    found = relations([*flood, *others])
    assert len(found.bursts) == 1 and len(found.bursts[0]) == 40
    assert all(c.entry_id not in found.burst_of for c in others), "a different story, or sent days later"


def test_an_emergency_is_never_folded_under_a_calmer_row() -> None:
    cases = [case(i, story=FLOOD) for i in range(1, 6)] + [case(9, story=FLOOD, level="emergency")]
    found = relations(cases)
    assert cases[-1].entry_id not in found.burst_of
    assert len(found.bursts) == 1 and len(found.bursts[0]) == 5


def test_two_alike_requests_are_not_yet_a_burst() -> None:
    assert relations([case(i, story=FLOOD) for i in range(BURST_MIN - 1)]).bursts == []


@given(st.lists(st.text(max_size=200), max_size=30))
def test_any_stories_give_disjoint_bursts_of_the_same_level(stories: list[str]) -> None:
    cases = [case(i, story=s, level=("normal", "urgent")[i % 2]) for i, s in enumerate(stories)]
    found = relations(cases)
    members = [c.entry_id for burst in found.bursts for c in burst]
    assert len(members) == len(set(members))
    for burst in found.bursts:
        assert len(burst) >= BURST_MIN and len({c.priority.level for c in burst}) == 1


def test_triage_list_shows_a_burst_as_one_row_and_says_so(triage: Triage, server: Server, tmp_path: Path) -> None:
    alice = triage.keygen("Alice")
    requests = [make_request(story=FLOOD) for _ in range(12)] + [make_request(story="Муж угрожает мне")]
    triage.ok("import", server.bundle(tmp_path / "b", [server.entry(r, [alice]) for r in requests]))
    folded = triage.ok("list").stdout
    assert "1 burst of near-identical requests" in folded and "[+11≈]" in folded
    assert len(re.findall(r"^[0-9a-f]{8} ", folded, re.M)) == 2
    each = triage.ok("list", "--each").stdout
    assert len(re.findall(r"^[0-9a-f]{8} ", each, re.M)) == 13 and "burst" not in each
