"""The request form drawn from the questionnaire (issue 23): its WTForms class, its pages' layout, its words.

``load_configured(config)`` reads the questionnaire the server serves (``INTAKE_QUESTIONNAIRE``, or the
built-in evacuation-request) once, at start; a bad file stops the server with the loader's one sentence.
``QuestionnaireForm`` holds what the views need from it: the WTForms class (built once, used only to show
errors, a refusal or a language switch: a valid submission never builds it, see intake.fastform), the
layout of the full form and of the short path, and the field ids the pages may send back.

Every visible word of a question comes from the file, in the page's language (``Words``), and is text:
Jinja escapes it like any other value (the loader already refuses ``<`` and ``>``, and invisible controls).
A ``file`` field is not drawn here: the attachments block of the form is its own (templates/_files.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Field, Form, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation, ValidationError

from crypto.questionnaire import Field as Question
from crypto.questionnaire import Questionnaire, QuestionnaireError, builtin_questionnaire, load_questionnaire
from crypto.questionnaire_size import check_fits
from crypto.request_schema import FORBIDDEN_CHARACTERS
from intake.config import ConfigError, IntakeConfig
from intake.forms import (
    IntakeForm,
    MultiCheckboxField,
    _normalise_newlines,
    form_integer,
    must_agree,
    optional,
    required,
)

# An integer field with at most this many values is a select (as today's "how many people"); past it a
# text box, which the same rules read (intake.forms.form_integer).
MAX_SELECT_VALUES = 100
SHOWN_KINDS = ("one_of", "any_of", "integer", "short_text", "long_text", "consent")


class Words:
    """A text of the questionnaire in the page's language, chosen when shown (Babel's locale of this request).

    No ``__html__``: Jinja escapes it as text, so a label can never be markup.
    """

    __slots__ = ("_words",)

    def __init__(self, words: Mapping[str, str]) -> None:
        self._words = words

    def __str__(self) -> str:
        language = str(get_locale() or "")
        return self._words.get(language) or next(iter(self._words.values()))

    def __repr__(self) -> str:
        return f"Words({dict(self._words)!r})"


def _message(q: Question, kind: str, default: Any) -> Any:
    return Words(q.errors[kind]) if kind in q.errors else default


def integer_digits(q: Question) -> int:
    """How many digits a number of this field may be written with (the select's 1 to 3, or more)."""
    assert q.min is not None and q.max is not None
    return max(3, len(str(abs(q.min))), len(str(abs(q.max))))


def read_integer(q: Question, value: Any) -> int | None:
    """The one way a number of this field is read from the form (None: not a number of ours)."""
    assert q.min is not None
    return form_integer(value, digits=integer_digits(q), negative=q.min < 0)


def _required(q: Question) -> Any:
    message = _message(q, "required", None)
    if message is None:
        return required

    def check(form: Form, field: Field) -> None:
        try:
            required(form, field)
        except StopValidation:
            raise StopValidation(str(message)) from None

    return check


def _first(q: Question, other: tuple[str, str] | None = None) -> Any:
    """required, optional, or (optional_when) required unless the named answer was given."""
    if other is None:
        return _required(q) if q.required else optional
    name, choice = other
    when_required = _required(q)

    def check(form: Form, field: Field) -> None:
        if getattr(form, name).data == choice:
            optional(form, field)
        else:
            when_required(form, field)

    return check


def _choice_of(q: Question) -> Any:
    ids = frozenset(c.id for c in q.choices)
    message = _message(q, "not_a_choice", _l("Please choose one of the options shown."))

    def check(form: Form, field: Field) -> None:
        values = field.data if isinstance(field.data, list) else [field.data]
        if any(v not in ids for v in values):
            raise ValidationError(str(message))

    return check


def _number_of(q: Question) -> Any:
    low, high = q.min, q.max
    assert low is not None and high is not None
    message = _message(q, "out_of_range", _l("Please choose a number from %(low)s to %(high)s.", low=low, high=high))

    def check(form: Form, field: Field) -> None:
        number = read_integer(q, field.data)
        if number is None or not low <= number <= high:
            raise ValidationError(str(message))

    return check


def _at_most(q: Question, other: Question) -> Any:
    message = _message(q, "at_most", _l("This number cannot be larger than the answer to “%(question)s”.",
                                        question=Words(other.short)))  # fmt: skip

    def check(form: Form, field: Field) -> None:
        mine, theirs = read_integer(q, field.data), read_integer(other, getattr(form, other.id).data)
        if mine is not None and theirs is not None and mine > theirs:
            raise ValidationError(str(message))

    return check


def _text_of(q: Question) -> Any:
    limit = q.max_chars
    assert limit is not None
    too_long = _message(q, "too_long", _l("Please shorten this to %(limit)s characters.", limit=limit))

    def check(form: Form, field: Field) -> None:
        if len(field.data) > limit:
            raise ValidationError(str(too_long))
        if FORBIDDEN_CHARACTERS.search(field.data):
            raise ValidationError(str(_l("This contains characters that cannot be sent. Please retype it.")))

    return check


def _choices(q: Question) -> list[SelectChoice]:
    return [SelectChoice(c.id, Words(c.label)) for c in q.choices]


def _unbound(q: Question, by_id: Mapping[str, Question]) -> Any:
    label = Words(q.label)
    if q.kind in ("one_of", "any_of"):
        cls = RadioField if q.kind == "one_of" else MultiCheckboxField
        return cls(label, choices=_choices(q), validate_choice=False, validators=[_first(q), _choice_of(q)])
    if q.kind == "integer":
        assert q.min is not None and q.max is not None
        chain = [_first(q), _number_of(q)]
        if q.at_most is not None:
            chain.append(_at_most(q, by_id[q.at_most]))
        if q.max - q.min < MAX_SELECT_VALUES:
            numbers = [SelectChoice("", "—"), *(SelectChoice(str(n)) for n in range(q.min, q.max + 1))]
            return SelectField(label, choices=numbers, validate_choice=False, validators=chain)
        return StringField(label, validators=chain, render_kw={"maxlength": integer_digits(q) + 1,
                           "inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"})  # fmt: skip
    if q.kind in ("short_text", "long_text"):
        assert q.max_chars is not None
        cls = TextAreaField if q.kind == "long_text" else StringField
        chain = [_first(q, q.optional_when), _text_of(q)]
        return cls(label, validators=chain, filters=[_normalise_newlines],
                   render_kw={"maxlength": q.max_chars, "autocomplete": "off", "spellcheck": "false"})  # fmt: skip
    assert q.kind == "consent"
    message = _message(q, "required", None)
    return BooleanField(label, validators=[must_agree if message is None else _must_agree(message)])


def _must_agree(message: Words) -> Any:
    def check(form: Form, field: Field) -> None:
        if field.data is not True:
            raise StopValidation(str(message))

    return check


def form_class(questionnaire: Questionnaire) -> type[IntakeForm]:
    """The WTForms class of this questionnaire: one field per question, in the file's order."""
    by_id = {q.id: q for q in questionnaire.fields}
    attributes = {q.id: _unbound(q, by_id) for q in questionnaire.fields if q.kind in SHOWN_KINDS}
    return type("RequestForm", (IntakeForm,), attributes)


@dataclass(frozen=True)
class Asked:
    """One question as a page shows it: its id, whether it is marked required, its hint (or None)."""

    id: str
    kind: str
    required: bool
    hint: Words | None


@dataclass(frozen=True)
class Part:
    """A section of the full form: a fieldset with its title."""

    title: Words
    asked: tuple[Asked, ...]


@dataclass(frozen=True)
class Layout:
    parts: tuple[Part, ...]  # the full form's fieldsets (the short path: one part, no title)
    consents: tuple[Asked, ...]  # after the questions, beside what they confirm
    given: tuple[tuple[str, str], ...] = ()  # answers the page gives for the person (hidden fields)


def _asked(q: Question, required_mark: bool, hint: Mapping[str, str]) -> Asked:
    return Asked(q.id, q.kind, required_mark, Words(hint) if hint else None)


def full_layout(questionnaire: Questionnaire) -> Layout:
    parts = []
    for section in questionnaire.sections:
        asked = tuple(_asked(q, q.required, q.help) for q in questionnaire.fields
                      if q.section == section.id and q.kind in SHOWN_KINDS and q.kind != "consent")  # fmt: skip
        if asked:
            parts.append(Part(Words(section.title), asked))
    consents = tuple(_asked(q, True, q.help) for q in questionnaire.fields if q.kind == "consent")
    return Layout(tuple(parts), consents)


def short_layout(questionnaire: Questionnaire) -> Layout:
    answered, shown = questionnaire.short_path()
    asked = []
    for q in questionnaire.fields:
        if q.id not in shown or q.kind not in SHOWN_KINDS or q.kind == "consent":
            continue
        optional_here = answered is not None and q.optional_when == answered
        asked.append(_asked(q, q.required and not optional_here, q.urgent_help or q.help))
    consents = tuple(_asked(q, True, q.help) for q in questionnaire.fields if q.kind == "consent")
    return Layout((Part(Words({}), tuple(asked)),) if asked else (), consents, (answered,) if answered else ())


@dataclass(frozen=True)
class QuestionnaireForm:
    questionnaire: Questionnaire
    form: type[IntakeForm]
    full: Layout
    short: Layout

    @property
    def field_ids(self) -> tuple[str, ...]:
        """The names a posted form may carry answers under: nothing else is ever read or sent back."""
        return tuple(q.id for q in self.questionnaire.fields if q.kind in SHOWN_KINDS)


def questionnaire_form(questionnaire: Questionnaire) -> QuestionnaireForm:
    return QuestionnaireForm(questionnaire, form_class(questionnaire), full_layout(questionnaire),
                             short_layout(questionnaire))  # fmt: skip


def read_questionnaire(path: Path | None) -> Questionnaire:
    """The questionnaire at ``path`` (None: the built-in), checked to fit one envelope; QuestionnaireError."""
    from intake.questionnaire_command import read_questionnaire_file

    if path is None:
        questionnaire = builtin_questionnaire()
    else:
        questionnaire = load_questionnaire(read_questionnaire_file(path), source=str(path))
    check_fits(questionnaire)
    return questionnaire


def load_configured(config: IntakeConfig) -> Questionnaire:
    """The questionnaire of ``config``, or ConfigError with the loader's one sentence (the server does not start)."""
    try:
        return read_questionnaire(config.questionnaire_path)
    except QuestionnaireError as error:
        raise ConfigError(f"INTAKE_QUESTIONNAIRE cannot be used: {error}. Check it with `intake questionnaire "
                          "check FILE`.") from None  # fmt: skip


def enabled_languages(config: IntakeConfig, questionnaire: Questionnaire) -> tuple[str, ...]:
    """The page languages: those of the interface (config.languages, each a complete catalog) that the
    questionnaire also has every word in. ConfigError if the default language is not one of them."""
    languages = tuple(lang for lang in config.languages if lang in questionnaire.languages)
    if config.default_locale not in languages:
        raise ConfigError(f"INTAKE_DEFAULT_LOCALE {config.default_locale} is not a language of the questionnaire "
                          f"{questionnaire.id} ({', '.join(questionnaire.languages)}); set it to one of "
                          f"{', '.join(languages) or 'them that intake speaks (' + ', '.join(config.languages) + ')'}")
    return languages
