"""The posted request form read without building the WTForms form (issues 14, 21 and 23).

Building the form (a field per question, their widgets' metadata, a fresh CSRF token never shown) cost a
sixth of a submission's CPU, only to find, almost always, that every answer is fine. ``decode`` reads only
the questionnaire's own fields from the posted body, exactly as the form's fields would take them, and
validates nothing: the answers are then validated once, by ``crypto.answers.normalize_answers`` (inside
``encode_questionnaire_request``), which the sealed payload obeys anyway. Only when that refuses does the
view build the form, which finds and shows every error. tests/intake/test_fast_form.py proves, over
arbitrary and hostile values and for generated questionnaires, that decode-then-normalize accepts exactly
what the form's ``validate()`` accepts and yields exactly the same answers.

Mirrored WTForms behaviour: a field takes the first value sent under its name (a choice list takes them
all); a missing text is None; a checkbox is true unless missing, "" or "false"; the text filter turns CRLF
into LF. A number that is not one of ours stays the text it was, so the checks refuse it as the form does.
The CSRF token is not read here: it was checked before the view (``g.csrf_valid``).
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from crypto.questionnaire import Field, Questionnaire
from intake.questionnaire_form import SHOWN_KINDS, read_integer

_CHECKBOX_OFF = ("false", "")


class FormReader:
    """``decode(formdata)``: the candidate answers to ``questionnaire``, keyed by field id, unchecked."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        self._fields: tuple[Field, ...] = tuple(f for f in questionnaire.fields if f.kind in SHOWN_KINDS)

    def decode(self, formdata: MultiDict[str, str]) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for f in self._fields:
            values = formdata.getlist(f.id)
            if f.kind == "any_of":
                answers[f.id] = values
                continue
            first = values[0] if values else None
            if f.kind == "integer":
                answers[f.id] = None if first in (None, "") else _number(f, first)
            elif f.kind == "consent":
                answers[f.id] = first is not None and first not in _CHECKBOX_OFF
            elif f.kind in ("short_text", "long_text"):
                answers[f.id] = first.replace("\r\n", "\n") if first is not None else None
            else:  # one_of
                answers[f.id] = first
        return answers


def _number(f: Field, text: str) -> int | str:
    number = read_integer(f, text)
    return text if number is None else number  # a text the checks refuse (not_an_integer)


def form_answers(questionnaire: Questionnaire, data: dict[str, Any]) -> dict[str, Any]:
    """The candidate answers from a form's ``.data`` (the slow path), by the same rules as ``decode``."""
    answers: dict[str, Any] = {}
    for f in questionnaire.fields:
        if f.kind not in SHOWN_KINDS:
            continue
        value = data.get(f.id)
        if f.kind == "integer":
            answers[f.id] = None if value in (None, "") else _number(f, value)
        elif f.kind == "any_of":
            answers[f.id] = list(value or [])
        elif f.kind == "consent":
            answers[f.id] = value is True
        else:
            answers[f.id] = value
    return answers
