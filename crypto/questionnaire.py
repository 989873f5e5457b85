"""The questionnaire as data: one TOML file that declares the questions, their bounds and every word.

``load_questionnaire(text)`` reads a questionnaire file (docs/FORMAT.md §10), refuses a bad one with
one ``QuestionnaireError`` sentence naming the place (``field "story": ...``), and returns a frozen
``Questionnaire``: sections in order, fields with stable ids, kinds and bounds, choices with stable ids,
the words of every enabled language, the short path for danger now, and optional points and level
floors per choice for the priority policy. Its ``sha256`` is the SHA-256 of the file's canonical form
(the parsed TOML as canonical JSON), so comments and layout do not change it but any word does.

What it never does: render HTML (labels are plain text, refused if they hold markup or invisible
controls), or let a field id collide with a form control or a payload key of the envelope.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crypto.errors import CryptoError

FORMAT = 1
MAX_FILE_BYTES = 256 * 1024
MAX_FIELDS = 80
MAX_CHOICES = 40
MAX_LABEL_CHARS = 300
MAX_HELP_CHARS = 1000
MAX_TEXT_CHARS = 20000
MAX_INTEGER = 10**6
MAX_FILES = 20
KINDS = ("one_of", "any_of", "integer", "short_text", "long_text", "consent", "file")
LEVELS = ("emergency", "urgent", "normal")
# Names the form page, the fast reader or the envelope already use: a field must not shadow them.
RESERVED_IDS = frozenset({
    "csrf_token", "submission", "lang", "receipt", "message", "schema", "kind", "locale", "submitted_on",
    "reply_key", "questionnaire", "answers", "attachments", "consent_text",
})  # fmt: skip
PLAIN_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
QUESTIONNAIRE_ID = re.compile(r"[a-z][a-z0-9-]{0,39}")
LANGUAGE = re.compile(r"[a-z]{2,3}")
_TOP_KEYS = {"format", "id", "version", "languages", "title", "section", "field", "urgent", "caseworker_first"}
_SECTION_KEYS = {"id", "title"}
_FIELD_KEYS = {"id", "section", "kind", "required", "label", "short", "help", "urgent_help", "choices", "min",
               "max", "max_chars", "max_files", "at_most", "optional_when", "errors"}  # fmt: skip
_CHOICE_KEYS = {"id", "label", "points", "level"}
_ERROR_KINDS = ("required", "too_long", "out_of_range", "not_a_choice", "at_most")


class QuestionnaireError(CryptoError):
    """A questionnaire file that cannot be used; the message names the place and what to change."""


@dataclass(frozen=True)
class Choice:
    id: str
    label: Mapping[str, str]
    points: int = 0
    level: str | None = None


@dataclass(frozen=True)
class Section:
    id: str
    title: Mapping[str, str]


@dataclass(frozen=True)
class Field:
    id: str
    section: str
    kind: str
    required: bool
    label: Mapping[str, str]
    short: Mapping[str, str]
    help: Mapping[str, str] = field(default_factory=dict)
    urgent_help: Mapping[str, str] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    min: int | None = None
    max: int | None = None
    max_chars: int | None = None
    max_files: int | None = None
    at_most: str | None = None
    optional_when: tuple[str, str] | None = None
    errors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def choice(self, choice_id: str) -> Choice | None:
        return next((c for c in self.choices if c.id == choice_id), None)

    @functools.cached_property
    def choice_ids(self) -> frozenset[str]:
        """The ids of its choices: an answer is checked against them without walking the choices (every request
        opened checks every answer)."""
        return frozenset(c.id for c in self.choices)


@dataclass(frozen=True)
class Questionnaire:
    id: str
    version: int
    languages: tuple[str, ...]
    title: Mapping[str, str]
    sections: tuple[Section, ...]
    fields: tuple[Field, ...]
    urgent: tuple[str, ...]
    caseworker_first: tuple[str, ...]
    canonical: bytes = field(repr=False)
    sha256: str = ""

    def field(self, field_id: str) -> Field:
        for candidate in self.fields:
            if candidate.id == field_id:
                return candidate
        raise KeyError(field_id)

    @property
    def field_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.fields)

    @functools.cached_property
    def field_id_set(self) -> frozenset[str]:
        return frozenset(self.field_ids)

    def short_path(self) -> tuple[tuple[str, str] | None, tuple[str, ...]]:
        """The short path for danger now: the answer it gives for the person, and the fields it shows.

        The first field ``urgent`` names, if it is a one_of field, is answered with its first choice (the
        most urgent one) and not asked; the others are shown. Without ``urgent``, every required field is.
        """
        if not self.urgent:
            return None, tuple(f.id for f in self.fields if f.required)
        first = self.field(self.urgent[0])
        if first.kind == "one_of":
            return (first.id, first.choices[0].id), tuple(i for i in self.field_ids if i in self.urgent[1:])
        return None, tuple(i for i in self.field_ids if i in self.urgent)


def canonical_form(data: Mapping[str, Any]) -> bytes:
    """The bytes the questionnaire's hash covers: its parsed data as compact JSON, keys sorted, UTF-8."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _fail(where: str, message: str) -> QuestionnaireError:
    return QuestionnaireError(f"{where}: {message}")


def _keys(table: Any, allowed: set[str], required: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(table, dict):
        raise _fail(where, "must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(where, f"unknown key {unknown[0][:40]!r} (known: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(table))
    if missing:
        raise _fail(where, f"the key {missing[0]!r} is missing")
    return table


def _plain_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not PLAIN_ID.fullmatch(value):
        raise _fail(where, "an id is a plain token: a-z first, then a-z, 0-9 or _, at most 40 characters")
    return value


def _questionnaire_id(value: Any) -> str:
    if not isinstance(value, str) or not QUESTIONNAIRE_ID.fullmatch(value):
        raise _fail("id", "a questionnaire id is a-z first, then a-z, 0-9 or -, at most 40 characters")
    return value


def plain_text(value: Any, where: str, limit: int) -> str:
    """A visible word: text, not HTML; no control, bidi or invisible format character; NFC; bounded."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, "must be a non-empty text")
    if len(value) > limit:
        raise _fail(where, f"is longer than {limit} characters")
    if "<" in value or ">" in value:
        raise _fail(where, "is plain text: it may not contain < or > (no markup)")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") and ch != "\n":
            raise _fail(where, f"contains an invisible or control character (U+{ord(ch):04X})")
    if unicodedata.normalize("NFC", value) != value:
        raise _fail(where, "is not in Unicode NFC form; save the file as NFC")
    return value


def _words(value: Any, languages: tuple[str, ...], where: str, limit: int = MAX_LABEL_CHARS) -> dict[str, str]:
    if not isinstance(value, dict):
        example = ", ".join(f"{lang} = ..." for lang in languages)
        raise _fail(where, f"must give the words in every language: {{ {example} }}")
    extra = sorted(set(value) - set(languages))
    if extra:
        raise _fail(where, f"has words in {extra[0][:8]!r}, which is not in languages")
    for language in languages:
        if language not in value:
            raise _fail(where, f"the {language!r} words are missing")
    return {language: plain_text(value[language], f"{where}.{language}", limit) for language in languages}


def _int(value: Any, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _fail(where, f"must be a whole number from {low} to {high}")
    return value


def _choices(raw: Any, languages: tuple[str, ...], where: str) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CHOICES:
        raise _fail(where, f"a choice field needs 1 to {MAX_CHOICES} choices")
    seen: set[str] = set()
    out = []
    for n, entry in enumerate(raw, 1):
        place = f"{where} {n}"
        table = _keys(entry, _CHOICE_KEYS, {"id", "label"}, place)
        choice_id = _plain_id(table["id"], f"{place} id")
        if choice_id in seen:
            raise _fail(place, f"the choice id {choice_id!r} appears twice")
        seen.add(choice_id)
        level = table.get("level")
        if level is not None and level not in LEVELS:
            raise _fail(f"{place} level", f"must be one of {', '.join(LEVELS)}")
        points = _int(table.get("points", 0), f"{place} points", 0, 1000)
        out.append(Choice(choice_id, _words(table["label"], languages, f"{place} label"), points, level))
    return tuple(out)


def _field(raw: Any, n: int, languages: tuple[str, ...], sections: set[str]) -> Field:
    where = f"field {n}"
    table = _keys(raw, _FIELD_KEYS, {"id", "section", "kind", "label"}, where)
    field_id = _plain_id(table["id"], f"{where} id")
    where = f'field "{field_id}"'
    if field_id in RESERVED_IDS:
        raise _fail(where, "this id is used by the form or the envelope itself; choose another")
    kind = table["kind"]
    if kind not in KINDS:
        raise _fail(where, f"unknown kind {str(kind)[:20]!r} (one of: {', '.join(KINDS)})")
    if not isinstance(table["section"], str) or table["section"] not in sections:
        raise _fail(where, f"names the section {str(table['section'])[:40]!r}, which is not declared")
    required = table.get("required", False)
    if not isinstance(required, bool):
        raise _fail(f"{where} required", "must be true or false")
    words = {key: _words(table[key], languages, f"{where} {key}", MAX_HELP_CHARS)
             for key in ("help", "urgent_help") if key in table}  # fmt: skip
    errors = {}
    for error, text in _keys(table.get("errors", {}), set(_ERROR_KINDS), set(), f"{where} errors").items():
        errors[error] = _words(text, languages, f"{where} errors.{error}")
    made = Field(
        field_id, table["section"], kind, required, _words(table["label"], languages, f"{where} label"),
        _words(table.get("short", table["label"]), languages, f"{where} short"), words.get("help", {}),
        words.get("urgent_help", {}), errors=errors,
    )  # fmt: skip
    return _bounds(made, table, languages, where)


def _bounds(made: Field, table: Mapping[str, Any], languages: tuple[str, ...], where: str) -> Field:
    kind = made.kind
    allowed = {"one_of": {"choices"}, "any_of": {"choices"}, "integer": {"min", "max", "at_most"},
               "short_text": {"max_chars", "optional_when"}, "long_text": {"max_chars", "optional_when"},
               "consent": set(), "file": {"max_files"}}[kind]  # fmt: skip
    extra = sorted({"choices", "min", "max", "max_chars", "max_files", "at_most", "optional_when"} & set(table)
                   - allowed)  # fmt: skip
    if extra:
        raise _fail(where, f"a {kind} field has no {extra[0]!r}")
    values: dict[str, Any] = {}
    if kind in ("one_of", "any_of"):
        values["choices"] = _choices(table.get("choices"), languages, f"{where} choice")
    if kind == "integer":
        low = _int(table.get("min"), f"{where} min", -MAX_INTEGER, MAX_INTEGER)
        high = _int(table.get("max"), f"{where} max", -MAX_INTEGER, MAX_INTEGER)
        if low > high:
            raise _fail(where, f"min ({low}) is larger than max ({high})")
        at_most = table.get("at_most")
        if at_most is not None and not isinstance(at_most, str):
            raise _fail(f"{where} at_most", "is the id of another integer field")
        values.update(min=low, max=high, at_most=at_most)
    if kind in ("short_text", "long_text"):
        limit = 500 if kind == "short_text" else MAX_TEXT_CHARS
        values["max_chars"] = _int(table.get("max_chars"), f"{where} max_chars", 1, limit)
        condition = table.get("optional_when")
        if condition is not None:
            if not isinstance(condition, dict) or len(condition) != 1:
                raise _fail(f"{where} optional_when", 'is one answer: { field_id = "choice_id" }')
            ((other, choice),) = condition.items()
            values["optional_when"] = (other, choice)
    if kind == "file":
        values["max_files"] = _int(table.get("max_files"), f"{where} max_files", 1, MAX_FILES)
    if kind == "consent" and not made.required:
        raise _fail(where, "a consent field is always required (required = true)")
    return Field(**{**made.__dict__, **values})


def _cross_checks(fields: tuple[Field, ...], where: str = "questionnaire") -> None:
    by_id = {f.id: f for f in fields}
    for f in fields:
        if f.at_most is not None:
            other = by_id.get(f.at_most)
            if other is None or other.kind != "integer":
                raise _fail(f'field "{f.id}" at_most', f"names {f.at_most[:40]!r}, which is not an integer field")
        if f.optional_when is not None:
            other_id, choice = f.optional_when
            other = by_id.get(other_id)
            if other is None or other.kind != "one_of" or other.choice(choice) is None:
                raise _fail(f'field "{f.id}" optional_when', f"names {other_id[:40]!r} = {str(choice)[:40]!r}, "
                            "which is not a choice of a one_of field")  # fmt: skip
    if not any(f.kind == "consent" for f in fields):
        raise _fail(where, "needs a consent field: the person agrees to how their request is handled")


def _id_list(value: Any, known: set[str], where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(set(value)) != len(value):
        raise _fail(where, "is a list of field ids, each once")
    for field_id in value:
        if field_id not in known:
            raise _fail(where, f"names the field {field_id[:40]!r}, which is not declared")
    return tuple(value)


def load_questionnaire(text: str | bytes, *, source: str = "questionnaire") -> Questionnaire:
    """Read and check a questionnaire file; QuestionnaireError with one sentence naming the place."""
    data = text.encode() if isinstance(text, str) else text
    if len(data) > MAX_FILE_BYTES:
        raise _fail(source, f"is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _fail(source, "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise _fail(source, f"is not valid TOML ({str(error)[:120]})") from None
    try:
        canonical = canonical_form(raw)
    except (TypeError, ValueError):
        raise _fail(source, "holds a date, time or decimal number; only text, whole numbers and true/false") from None
    return _questionnaire(_keys(raw, _TOP_KEYS, {"format", "id", "version", "languages", "section", "field"}, source),
                          canonical)  # fmt: skip


def _questionnaire(raw: Mapping[str, Any], canonical: bytes) -> Questionnaire:
    if raw["format"] != FORMAT:
        raise _fail("format", f"this reader knows questionnaire format {FORMAT}")
    languages = raw["languages"]
    if (not isinstance(languages, list) or not languages
            or not all(isinstance(lang, str) and LANGUAGE.fullmatch(lang) for lang in languages)
            or len(set(languages)) != len(languages)):  # fmt: skip
        raise _fail("languages", 'is a list of language codes, each once, like ["en", "ru"]')
    langs = tuple(languages)
    sections_raw = raw["section"]
    if not isinstance(sections_raw, list) or not sections_raw:
        raise _fail("section", "at least one [[section]] is needed")
    sections: list[Section] = []
    for n, entry in enumerate(sections_raw, 1):
        table = _keys(entry, _SECTION_KEYS, {"id", "title"}, f"section {n}")
        section_id = _plain_id(table["id"], f"section {n} id")
        if any(s.id == section_id for s in sections):
            raise _fail(f"section {n}", f"the section id {section_id!r} appears twice")
        sections.append(Section(section_id, _words(table["title"], langs, f'section "{section_id}" title')))
    fields_raw = raw["field"]
    if not isinstance(fields_raw, list) or not 1 <= len(fields_raw) <= MAX_FIELDS:
        raise _fail("field", f"1 to {MAX_FIELDS} [[field]] tables are needed")
    fields: list[Field] = []
    for n, entry in enumerate(fields_raw, 1):
        made = _field(entry, n, langs, {s.id for s in sections})
        if any(f.id == made.id for f in fields):
            raise _fail(f'field "{made.id}"', "this id appears twice")
        fields.append(made)
    frozen = tuple(fields)
    _cross_checks(frozen)
    known = {f.id for f in frozen}
    title = _words(raw["title"], langs, "title") if "title" in raw else {lang: "" for lang in langs}
    questionnaire = Questionnaire(
        _questionnaire_id(raw["id"]), _int(raw["version"], "version", 1, 10**6), langs, title, tuple(sections), frozen,
        _id_list(raw.get("urgent"), known, "urgent"), _id_list(raw.get("caseworker_first"), known, "caseworker_first"),
        canonical, hashlib.sha256(canonical).hexdigest(),
    )  # fmt: skip
    _check_short_path(questionnaire)
    return questionnaire


def _check_short_path(q: Questionnaire) -> None:
    """A request sent by the short path must be complete: every required field is on it, or optional there."""
    fixed, shown = q.short_path()
    for f in q.fields:
        if f.required and f.id not in shown and (fixed is None or f.id != fixed[0]) and f.optional_when != fixed:
            raise _fail("urgent", f'the required field "{f.id}" is not on the short path; add it to urgent, or '
                        "make it optional_when the short path's answer")  # fmt: skip


BUILTIN = {"evacuation-request": "evacuation-request.toml", "relocation-lgbtqi": "relocation-lgbtqi.toml"}


def builtin_questionnaire(name: str = "evacuation-request") -> Questionnaire:
    """A questionnaire shipped with the package: the default form, or the example for another organisation."""
    from importlib import resources

    text = resources.files("crypto").joinpath("questionnaires", BUILTIN[name]).read_bytes()
    return load_questionnaire(text, source=BUILTIN[name])
