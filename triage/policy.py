"""The priority policy: a small TOML file of rules that give each case a level, a score and reasons.

The shipped default is ``triage/default_policy.toml``; ``--policy FILE`` replaces it. A policy speaks the
language of one questionnaire (``questionnaire = "ID"`` at its top; without it, the shipped
``evacuation-request``): its rules name that questionnaire's field ids and choice ids and are checked
against it when loaded, so a rule naming a field or a choice the questionnaire does not have is refused,
naming it. The questionnaire's choices may carry points and a level floor of their own (``points``,
``level``, docs/FORMAT.md §12.1); the policy adds them (``choice_points = false`` leaves them out).

A case made with another questionnaire than the policy's is not judged by rules written for other
questions: a case of the shipped form gets the shipped policy, any other its questionnaire's own choice
points and this policy's waiting rules, and a case whose questionnaire the laptop does not hold only the
waiting rules. Any problem with a policy file is one ``PolicyError`` naming the rule and the fix: a typo
never silently turns a rule off. How it works, and how to change it, is in docs/POLICY.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crypto.questionnaire import Questionnaire
from triage.errors import PolicyError

LEVELS = ("emergency", "urgent", "normal")  # most severe first
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
POLICY_FORMAT = 1
MAX_POINTS = 1_000_000
SHIPPED_QUESTIONNAIRE = "evacuation-request"
# Not a request field: how many of the person's follow-up messages no caseworker has opened yet (the case's
# thread). A policy may raise a case for it: a new message on an emergency case is news.
CASE_FIELDS = frozenset({"new_messages"})
NEW_MESSAGES_RANGE = (0, 10_000)
# What a rule's `when` may test, by the kind of the questionnaire's field.
_CHOICE_KINDS = ("one_of", "any_of")
_TEXT_KINDS = ("short_text", "long_text", "file")


class _Zeros(dict[str, int]):
    """Placeholder values: a number the case's questionnaire does not ask reads as 0, never a KeyError."""

    def __missing__(self, key: str) -> int:
        return 0


@dataclass(frozen=True)
class Condition:
    field: str
    choices: frozenset[str] = frozenset()
    at_least: int | None = None
    at_most: int | None = None
    filled: bool | None = None
    kind: str = "integer"  # the questionnaire field's kind; "integer" for new_messages

    def __post_init__(self) -> None:
        # One small closure per condition, chosen once: evaluate() runs for every case on every listing.
        object.__setattr__(self, "test", self._make_test())

    def _make_test(self) -> Callable[[Any], bool]:
        choices, low, high = self.choices, self.at_least, self.at_most
        if self.kind == "one_of":
            return lambda value: value in choices
        if self.kind == "any_of":
            return lambda value: not choices.isdisjoint(value or ())
        if self.kind == "integer":
            return lambda value: value is not None and (low is None or value >= low) and (high is None or value <= high)
        filled = self.filled
        if self.kind == "file":
            return lambda value: bool(value) == filled
        return lambda value: bool((value or "").strip()) == filled

    def matches(self, request: Mapping[str, Any]) -> bool:
        test: Callable[[Any], bool] = self.test  # type: ignore[attr-defined]
        return test(request.get(self.field))


@dataclass(frozen=True)
class Rule:
    reason: str
    conditions: tuple[Condition, ...]
    level: str | None
    points: int
    per: str | None
    max_points: int | None
    fixed_reason: str | None = field(init=False, default=None)
    fixed_part: Reason | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.per is None and "{" not in self.reason:  # the same words and points for every case
            points = self.points if self.max_points is None else min(self.points, self.max_points)
            object.__setattr__(self, "points", points)
            object.__setattr__(self, "max_points", None)
            object.__setattr__(self, "fixed_reason", f"{self.reason} ({points:+d})")
            object.__setattr__(self, "fixed_part", Reason(self.reason, None, points))

    def matches(self, request: Mapping[str, Any]) -> bool:
        for condition in self.conditions:  # noqa: SIM110 - a plain loop is faster than all() on a generator
            if not condition.matches(request):
                return False
        return True

    def score(self, request: Mapping[str, Any]) -> int:
        points = self.points * (request.get(self.per) or 0) if self.per else self.points
        return points if self.max_points is None else min(points, self.max_points)


@dataclass(frozen=True)
class ChoiceScore:
    """A choice of the questionnaire that carries points or a level floor: what it adds when chosen."""

    field: str
    many: bool  # an any_of field: the answer is a list
    choice: str
    points: int
    level: str | None
    reason: str  # in the questionnaire's words: "short label: choice label"
    part: Reason


@dataclass(frozen=True)
class Promotion:
    from_level: str
    to_level: str
    after_days: int
    reason: str


@dataclass(frozen=True)
class Reason:
    """One reason as the policy wrote it: the sentence (its placeholders unfilled), their values, the points.

    A face translates ``template`` (the shipped policy's sentences are in the triage catalogue), then
    fills it; a reason from a questionnaire's choice brings its own ``words`` in each of the questionnaire's
    languages. ``Priority.reasons`` holds the same reasons in the policy's own words, for --json and CSV.
    """

    template: str
    values: Mapping[str, int] | None
    points: int | None
    words: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Priority:
    level: str
    score: int
    reasons: tuple[str, ...]
    parts: tuple[Reason, ...] = ()

    @property
    def rank(self) -> int:
        return LEVEL_RANK[self.level]


@dataclass(frozen=True)
class _RawRule:
    """A rule as the file states it, checked for form; ``_bind`` checks it against a questionnaire."""

    where: str
    reason: str
    when: Mapping[str, Any]
    level: str | None
    points: int
    per: str | None
    max_points: int | None


@dataclass(frozen=True)
class _Bound:
    """A policy's rules made for one questionnaire version, with that version's choice points."""

    rules: tuple[Rule, ...]
    choices: tuple[ChoiceScore, ...]
    numbers: tuple[str, ...]  # the placeholders a reason may fill: its integer fields and new_messages
    # What ``Policy._evaluate`` walks for every case of every listing, laid out once: per rule, its
    # conditions as (field, test) pairs and the rank of its level (None: it sets none).
    plan: tuple[tuple[tuple[tuple[str, Callable[[Any], bool]], ...], int | None, Rule], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        plan = tuple(
            (tuple((c.field, c.test) for c in rule.conditions),  # type: ignore[attr-defined]
             None if rule.level is None else LEVEL_RANK[rule.level], rule)
            for rule in self.rules
        )  # fmt: skip
        object.__setattr__(self, "plan", plan)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    default_level: str
    points_per_day: int
    max_waiting_points: int
    waiting_reason: str
    promotions: tuple[Promotion, ...]
    questionnaire_id: str = SHIPPED_QUESTIONNAIRE
    questionnaire: Questionnaire | None = field(default=None, repr=False)
    choice_points: bool = True
    source: str = "policy"
    raw_rules: tuple[_RawRule, ...] = field(default=(), repr=False)
    _bound: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    rules_bound: _Bound | None = field(default=None, repr=False, compare=False)  # for ``questionnaire``

    def evaluate(self, request: Mapping[str, Any], days_waiting: int, *, new_messages: int = 0) -> Priority:
        """Level, score and reasons for one request of the policy's own questionnaire that has waited
        ``days_waiting`` days, with ``new_messages`` follow-ups in its thread nobody has opened yet."""
        return self.evaluate_on(self.questionnaire, request, days_waiting, new_messages=new_messages)

    def evaluate_on(
        self, questionnaire: Questionnaire | None, request: Mapping[str, Any], days_waiting: int, *,
        new_messages: int = 0,
    ) -> Priority:  # fmt: skip
        """As ``evaluate``, for a request answered on ``questionnaire`` (None: a questionnaire not held)."""
        if questionnaire is self.questionnaire and self.rules_bound is not None:  # the usual case, every listing
            return self._evaluate(self.rules_bound, request, days_waiting, new_messages)
        shipped_case = questionnaire is not None and questionnaire.id == SHIPPED_QUESTIONNAIRE
        if shipped_case and self.questionnaire_id != SHIPPED_QUESTIONNAIRE:  # an older case of the shipped form
            return self._shipped().evaluate_on(questionnaire, request, days_waiting, new_messages=new_messages)
        return self._evaluate(self.bound(questionnaire), request, days_waiting, new_messages)

    def _shipped(self) -> Policy:
        found = self._bound.get("shipped")
        if found is None:
            from triage.policy_file import load_policy

            found = self._bound["shipped"] = load_policy(None)
        assert isinstance(found, Policy)
        return found

    def bound(self, questionnaire: Questionnaire | None) -> _Bound:
        """The rules for one questionnaire version, checked once (PolicyError naming what does not fit)."""
        key = None if questionnaire is None else questionnaire.sha256
        found = self._bound.get(key)
        if found is None:
            if questionnaire is None:
                found = _Bound((), (), ())
            elif questionnaire.id != self.questionnaire_id:  # its own choice points, none of these rules
                found = _Bound((), _choice_scores(questionnaire) if self.choice_points else (), ())
            else:
                from triage.policy_file import bind  # the file's reader builds on the classes here

                try:
                    found = bind(self, questionnaire)
                except PolicyError as error:
                    raise PolicyError(f"{self.source}, {error}") from None
            self._bound[key] = found
        assert isinstance(found, _Bound)
        return found

    def _evaluate(self, bound: _Bound, request: Mapping[str, Any], days_waiting: int, new_messages: int) -> Priority:
        days = max(0, days_waiting)
        rank = LEVEL_RANK[self.default_level]
        score = 0
        reasons: list[str] = []
        parts: list[Reason] = []
        numbers = bound.numbers
        for chosen in bound.choices:  # the questionnaire's own points and floors, in its order
            value = request.get(chosen.field)
            if value == chosen.choice or (chosen.many and isinstance(value, list) and chosen.choice in value):
                if chosen.level is not None:
                    rank = min(rank, LEVEL_RANK[chosen.level])
                score += chosen.points
                reasons.append(chosen.reason)
                parts.append(chosen.part)
        get = {**request, "new_messages": new_messages}.get if new_messages else request.get
        said = _Said(self._bound, request, days, numbers)
        for tests, rule_rank, rule in bound.plan:  # this loop runs for every case of every listing: kept flat
            for name, test in tests:
                if not test(get(name)):
                    break
            else:
                if rule_rank is not None and rule_rank < rank:
                    rank = rule_rank
                if rule.fixed_reason is not None:
                    score += rule.points
                    reasons.append(rule.fixed_reason)
                    parts.append(rule.fixed_part)  # type: ignore[arg-type]
                else:
                    points = rule.score(request)
                    score += points
                    said.add(rule.reason, points, reasons, parts)
        waiting = min(days * self.points_per_day, self.max_waiting_points)
        if waiting:
            score += waiting
            said.add(self.waiting_reason, waiting, reasons, parts)
        # Promotions look at the level the rules set, never at another promotion's result, so more waiting
        # can only add applicable promotions: the level never drops as days pass.
        best: Promotion | None = None
        for promotion in self.promotions:
            applies = days >= promotion.after_days and rank >= LEVEL_RANK[promotion.from_level]
            if applies and (best is None or LEVEL_RANK[promotion.to_level] < LEVEL_RANK[best.to_level]):
                best = promotion
        if best is not None and LEVEL_RANK[best.to_level] < rank:
            rank = LEVEL_RANK[best.to_level]
            said.add(best.reason, None, reasons, parts)
        return Priority(LEVELS[rank], score, tuple(reasons), tuple(parts))


MAX_SAID = 1 << 16  # sentences kept per policy; past this many the memory starts again


class _Said:
    """A reason whose sentence names the case's numbers ({days}, {people}, …), filled once per set of numbers.

    Many cases share their numbers (the same days waiting, people and children), and so the same sentence
    and the same ``Reason``: kept in the policy's memory, keyed by the sentence, the points and the numbers,
    only when every number is a plain int (so 1 and True, which are equal keys, are never mixed up).
    """

    __slots__ = ("_days", "_key", "_memory", "_numbers", "_request")

    def __init__(self, bound: dict[Any, Any], request: Mapping[str, Any], days: int, numbers: tuple[str, ...]) -> None:
        self._memory: dict[Any, tuple[str, Reason]] | None = bound.get("said")
        if self._memory is None:
            self._memory = bound["said"] = {}
        self._request, self._days, self._numbers = request, days, numbers
        self._key: tuple[Any, ...] | None = None

    def add(self, template: str, points: int | None, reasons: list[str], parts: list[Reason]) -> None:
        if self._key is None:
            get = self._request.get
            numbers = [get(name) or 0 for name in self._numbers]
            plain = True
            for number in numbers:
                if number.__class__ is not int:
                    plain = False
                    break
            self._key = (self._days, *numbers) if plain else ()
        memory = self._memory
        assert memory is not None
        key = (template, points, self._key) if self._key else None
        found = memory.get(key) if key is not None else None
        if found is None:
            values = _values(self._request, self._days, self._numbers)
            text = template.format_map(values) if points is None else template.format_map(values) + f" ({points:+d})"
            found = (text, Reason(template, values, points))
            if key is not None:
                if len(memory) >= MAX_SAID:
                    memory.clear()
                memory[key] = found
        reasons.append(found[0])
        parts.append(found[1])


def _values(request: Mapping[str, Any], days: int, numbers: tuple[str, ...]) -> dict[str, int]:
    """What a reason's placeholders may name (the questionnaire's integer fields, {new_messages}, {days}); a
    sentence without any ignores them."""
    values = _Zeros({name: request.get(name) or 0 for name in numbers})
    values["days"] = days
    return values


def _words_for(questionnaire: Questionnaire, language: str) -> str:
    return language if language in questionnaire.languages else questionnaire.languages[0]


def _choice_scores(questionnaire: Questionnaire) -> tuple[ChoiceScore, ...]:
    """Every choice of ``questionnaire`` that carries points or a level, with its reason in every language."""
    own = _words_for(questionnaire, "en")  # the policy's own words (JSON, CSV): English where the file has it
    out = []
    for f in questionnaire.fields:
        if f.kind not in _CHOICE_KINDS:
            continue
        for choice in f.choices:
            if not choice.points and choice.level is None:
                continue
            words = {lang: f"{f.short[lang]}: {choice.label[lang]}" for lang in questionnaire.languages}
            out.append(ChoiceScore(
                f.id, f.kind == "any_of", choice.id, choice.points, choice.level,
                f"{words[own]} ({choice.points:+d})", Reason(words[own], None, choice.points, words),
            ))  # fmt: skip
    return tuple(out)


# Reading a policy file lives in triage.policy_file (which builds on the classes above); its entry points are
# named here too, where callers look, and loaded on first use so that either module may be imported first.
_FILE_READER = ("default_policy_text", "extract_policy_reasons", "load_policy", "parse_policy")
if TYPE_CHECKING:
    from triage.policy_file import default_policy_text as default_policy_text
    from triage.policy_file import extract_policy_reasons as extract_policy_reasons
    from triage.policy_file import load_policy as load_policy
    from triage.policy_file import parse_policy as parse_policy


def __getattr__(name: str) -> Any:
    if name in _FILE_READER:
        from triage import policy_file

        return getattr(policy_file, name)
    raise AttributeError(f"module 'triage.policy' has no attribute {name!r}")


__all__ = ["LEVELS", "LEVEL_RANK", "Policy", "Priority", "Reason", "Rule", *_FILE_READER]
