"""A frozen copy of triage/policy.py as it was before the policy read the questionnaire (issue 23).

Kept only so tests/triage/test_policy_equivalence.py can show that the shipped policy on the shipped
questionnaire gives exactly the levels, scores and reasons it gave before. Do not change it; do not use it
in the product.
"""

from __future__ import annotations

import importlib.resources
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crypto import request_schema as schema
from triage.errors import PolicyError

LEVELS = ("emergency", "urgent", "normal")  # most severe first
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
POLICY_FORMAT = 1
MAX_POINTS = 1_000_000

_ONE_OF = {
    "danger": schema.DANGER,
    "detention": schema.DETENTION,
    "location": schema.LOCATION,
    "contact_method": schema.CONTACT_METHOD,
}
_ANY_OF = {"threat_from": schema.THREAT_FROM, "documents": schema.DOCUMENTS}
_NUMBERS = {"people": schema.PEOPLE_RANGE, "children": schema.CHILDREN_RANGE, "new_messages": (0, 10_000)}
# Not a request field: how many of the person's follow-up messages no caseworker has opened yet (the case's
# thread). A policy may raise a case for it: a new message on an emergency case is news.
CASE_FIELDS = frozenset({"new_messages"})
_TEXTS = tuple(schema.TEXT_LIMITS)
FIELDS = (*_ONE_OF, *_ANY_OF, *_NUMBERS, *_TEXTS)


@dataclass(frozen=True)
class Condition:
    field: str
    choices: frozenset[str] = frozenset()
    at_least: int | None = None
    at_most: int | None = None
    filled: bool | None = None

    def __post_init__(self) -> None:
        # One small closure per condition, chosen once: evaluate() runs for every case on every listing.
        object.__setattr__(self, "test", self._make_test())

    def _make_test(self) -> Callable[[Any], bool]:
        choices, low, high = self.choices, self.at_least, self.at_most
        if self.field in _ONE_OF:
            return lambda value: value in choices
        if self.field in _ANY_OF:
            return lambda value: not choices.isdisjoint(value or ())
        if self.field in _NUMBERS:
            return lambda value: value is not None and (low is None or value >= low) and (high is None or value <= high)
        filled = self.filled
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
class Promotion:
    from_level: str
    to_level: str
    after_days: int
    reason: str


@dataclass(frozen=True)
class Reason:
    """One reason as the policy wrote it: the sentence (its placeholders unfilled), their values, the points.

    A face translates ``template`` (the shipped policy's sentences are in the triage catalogue), then
    fills it; ``Priority.reasons`` holds the same reasons in the policy's own words, for --json and CSV.
    """

    template: str
    values: Mapping[str, int] | None
    points: int | None


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
class Policy:
    rules: tuple[Rule, ...]
    default_level: str
    points_per_day: int
    max_waiting_points: int
    waiting_reason: str
    promotions: tuple[Promotion, ...]

    def evaluate(self, request: Mapping[str, Any], days_waiting: int, *, new_messages: int = 0) -> Priority:
        """Level, score and reasons for one request that has waited ``days_waiting`` days, with
        ``new_messages`` follow-ups in its thread that nobody has opened yet."""
        days = max(0, days_waiting)
        rank = LEVEL_RANK[self.default_level]
        score = 0
        reasons: list[str] = []
        parts: list[Reason] = []
        get = {**request, "new_messages": new_messages}.get if new_messages else request.get
        for rule in self.rules:
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
                    values = _values(request, days)
                    reasons.append(rule.reason.format_map(values) + f" ({points:+d})")
                    parts.append(Reason(rule.reason, values, points))
        waiting = min(days * self.points_per_day, self.max_waiting_points)
        if waiting:
            score += waiting
            values = _values(request, days)
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
            values = _values(request, days)
            reasons.append(best.reason.format_map(values))
            parts.append(Reason(best.reason, values, None))
        return Priority(LEVELS[rank], score, tuple(reasons), tuple(parts))


def _values(request: Mapping[str, Any], days: int) -> dict[str, int]:
    """What a reason's placeholders may name ({people}, {children}, {days}); a sentence without any ignores them."""
    values = {name: request.get(name) or 0 for name in _NUMBERS}
    values["days"] = days
    return values


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


def _template(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise _fail(where, "must be a sentence of 1 to 200 characters")
    try:
        names = [name for _, name, spec, conv in string.Formatter().parse(value) if name is not None]
        bad = [n for n in names if n not in (*_NUMBERS, "days")]
        specs = [(spec, conv) for _, name, spec, conv in string.Formatter().parse(value) if name is not None]
    except ValueError:
        raise _fail(where, "has an unmatched { or }; write {{ or }} for a brace") from None
    if bad or any(spec or conv for spec, conv in specs):
        raise _fail(where, "may only use the placeholders {people}, {children} and {days}")
    return value


def _condition(field: str, value: Any, where: str) -> Condition:
    where = f"{where}, when.{field}"
    if field in _ONE_OF or field in _ANY_OF:
        allowed = _ONE_OF.get(field) or _ANY_OF[field]
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise _fail(where, "must be a choice or a list of choices")
        wrong = [v for v in values if v not in allowed]
        if wrong:
            raise _fail(where, f"{wrong[0]!r} is not a choice (choices: {', '.join(allowed)})")
        return Condition(field, choices=frozenset(values))
    if field in _NUMBERS:
        low, high = _NUMBERS[field]
        if isinstance(value, int) and not isinstance(value, bool):
            exact = _int(value, where, low, high)
            return Condition(field, at_least=exact, at_most=exact)
        if not isinstance(value, dict) or not value:
            raise _fail(where, "must be a number or a table like { at_least = 2 }")
        _keys(value, {"at_least", "at_most"}, set(), where)
        at_least = _int(value["at_least"], f"{where}.at_least", low, high) if "at_least" in value else None
        at_most = _int(value["at_most"], f"{where}.at_most", low, high) if "at_most" in value else None
        return Condition(field, at_least=at_least, at_most=at_most)
    if field in _TEXTS:
        if not isinstance(value, dict) or set(value) != {"filled"} or not isinstance(value["filled"], bool):
            raise _fail(where, "must be { filled = true } or { filled = false }")
        return Condition(field, filled=value["filled"])
    raise _fail(where, f"unknown field (fields: {', '.join(FIELDS)})")


def _rule(index: int, table: Any) -> Rule:
    where = f"rule {index}"
    if not isinstance(table, dict):
        raise _fail(where, "must be a table ([[rule]])")
    _keys(table, {"reason", "when", "level", "points", "per", "max_points"}, {"reason", "when"}, where)
    reason = _template(table["reason"], f"{where}, reason")
    where = f"rule {index} ({reason!r})"
    when = table["when"]
    if not isinstance(when, dict) or not when:
        raise _fail(where, "'when' must name at least one field, like when = { danger = \"immediate\" }")
    conditions = tuple(_condition(str(f), v, where) for f, v in when.items())
    level = _level(table["level"], f"{where}, level") if "level" in table else None
    points = _int(table.get("points", 0), f"{where}, points", -MAX_POINTS)
    per = table.get("per")
    if per is not None and per not in _NUMBERS:
        raise _fail(f"{where}, per", f"must be one of {', '.join(_NUMBERS)}")
    max_points = _int(table["max_points"], f"{where}, max_points", -MAX_POINTS) if "max_points" in table else None
    return Rule(reason, conditions, level, points, per, max_points)


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


def parse_policy(text: str, *, source: str = "policy") -> Policy:
    """Parse and check a policy; PolicyError (naming ``source`` and the place) on any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source} is not valid TOML ({error}).") from None
    try:
        return _policy(data)
    except PolicyError as error:
        raise PolicyError(f"{source}, {error}") from None


def _policy(data: dict[str, Any]) -> Policy:
    _keys(data, {"format", "default_level", "waiting", "rule"}, {"format", "rule"}, "top level")
    if data["format"] != POLICY_FORMAT:
        raise _fail("format", f"this triage reads policy format {POLICY_FORMAT}")
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
        rules=tuple(_rule(i, r) for i, r in enumerate(rules, 1)),
        default_level=default_level,
        points_per_day=_int(waiting.get("points_per_day", 0), "waiting.points_per_day", 0, 10_000),
        max_waiting_points=_int(waiting.get("max_points", 0), "waiting.max_points", 0),
        waiting_reason=_template(waiting.get("reason", "Waiting {days} days"), "waiting.reason"),
        promotions=tuple(_promotion(i, p) for i, p in enumerate(promote, 1)),
    )


def default_policy_text() -> str:
    return importlib.resources.files("triage").joinpath("default_policy.toml").read_text(encoding="utf-8")


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path``, or the shipped default."""
    if path is None:
        return parse_policy(default_policy_text(), source="the default policy")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PolicyError(f"Cannot read the policy file {path}: {error.strerror}.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"The policy file {path} is not UTF-8 text.") from None
    return parse_policy(text, source=f"The policy file {path}")
