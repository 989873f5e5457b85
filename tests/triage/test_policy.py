"""The priority policy: the shipped rules, ageing that never demotes, and a parser that only says PolicyError."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import request_schema as schema
from tests.triage.helpers import make_request
from triage.errors import PolicyError
from triage.policy import LEVEL_RANK, LEVELS, Policy, load_policy, parse_policy

DEFAULT = load_policy(None)


def normal(**fields: Any) -> dict[str, Any]:
    return schema.normalize_request(make_request(**fields))


# (fields, days waiting, level, score, a reason that must be listed)
CASES: list[tuple[dict[str, Any], int, str, int, str | None]] = [
    ({}, 0, "normal", 0, None),
    ({"danger": "immediate"}, 0, "emergency", 100, "Danger to life now"),
    ({"detention": "recent"}, 0, "emergency", 80, "Detained, abducted or held in the last 3 months"),
    ({"detention": "past"}, 0, "normal", 20, "held before"),
    ({"danger": "serious"}, 0, "urgent", 30, "Serious threats, not within days (+30)"),
    ({"danger": "serious", "threat_from": ["authorities"]}, 0, "urgent", 70, "Threatened by the authorities (+40)"),
    ({"danger": "serious", "threat_from": ["family"]}, 0, "urgent", 70, "Threatened by family (+40)"),
    # The person's own answer is the floor: serious threats from a partner or the community are urgent.
    ({"danger": "serious", "threat_from": ["partner"]}, 0, "urgent", 30, "Serious threats"),
    ({"danger": "serious", "threat_from": ["community"], "location": "north_caucasus"}, 0, "urgent", 40, "North"),
    ({"danger": "not_immediate", "threat_from": ["family"]}, 0, "normal", 0, None),
    ({"danger": "immediate", "threat_from": ["authorities", "family"]}, 0, "emergency", 180, "by family"),
    ({"documents": ["confiscated"]}, 0, "normal", 25, "Documents confiscated"),
    ({"health": "insulin"}, 0, "normal", 20, "medical"),
    ({"health": "   "}, 0, "normal", 0, None),
    ({"people": 4, "children": 2}, 0, "normal", 22, "Children among them: 2 (+10)"),
    ({"people": 20, "children": 20}, 0, "normal", 60, "People who must move: 20 (+30)"),
    ({"location": "chechnya"}, 0, "normal", 20, "Still in Chechnya"),
    ({}, 10, "normal", 10, "Days waiting: 10 (+10)"),
    ({}, 500, "urgent", 90, "Raised to urgent"),
    ({"danger": "serious", "threat_from": ["authorities"]}, 500, "urgent", 160, "Days waiting: 500 (+90)"),
    ({}, -5, "normal", 0, None),
]


@pytest.mark.parametrize("fields, days, level, score, reason", CASES)
def test_default_policy_table(fields: dict[str, Any], days: int, level: str, score: int, reason: str | None) -> None:
    priority = DEFAULT.evaluate(normal(**fields), days)
    assert (priority.level, priority.score) == (level, score), priority.reasons
    if reason is None:
        assert all("waiting" in r.lower() for r in priority.reasons)
    else:
        assert any(reason in r for r in priority.reasons), priority.reasons


fields: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "danger": st.sampled_from(schema.DANGER),
        "threat_from": st.lists(st.sampled_from(schema.THREAT_FROM), unique=True),
        "detention": st.none() | st.sampled_from(schema.DETENTION),
        "location": st.none() | st.sampled_from(schema.LOCATION),
        "people": st.integers(1, 20),
        "documents": st.lists(st.sampled_from(schema.DOCUMENTS), unique=True),
        "health": st.sampled_from(["", "insulin"]),
        "alias": st.sampled_from(["", "A"]),
    }
)
requests = fields.flatmap(lambda r: st.integers(0, r["people"]).map(lambda c: normal(**r, children=c or None)))

levels = st.sampled_from(LEVELS)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Random valid policies, written as TOML and parsed, so the test covers the parser's output too."""
    lines = ["format = 1", f'default_level = "{draw(levels)}"', "[waiting]"]
    lines.append(f"points_per_day = {draw(st.integers(0, 5))}")
    lines.append(f"max_points = {draw(st.integers(0, 500))}")
    for _ in range(draw(st.integers(0, 3))):
        low, high = sorted(
            draw(st.lists(levels, min_size=2, max_size=2, unique=True)), key=lambda level: LEVEL_RANK[level]
        )
        lines += [
            "[[waiting.promote]]",
            f'from = "{high}"',
            f'to = "{low}"',
            f"after_days = {draw(st.integers(1, 400))}",
        ]
    for _ in range(draw(st.integers(1, 6))):
        field = draw(st.sampled_from(["danger", "detention", "threat_from", "people", "health", "always"]))
        condition = {
            "danger": '{ danger = "immediate" }',
            "detention": '{ detention = ["recent", "past"] }',
            "threat_from": '{ threat_from = "family" }',
            "people": "{ people = { at_least = 3 } }",
            "always": "{ people = { at_least = 1 } }",
            "health": "{ health = { filled = true } }",
        }[field]
        lines += ["[[rule]]", f'reason = "r {field}"', f"when = {condition}", f"points = {draw(st.integers(-50, 50))}"]
        if draw(st.booleans()):
            lines.append(f'level = "{draw(levels)}"')
    return parse_policy("\n".join(lines))


@given(request=requests, days=st.integers(0, 2000), policy=policies())
def test_the_level_is_the_most_severe_of_the_default_and_every_matching_rule(
    request: dict[str, Any], days: int, policy: Policy
) -> None:
    # Worked out apart from evaluate(): the default and each matching rule's level, the most severe of them
    matching = [rule for rule in policy.rules if rule.matches(request)]
    before = min([LEVEL_RANK[policy.default_level]] + [LEVEL_RANK[r.level] for r in matching if r.level])
    # Before any promotion (no case waits 0 days long enough) it is the level evaluate() gives
    assert policy.evaluate(request, 0).rank == before
    # And waiting adds only the most severe promotion that applies to that level
    raised = [LEVEL_RANK[p.to_level] for p in policy.promotions if days >= p.after_days
              and before >= LEVEL_RANK[p.from_level]]  # fmt: skip
    assert policy.evaluate(request, days).rank == min([before, *raised])


@given(
    request=requests, earlier=st.integers(-10, 2000), later=st.integers(0, 2000), policy=st.just(DEFAULT) | policies()
)
def test_waiting_never_moves_a_case_down(request: dict[str, Any], earlier: int, later: int, policy: Policy) -> None:
    before = policy.evaluate(request, earlier)
    after = policy.evaluate(request, earlier + later)
    assert after.rank <= before.rank
    assert after.score >= before.score


@given(request=requests, days=st.integers(0, 2000))
def test_every_level_and_score_comes_with_reasons(request: dict[str, Any], days: int) -> None:
    priority = DEFAULT.evaluate(request, days)
    assert priority.level in LEVELS
    assert priority.level == "normal" or priority.reasons
    assert priority.score == 0 or priority.reasons


toml_scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str), st.booleans().map(lambda b: str(b).lower()),
    st.text(max_size=12).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(['"immediate"', '"emergency"', '"normal"', '"{people}"', '"{x.y}"', '"{"', "1.5", "[]", "{}"]),
)  # fmt: skip
keys = st.sampled_from(
    ["format", "default_level", "reason", "when", "level", "points", "per", "max_points", "danger", "people",
     "at_least", "filled", "points_per_day", "after_days", "from", "to", "health", "bogus"]
)  # fmt: skip


@st.composite
def tomlish(draw: st.DrawFn) -> str:
    """Mostly well-formed TOML with the policy's own words in the wrong places."""
    lines = [draw(st.sampled_from(["format = 1", "format = 2", "", 'format = "1"']))]
    for _ in range(draw(st.integers(0, 6))):
        header = draw(st.sampled_from(["[[rule]]", "[waiting]", "[[waiting.promote]]", "[rule]", "", "[[rule.when]]"]))
        lines.append(header)
        for _ in range(draw(st.integers(0, 4))):
            value = draw(toml_scalars | st.builds(lambda k, v: "{ " + k + " = " + v + " }", keys, toml_scalars))
            lines.append(f"{draw(keys)} = {value}")
    return "\n".join(lines)


@given(text=st.text(max_size=300) | tomlish())
def test_policy_parser_raises_only_policy_error(text: str) -> None:
    try:
        policy = parse_policy(text)
    except PolicyError as error:
        assert str(error)
        assert "Traceback" not in str(error)
    else:
        policy.evaluate(normal(), 3)  # whatever parses must evaluate


def test_shipped_policy_parses_and_names_every_level() -> None:
    assert {r.level for r in DEFAULT.rules} >= {"emergency", "urgent"}
    assert DEFAULT.default_level == "normal" and DEFAULT.points_per_day > 0 and DEFAULT.max_waiting_points > 0


FLOOR = {"immediate": "emergency", "serious": "urgent", "not_immediate": "normal"}


@given(request=requests, days=st.integers(0, 2000))
def test_the_persons_own_answer_is_the_floor_of_the_level(request: dict[str, Any], days: int) -> None:
    # They chose between danger now, serious threats and not immediate: no other answer lowers that level.
    assert DEFAULT.evaluate(request, days).rank <= LEVEL_RANK[FLOOR[request["danger"]]]


@given(request=requests, days=st.integers(0, 2000))
def test_reasons_do_not_repeat_each_other(request: dict[str, Any], days: int) -> None:
    words = [r.rsplit(" (", 1)[0].split(":")[0].lower() for r in DEFAULT.evaluate(request, days).reasons]
    for i, one in enumerate(words):
        for j, other in enumerate(words):
            assert i == j or one not in other, words


@given(request=requests, days=st.integers(0, 2000), policy=st.just(DEFAULT) | policies())
def test_the_parts_of_a_reason_rebuild_its_words(request: dict[str, Any], days: int, policy: Policy) -> None:
    from triage.i18n import translator
    from triage.labels import reason_texts

    priority = policy.evaluate(request, days)
    assert len(priority.parts) == len(priority.reasons)
    assert reason_texts(priority, translator("en")) == list(priority.reasons)


def test_every_shipped_reason_reads_in_russian() -> None:
    from triage.i18n import translator
    from triage.labels import reason_texts

    ru = translator("ru")
    request = normal(danger="immediate", threat_from=["authorities", "family"], detention="recent",
                     location="chechnya", documents=["confiscated"], health="x", people=3, children=2)  # fmt: skip
    texts = reason_texts(DEFAULT.evaluate(request, 5), ru)
    assert len(texts) == 10
    assert all(not any("a" <= ch.lower() <= "z" for ch in text) for text in texts), texts
    assert "Детей среди них: 2 (+10)" in texts
