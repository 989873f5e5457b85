"""`triage list --json` splices the cached request into each case's JSON: the same bytes as encoding it again."""

from __future__ import annotations

import datetime
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.request_schema import canonical_json
from triage.cases import Case
from triage.list_json import spliced_json
from triage.policy import Priority
from triage.render import case_json
from triage.store import CaseRecord

# Text with what a JSON encoder or the disguise escaping treats specially: quotes, backslashes, controls, bidi
# controls, U+2028/9, private use, astral characters, Cyrillic.
SPECIAL = st.sampled_from(['"', "\\", "\n", "\x00", "\x1f", "\u202e", "\u2028", "\u2029", "\ue000", "\U0001f600",
                           "\u00a0", "\ufeff", "ж", "/", "<"])  # fmt: skip
TEXT = st.lists(st.one_of(SPECIAL, st.text(max_size=8)), max_size=8).map("".join)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20,
)


def _case(request: dict[str, Any], record: CaseRecord, reasons: list[str]) -> Case:
    return Case(bytes(range(16)), 7, datetime.date(2026, 12, 1), record, request,
                Priority("urgent", 42, tuple(reasons)), 3)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(request=st.dictionaries(TEXT, VALUES, max_size=8), notes=st.lists(TEXT, max_size=2),
       reasons=st.lists(TEXT, max_size=3))  # fmt: skip
def test_the_spliced_case_is_byte_for_byte_the_encoded_case(request: dict[str, Any], notes: list[str],
                                                            reasons: list[str]) -> None:  # fmt: skip
    # Given a request as the store caches it (its canonical encoding), parsed back as the listing parses it
    text = canonical_json(request).decode("utf-8")
    parsed = json.loads(text)
    record = CaseRecord(notes=[{"on": "2026-12-01", "by": "A", "text": note} for note in notes])
    case = _case(parsed, record, reasons)
    # Then splicing the cached text gives exactly the bytes of encoding the whole case
    assert spliced_json(case, text) == case_json(case)


def test_a_summary_that_changed_the_request_is_encoded_in_full() -> None:
    # A summary whose request is not the parsed cache (a later face may show it otherwise) is never spliced.
    text = canonical_json({"b": 1, "a": "x"}).decode("utf-8")
    case = _case(json.loads(text), CaseRecord(), [])
    assert spliced_json(case, '{"a":"WRONG"}') != case_json(case)  # the splice is used: it trusts the cache
    shown = {"a": "shown otherwise"}

    class Shown(Case):
        def summary(self) -> dict[str, Any]:
            return {**super().summary(), "request": shown}

    other = Shown(**{name: getattr(case, name) for name in case.__dataclass_fields__})
    assert spliced_json(other, text) == case_json(other)
    assert b"shown otherwise" in spliced_json(other, text)
