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

import importlib.resources
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crypto.questionnaire import BUILTIN, QUESTIONNAIRE_ID, Questionnaire, builtin_questionnaire
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
                try:
                    found = _bind(self, questionnaire)
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
        for rule in bound.rules:
            for condition in rule.conditions:  # this loop runs for every case of every listing: kept flat
                if not condition.test(get(condition.field)):  # type: ignore[attr-defined]
                    break
            else:
                if rule.level is not None:
                    rank = min(rank, LEVEL_RANK[rule.level])
                if rule.fixed_reason is not None:
                    score += rule.points
                    reasons.append(rule.fixed_reason)
                    parts.append(rule.fixed_part)  # type: ignore[arg-type]
                else:
                    points = rule.score(request)
                    score += points
                    values = _values(request, days, numbers)
                    reasons.append(rule.reason.format_map(values) + f" ({points:+d})")
                    parts.append(Reason(rule.reason, values, points))
        waiting = min(days * self.points_per_day, self.max_waiting_points)
        if waiting:
            score += waiting
            values = _values(request, days, numbers)
            reasons.append(self.waiting_reason.format_map(values) + f" ({waiting:+d})")
            parts.append(Reason(self.waiting_reason, values, waiting))
        # Promotions look at the level the rules set, never at another promotion's result, so more waiting
        # can only add applicable promotions: the level never drops as days pass.
        best: Promotion | None = None
        for promotion in self.promotions:
            applies = days >= promotion.after_days and rank >= LEVEL_RANK[promotion.from_level]
            if applies and (best is None or LEVEL_RANK[promotion.to_level] < LEVEL_RANK[best.to_level]):
                best = promotion
        if best is not None and LEVEL_RANK[best.to_level] < rank:
            rank = LEVEL_RANK[best.to_level]
            values = _values(request, days, numbers)
            reasons.append(best.reason.format_map(values))
            parts.append(Reason(best.reason, values, None))
        return Priority(LEVELS[rank], score, tuple(reasons), tuple(parts))


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


# -- parsing -------------------------------------------------------------------------------------------


def _fail(where: str, message: str) -> PolicyError:
    return PolicyError(f"{where}: {message}")


def _keys(table: Mapping[str, Any], allowed: set[str], required: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(where, f"unknown setting {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(table))
    if missing:
        raise _fail(where, f"{missing[0]!r} is missing")


def _int(value: Any, where: str, low: int, high: int = MAX_POINTS) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _fail(where, f"must be a whole number from {low} to {high}")
    return value


def _level(value: Any, where: str) -> str:
    if value not in LEVELS:
        raise _fail(where, f"must be one of {', '.join(LEVELS)}")
    return str(value)


def _placeholders(value: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]


def _template(value: Any, where: str) -> str:
    """A reason's sentence; its placeholders' names are checked against the questionnaire in ``_bind``."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise _fail(where, "must be a sentence of 1 to 200 characters")
    try:
        specs = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(value) if name is not None]
    except ValueError:
        raise _fail(where, "has an unmatched { or }; write {{ or }} for a brace") from None
    if any(spec or conv or not name.isidentifier() for name, spec, conv in specs):
        raise _fail(where, "may only use placeholders like {people} or {days}, without formats")
    return value


def _check_names(value: str, where: str, numbers: tuple[str, ...]) -> None:
    allowed = [n for n in numbers if n not in CASE_FIELDS]
    if any(name not in (*numbers, "days") for name in _placeholders(value)):
        listed = ", ".join("{" + n + "}" for n in allowed)
        raise _fail(where, f"may only use the placeholders {listed + ' and ' if listed else ''}{{days}}")


def _raw_rule(index: int, table: Any) -> _RawRule:
    where = f"rule {index}"
    if not isinstance(table, dict):
        raise _fail(where, "must be a table ([[rule]])")
    _keys(table, {"reason", "when", "level", "points", "per", "max_points"}, {"reason", "when"}, where)
    reason = _template(table["reason"], f"{where}, reason")
    where = f"rule {index} ({reason!r})"
    when = table["when"]
    if not isinstance(when, dict) or not when:
        raise _fail(where, "'when' must name at least one field, like when = { danger = \"immediate\" }")
    level = _level(table["level"], f"{where}, level") if "level" in table else None
    points = _int(table.get("points", 0), f"{where}, points", -MAX_POINTS)
    per = table.get("per")
    if per is not None and not isinstance(per, str):
        raise _fail(f"{where}, per", 'must name a number field, like per = "people"')
    max_points = _int(table["max_points"], f"{where}, max_points", -MAX_POINTS) if "max_points" in table else None
    return _RawRule(where, reason, when, level, points, per, max_points)


def _condition(questionnaire: Questionnaire, name: str, value: Any, where: str) -> Condition:
    where = f"{where}, when.{name}"
    if name in CASE_FIELDS:
        kind, bounds = "integer", NEW_MESSAGES_RANGE
    else:
        try:
            asked = questionnaire.field(name)
        except KeyError:
            known = ", ".join(f.id for f in questionnaire.fields if f.kind != "consent")
            raise _fail(where, f"unknown field {name!r}: the questionnaire {questionnaire.id} (version "
                        f"{questionnaire.version}) has none (its fields: {known}, new_messages)") from None  # fmt: skip
        kind, bounds = asked.kind, (asked.min or 0, asked.max or 0)
        if kind in _CHOICE_KINDS:
            allowed = [c.id for c in asked.choices]
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise _fail(where, "must be a choice or a list of choices")
            wrong = [v for v in values if v not in allowed]
            if wrong:
                raise _fail(where, f"{wrong[0]!r} is not a choice of the field {name!r} "
                            f"(choices: {', '.join(allowed)})")  # fmt: skip
            return Condition(name, choices=frozenset(values), kind=kind)
        if kind == "consent":
            raise _fail(where, "a consent is always given: a rule cannot test it")
    if kind == "integer":
        low, high = bounds
        if isinstance(value, int) and not isinstance(value, bool):
            exact = _int(value, where, low, high)
            return Condition(name, at_least=exact, at_most=exact)
        if not isinstance(value, dict) or not value:
            raise _fail(where, "must be a number or a table like { at_least = 2 }")
        _keys(value, {"at_least", "at_most"}, set(), where)
        at_least = _int(value["at_least"], f"{where}.at_least", low, high) if "at_least" in value else None
        at_most = _int(value["at_most"], f"{where}.at_most", low, high) if "at_most" in value else None
        return Condition(name, at_least=at_least, at_most=at_most)
    if not isinstance(value, dict) or set(value) != {"filled"} or not isinstance(value["filled"], bool):
        raise _fail(where, "must be { filled = true } or { filled = false }")
    return Condition(name, filled=value["filled"], kind=kind)


def _bind(policy: Policy, questionnaire: Questionnaire) -> _Bound:
    """The policy's rules checked against one version of its questionnaire (PolicyError naming the place)."""
    integers = tuple(f.id for f in questionnaire.fields if f.kind == "integer")
    numbers = (*integers, *(n for n in sorted(CASE_FIELDS) if n not in integers))
    rules = []
    for raw in policy.raw_rules:
        _check_names(raw.reason, f"{raw.where}, reason", numbers)
        conditions = tuple(_condition(questionnaire, str(f), v, raw.where) for f, v in raw.when.items())
        if raw.per is not None and raw.per not in numbers:
            raise _fail(f"{raw.where}, per", f"must be one of {', '.join(numbers)}")
        rules.append(Rule(raw.reason, conditions, raw.level, raw.points, raw.per, raw.max_points))
    _check_names(policy.waiting_reason, "waiting.reason", numbers)
    for n, promotion in enumerate(policy.promotions, 1):
        _check_names(promotion.reason, f"waiting.promote {n}, reason", numbers)
    return _Bound(tuple(rules), _choice_scores(questionnaire) if policy.choice_points else (), numbers)


def _promotion(index: int, table: Any) -> Promotion:
    where = f"waiting.promote {index}"
    if not isinstance(table, dict):
        raise _fail(where, "must be a table ([[waiting.promote]])")
    _keys(table, {"from", "to", "after_days", "reason"}, {"from", "to", "after_days"}, where)
    from_level, to_level = _level(table["from"], f"{where}, from"), _level(table["to"], f"{where}, to")
    if LEVEL_RANK[to_level] >= LEVEL_RANK[from_level]:
        raise _fail(where, "'to' must be a more severe level than 'from' (waiting never lowers a case)")
    reason = _template(table.get("reason", f"Raised to {to_level}: waiting {{days}} days"), f"{where}, reason")
    return Promotion(from_level, to_level, _int(table["after_days"], f"{where}, after_days", 1, 36500), reason)


def parse_policy(text: str, *, source: str = "policy", questionnaire: Questionnaire | None = None) -> Policy:
    """Parse and check a policy; PolicyError (naming ``source`` and the place) on any problem.

    The rules are checked against ``questionnaire`` if given (it must be the one the policy names), else
    against the built-in questionnaire the policy names; a policy for a questionnaire that is neither is
    checked against each version of it when its first case is evaluated.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source} is not valid TOML ({error}).") from None
    try:
        policy = _policy(data, source, questionnaire)
    except PolicyError as error:
        raise PolicyError(f"{source}, {error}") from None
    if policy.questionnaire is not None:
        return _with_rules(policy, policy.bound(policy.questionnaire))
    return policy


def _with_rules(policy: Policy, bound: _Bound) -> Policy:
    fields = {f: getattr(policy, f) for f in policy.__dataclass_fields__}
    made = Policy(**{**fields, "rules": bound.rules, "rules_bound": bound})
    made._bound.update(policy._bound)
    return made


def _policy(data: dict[str, Any], source: str, questionnaire: Questionnaire | None) -> Policy:
    _keys(data, {"format", "questionnaire", "choice_points", "default_level", "waiting", "rule"}, {"format", "rule"},
          "top level")  # fmt: skip
    if data["format"] != POLICY_FORMAT:
        raise _fail("format", f"this triage reads policy format {POLICY_FORMAT}")
    named = data.get("questionnaire", SHIPPED_QUESTIONNAIRE)
    if not isinstance(named, str) or not QUESTIONNAIRE_ID.fullmatch(named):
        raise _fail("questionnaire", 'is the id of the questionnaire the rules are for, like "relocation-lgbtqi"')
    if questionnaire is not None and questionnaire.id != named:
        raise _fail("questionnaire", f"the rules are written for {named!r}, not for the questionnaire "
                    f"{questionnaire.id!r} they are checked against")  # fmt: skip
    if questionnaire is None and named in BUILTIN:
        questionnaire = builtin_questionnaire(named)
    choice_points = data.get("choice_points", True)
    if not isinstance(choice_points, bool):
        raise _fail("choice_points", "must be true or false")
    default_level = _level(data.get("default_level", "normal"), "default_level")
    waiting = data.get("waiting", {})
    if not isinstance(waiting, dict):
        raise _fail("waiting", "must be a table ([waiting])")
    _keys(waiting, {"points_per_day", "max_points", "reason", "promote"}, set(), "waiting")
    promote = waiting.get("promote", [])
    if not isinstance(promote, list):
        raise _fail("waiting.promote", "must be a list of tables ([[waiting.promote]])")
    rules = data["rule"]
    if not isinstance(rules, list) or not rules:
        raise _fail("rule", "the policy needs at least one [[rule]]")
    return Policy(
        rules=(),
        default_level=default_level,
        points_per_day=_int(waiting.get("points_per_day", 0), "waiting.points_per_day", 0, 10_000),
        max_waiting_points=_int(waiting.get("max_points", 0), "waiting.max_points", 0),
        waiting_reason=_template(waiting.get("reason", "Waiting {days} days"), "waiting.reason"),
        promotions=tuple(_promotion(i, p) for i, p in enumerate(promote, 1)),
        questionnaire_id=named,
        questionnaire=questionnaire,
        choice_points=choice_points,
        source=source,
        raw_rules=tuple(_raw_rule(i, r) for i, r in enumerate(rules, 1)),
    )


def default_policy_text() -> str:
    return importlib.resources.files("triage").joinpath("default_policy.toml").read_text(encoding="utf-8")


def load_policy(path: Path | None, *, questionnaire: Questionnaire | None = None) -> Policy:
    """The policy in ``path``, or the shipped default; checked against ``questionnaire`` if given."""
    if path is None:
        return parse_policy(default_policy_text(), source="the default policy", questionnaire=questionnaire)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PolicyError(f"Cannot read the policy file {path}: {error.strerror}.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"The policy file {path} is not UTF-8 text.") from None
    return parse_policy(text, source=f"The policy file {path}", questionnaire=questionnaire)


def extract_policy_reasons(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Any:
    """A Babel extractor (see triage/babel.cfg): every reason sentence of a policy file, for translators."""
    data = tomllib.loads(fileobj.read().decode("utf-8"))
    waiting = data.get("waiting", {})
    sentences = [waiting.get("reason"), *(p.get("reason") for p in waiting.get("promote", []))]
    sentences += [rule.get("reason") for rule in data.get("rule", [])]
    for sentence in sentences:
        if isinstance(sentence, str):
            yield 0, None, sentence, ["a reason from the shipped priority policy; keep {placeholders} as they are"]
