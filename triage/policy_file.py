"""Reading a priority policy file: its TOML checked for form, then its rules checked against the questionnaire
they are written for (``bind``). triage.policy holds what a policy is and how it evaluates a case.

Every problem is one ``PolicyError`` that names the place and the fix.
"""

from __future__ import annotations

import importlib.resources
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crypto.questionnaire import BUILTIN, QUESTIONNAIRE_ID, Questionnaire, builtin_questionnaire
from triage.errors import PolicyError
from triage.policy import (
    _CHOICE_KINDS,
    CASE_FIELDS,
    LEVEL_RANK,
    LEVELS,
    MAX_POINTS,
    NEW_MESSAGES_RANGE,
    POLICY_FORMAT,
    SHIPPED_QUESTIONNAIRE,
    Condition,
    Policy,
    Promotion,
    Rule,
    _Bound,
    _choice_scores,
    _RawRule,
)


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


def bind(policy: Policy, questionnaire: Questionnaire) -> _Bound:
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
