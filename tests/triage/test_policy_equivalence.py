"""The policy that reads the questionnaire gives exactly what the hard-coded one gave (issue 23).

``tests/triage/frozen_policy.py`` is today's implementation before the change, frozen. Over a generated
corpus of requests (every field, any waiting time, new messages) and over generated policies, the shipped
questionnaire's rules evaluate to the same level, score, reasons and reason parts, both through
``evaluate`` and through ``evaluate_on`` with the questionnaire a case is read with.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import request_schema as schema
from tests.triage import frozen_policy as frozen
from tests.triage.helpers import make_request
from triage.answers_view import AnswerReader
from triage.policy import default_policy_text, parse_policy

TEXT = st.sampled_from(["", " ", "\n\t", "insulin", "ж" * 3])


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    people = draw(st.integers(*schema.PEOPLE_RANGE))
    fields = {
        "danger": draw(st.sampled_from(schema.DANGER)),
        "threat_from": draw(st.lists(st.sampled_from(schema.THREAT_FROM), unique=True)),
        "detention": draw(st.none() | st.sampled_from(schema.DETENTION)),
        "location": draw(st.none() | st.sampled_from(schema.LOCATION)),
        "people": people,
        "children": draw(st.none() | st.integers(0, people)),
        "documents": draw(st.lists(st.sampled_from(schema.DOCUMENTS), unique=True)),
        "contact_method": draw(st.sampled_from(schema.CONTACT_METHOD)),
        **{name: draw(TEXT) for name in ("health", "safe_times", "alias")},
        "story": draw(st.sampled_from(["x", "Нужна помощь."])),
    }
    return schema.normalize_request(make_request(**fields))


OLD_DEFAULT = frozen.load_policy(None)
NEW_DEFAULT = parse_policy(default_policy_text(), source="the default policy")
READER = AnswerReader()


def same(old: Any, new: Any) -> None:
    assert (new.level, new.score, new.reasons) == (old.level, old.score, old.reasons)
    assert [(p.template, dict(p.values) if p.values is not None else None, p.points) for p in new.parts] == [
        (p.template, dict(p.values) if p.values is not None else None, p.points) for p in old.parts
    ]


@settings(max_examples=600)
@given(request=requests(), days=st.integers(-5, 400), new_messages=st.integers(0, 3))
def test_the_shipped_policy_gives_todays_levels_scores_and_reasons(
    request: dict[str, Any], days: int, new_messages: int
) -> None:
    old = OLD_DEFAULT.evaluate(request, days, new_messages=new_messages)
    same(old, NEW_DEFAULT.evaluate(request, days, new_messages=new_messages))
    flat, asked = READER.read(request)  # as every face reads a case: with the questionnaire it was made with
    same(old, NEW_DEFAULT.evaluate_on(asked.questionnaire, flat, days, new_messages=new_messages))


CONDITIONS = [
    '{ danger = "immediate" }', '{ detention = ["recent", "past"] }', '{ threat_from = "family" }',
    '{ documents = ["none", "confiscated"] }', "{ people = { at_least = 3 } }", "{ children = 0 }",
    "{ children = { at_most = 2, at_least = 1 } }", "{ health = { filled = true } }", "{ alias = { filled = false } }",
    '{ contact_method = "signal", location = ["chechnya", "undisclosed"] }', "{ new_messages = { at_least = 1 } }",
]  # fmt: skip


@st.composite
def policy_texts(draw: st.DrawFn) -> str:
    lines = ["format = 1", f'default_level = "{draw(st.sampled_from(["normal", "urgent"]))}"', "[waiting]",
             f"points_per_day = {draw(st.integers(0, 5))}", f"max_points = {draw(st.integers(0, 300))}",
             'reason = "Waited {days} days, {people} people"']  # fmt: skip
    if draw(st.booleans()):
        lines += [
            "[[waiting.promote]]",
            'from = "normal"',
            'to = "emergency"',
            f"after_days = {draw(st.integers(1, 99))}",
        ]
    for n in range(draw(st.integers(1, 6))):
        lines += ["[[rule]]", f"when = {draw(st.sampled_from(CONDITIONS))}", f"points = {draw(st.integers(-40, 40))}"]
        if draw(st.booleans()):
            lines += ['reason = "Children: {children}"', 'per = "children"', f"max_points = {draw(st.integers(0, 30))}"]
        else:
            lines.append(f'reason = "rule {n}"')
        if draw(st.booleans()):
            lines.append(f'level = "{draw(st.sampled_from(["emergency", "urgent", "normal"]))}"')
    return "\n".join(lines)


@settings(max_examples=300)
@given(text=policy_texts(), request=requests(), days=st.integers(0, 200), new_messages=st.integers(0, 2))
def test_any_policy_on_the_shipped_questionnaire_evaluates_as_before(
    text: str, request: dict[str, Any], days: int, new_messages: int
) -> None:
    old = frozen.parse_policy(text).evaluate(request, days, new_messages=new_messages)
    new = parse_policy(text)
    same(old, new.evaluate(request, days, new_messages=new_messages))
    flat, asked = READER.read(request)
    same(old, new.evaluate_on(asked.questionnaire, flat, days, new_messages=new_messages))
