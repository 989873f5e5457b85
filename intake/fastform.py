"""The request form's success path without building the WTForms form (issue 14 item 2).

Building ``RequestForm`` (15 fields, their widgets' metadata, a fresh CSRF token that is never shown) cost a
sixth of a submission's CPU, only to find, almost always, that every answer is fine. ``answers`` reads the
posted body with the same rules as the form's validators, in plain code, and returns the data the form's
fields would hold after a successful ``validate()``; on anything else it returns None and the view builds
the real form, which finds and shows the errors. So this file only ever decides "valid", and decides it
exactly as the form does: tests/intake/test_fast_form.py proves, over arbitrary and hostile values, that
it accepts exactly what ``RequestForm.validate()`` accepts and yields exactly the same request.

Mirrored WTForms behaviour: a field takes the first value sent under its name (a choice list takes them
all); a missing text field is None; a checkbox is true unless missing, "" or "false"; the text filter turns
CRLF into LF before the checks. The CSRF token is not read here: CSRFProtect checked it before the view
(the view calls this only when ``g.csrf_valid`` says so, the same flag the form itself relies on).
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from crypto.request_schema import (
    CHILDREN_RANGE,
    CONTACT_METHOD,
    DANGER,
    DETENTION,
    DOCUMENTS,
    FORBIDDEN_CHARACTERS,
    LOCATION,
    PEOPLE_RANGE,
    TEXT_LIMITS,
    THREAT_FROM,
)
from intake.forms import form_integer

# name: (allowed values, required)
_ONE_OF = {"danger": (DANGER, True), "detention": (DETENTION, False), "location": (LOCATION, False),
           "contact_method": (CONTACT_METHOD, True)}  # fmt: skip
_ANY_OF = {"threat_from": THREAT_FROM, "documents": DOCUMENTS}
_REQUIRED_TEXT = frozenset({"contact"})  # "story" is required unless the danger is immediate
_CHECKBOX_OFF = ("false", "")
# The form's own fields, in the form's order: nothing else a body carries is ever read or sent back.
FIELD_NAMES = ("danger", "threat_from", "detention", "location", "people", "children", "documents", "health",
               "contact_method", "contact", "safe_times", "alias", "story", "consent")  # fmt: skip


def _first(formdata: MultiDict[str, str], name: str) -> str | None:
    values = formdata.getlist(name)
    return values[0] if values else None


def _number(value: str | None, low: int, high: int) -> int | None:
    number = form_integer(value)
    return number if number is not None and low <= number <= high else None


def answers(formdata: MultiDict[str, str]) -> dict[str, Any] | None:
    """``{field name: data}`` as a validated RequestForm holds it, or None if the form would not validate."""
    data: dict[str, Any] = {}
    for name, (choices, required) in _ONE_OF.items():
        value = _first(formdata, name)
        if not (value in choices or (not required and value in (None, ""))):
            return None
        data[name] = value
    for name, choices in _ANY_OF.items():
        values = formdata.getlist(name)
        if any(value not in choices for value in values):
            return None
        data[name] = values
    people, children = _first(formdata, "people"), _first(formdata, "children")
    people_number = _number(people, *PEOPLE_RANGE)
    if people_number is None:
        return None
    if children not in (None, ""):
        children_number = _number(children, *CHILDREN_RANGE)
        if children_number is None or children_number > people_number:
            return None
    data["people"], data["children"] = people, children
    for name, limit in TEXT_LIMITS.items():
        text = _first(formdata, name)
        if text is not None:
            text = text.replace("\r\n", "\n")
        required = name in _REQUIRED_TEXT or (name == "story" and data["danger"] != "immediate")
        if text is None or text == "" or (required and not text.strip()):
            if required:
                return None
        elif len(text) > limit or FORBIDDEN_CHARACTERS.search(text):
            return None
        data[name] = text
    consent = _first(formdata, "consent")
    if consent is None or consent in _CHECKBOX_OFF:
        return None
    data["consent"] = True
    return data
