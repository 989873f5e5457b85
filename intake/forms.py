"""The request form (schema v1 field names, exactly) and the status form, with their own messages.

Choice fields are checked here against the schema's tuples with our own translated messages (WTForms'
built-in messages are neither ours nor guaranteed to be translated). ``crypto.encode_request`` checks
everything again when the request is sealed: the schema has one source of truth.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, Form, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

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
from intake.csrf import StatelessCSRF
from intake.receipts import DIGITS, MAX_INPUT_CHARS, normalize_receipt


def _normalise_newlines(value: Any) -> Any:
    # Browsers send textarea newlines as CRLF but count them as one character for maxlength.
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):  # type: ignore[misc]
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def required(form: Form, field: Field) -> None:
    if field.data in (None, "", []) or (isinstance(field.data, str) and not field.data.strip()):
        field.errors[:] = []
        if isinstance(field, RadioField | SelectField):  # nothing to fill in: a choice was not made
            raise StopValidation(str(_l("Please choose an answer.")))
        raise StopValidation(str(_l("Please fill this in.")))


def required_unless_in_danger_now(form: Form, field: Field) -> None:
    """The story helps, but a person in danger now must get through without it (issue 12 item 6)."""
    if getattr(form, "danger", None) is not None and form.danger.data == "immediate":
        optional(form, field)
    else:
        required(form, field)


def must_agree(form: Form, field: Field) -> None:
    if field.data is not True:
        raise StopValidation(str(_l("Please tick this box: it says you know how your request is protected.")))


def optional(form: Form, field: Field) -> None:
    if field.data in (None, "", []):
        field.errors[:] = []
        raise StopValidation()


def one_of(choices: tuple[str, ...]) -> Any:
    def check(form: Form, field: Field) -> None:
        values = field.data if isinstance(field.data, list) else [field.data]
        if any(v not in choices for v in values):
            raise ValidationError(str(_l("Please choose one of the options shown.")))

    return check


_ASCII_DIGITS = frozenset("0123456789")


def form_integer(value: Any) -> int | None:
    """A small number as a browser's select sends it: 1 to 3 ASCII digits, or None.

    The one way the form reads a number. ``str.isdigit`` is true for '²', '٣' and '３', and ``int`` then
    either raises ('²') or quietly accepts another script ('٣'): neither is something our page sends.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= 3 or not _ASCII_DIGITS.issuperset(text):
        return None
    return int(text)


def number_between(low: int, high: int) -> Any:
    def check(form: Form, field: Field) -> None:
        number = form_integer(field.data)
        if number is None or not low <= number <= high:
            raise ValidationError(str(_l("Please choose a number from %(low)s to %(high)s.", low=low, high=high)))

    return check


def plain_text(limit: int) -> Any:
    def check(form: Form, field: Field) -> None:
        if len(field.data) > limit:
            raise ValidationError(str(_l("Please shorten this to %(limit)s characters.", limit=limit)))
        if FORBIDDEN_CHARACTERS.search(field.data):
            raise ValidationError(str(_l("This contains characters that cannot be sent. Please retype it.")))

    return check


def _text(label: Any, name: str, is_required: Any, area: bool = False) -> Any:
    cls = TextAreaField if area else StringField
    limit = TEXT_LIMITS[name]
    first = is_required if callable(is_required) else required if is_required else optional
    chain = [first, plain_text(limit)]
    return cls(label, validators=chain, filters=[_normalise_newlines],
               render_kw={"maxlength": limit, "autocomplete": "off", "spellcheck": "false"})  # fmt: skip


def _choices(values: tuple[str, ...], labels: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(v, labels[v]) for v in values]


def _numbers(low: int, high: int) -> list[SelectChoice]:
    return [SelectChoice("", "—"), *(SelectChoice(str(n)) for n in range(low, high + 1))]


DANGER_LABELS = {
    "immediate": _l("In danger now, or within days"),
    "serious": _l("Serious threats, but not within days"),
    "not_immediate": _l("Not in immediate danger"),
}
THREAT_LABELS = {
    "authorities": _l("Police, security services or other authorities"),
    "family": _l("Family or relatives"),
    "community": _l("Neighbours or community"),
    "partner": _l("A partner or former partner"),
    "other": _l("Someone else"),
}
DETENTION_LABELS = {
    "never": _l("Never"),
    "past": _l("Yes, more than 3 months ago"),
    "recent": _l("Yes, within the last 3 months (detained, abducted or held)"),
}
LOCATION_LABELS = {
    "chechnya": _l("Chechnya"),
    "north_caucasus": _l("Elsewhere in the North Caucasus"),
    "russia_other": _l("Elsewhere in Russia"),
    "outside_russia": _l("Outside Russia"),
    "undisclosed": _l("I prefer not to say"),
}
DOCUMENT_LABELS = {
    "internal_passport": _l("Internal passport"),
    "international_passport": _l("International (travel) passport"),
    "none": _l("No documents"),
    "confiscated": _l("Documents were taken or destroyed"),
}
CONTACT_LABELS = {
    "signal": "Signal",
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "email": _l("Email"),
    "phone": _l("Phone call or SMS"),
    "other": _l("Other (explain below)"),
}


class IntakeForm(FlaskForm):  # type: ignore[misc]
    """Every form of intake: Flask-WTF's form with the stateless CSRF token of intake.csrf."""

    class Meta:
        csrf_class = StatelessCSRF


class RequestForm(IntakeForm):
    danger = RadioField(_l("How urgent is your danger?"), choices=_choices(DANGER, DANGER_LABELS),
                        validate_choice=False, validators=[required, one_of(DANGER)])  # fmt: skip
    threat_from = MultiCheckboxField(_l("Who threatens you? (choose all that apply)"),
                                     choices=_choices(THREAT_FROM, THREAT_LABELS), validate_choice=False,
                                     validators=[optional, one_of(THREAT_FROM)])  # fmt: skip
    detention = RadioField(_l("Have you been detained, abducted or held?"),
                           choices=_choices(DETENTION, DETENTION_LABELS), validate_choice=False,
                           validators=[optional, one_of(DETENTION)])  # fmt: skip
    location = RadioField(_l("Where are you now?"), choices=_choices(LOCATION, LOCATION_LABELS),
                          validate_choice=False, validators=[optional, one_of(LOCATION)])  # fmt: skip
    people = SelectField(_l("How many people need to leave, counting you?"),
                         choices=_numbers(*PEOPLE_RANGE),
                         validate_choice=False, validators=[required, number_between(*PEOPLE_RANGE)])  # fmt: skip
    children = SelectField(_l("How many of them are children?"),
                           choices=_numbers(*CHILDREN_RANGE),
                           validate_choice=False, validators=[optional, number_between(*CHILDREN_RANGE)])  # fmt: skip
    documents = MultiCheckboxField(_l("Which documents do you have? (choose all that apply)"),
                                   choices=_choices(DOCUMENTS, DOCUMENT_LABELS), validate_choice=False,
                                   validators=[optional, one_of(DOCUMENTS)])  # fmt: skip
    health = _text(_l("Urgent medical needs, if any"), "health", False, area=True)
    contact_method = RadioField(_l("How can we contact you safely?"),
                                choices=_choices(CONTACT_METHOD, CONTACT_LABELS), validate_choice=False,
                                validators=[required, one_of(CONTACT_METHOD)])  # fmt: skip
    contact = _text(_l("Your username, number or address there"), "contact", True)
    safe_times = _text(_l("When is it safe to contact you?"), "safe_times", False)
    alias = _text(_l("What should we call you? (any name, need not be real)"), "alias", False)
    story = _text(_l("What happened, and what help do you need?"), "story", required_unless_in_danger_now, area=True)
    consent = BooleanField(_l("I know how my request is protected and who will read it."),
                           validators=[must_agree])  # fmt: skip

    def validate_children(self, field: Field) -> None:
        people, children = form_integer(self.people.data), form_integer(field.data)
        if people is not None and children is not None and children > people:
            raise ValidationError(str(_l("There cannot be more children than people.")))

    def to_request(self, locale: str, day: Any) -> dict[str, Any]:
        """The schema v1 request for ``crypto.seal_request`` (call only after ``validate``)."""
        return to_request(self.data, locale, day)


def to_request(data: Mapping[str, Any], locale: str, day: Any) -> dict[str, Any]:
    """The schema v1 request from validated field data (RequestForm.data, or intake.fastform.answers)."""
    request: dict[str, Any] = {"schema": 1, "locale": locale, "submitted_on": day, "consent": True}
    for name in ("danger", "detention", "location", "contact_method"):
        request[name] = data[name] or None
    for name in ("threat_from", "documents"):
        request[name] = list(data[name] or [])
    request["people"] = form_integer(data["people"])
    request["children"] = form_integer(data["children"])
    for name in TEXT_LIMITS:
        request[name] = data[name] or ""
    if not request["story"].strip():
        # Only a person in danger now may leave the story out (see required_unless_in_danger_now); schema
        # v1 requires a story, so the caseworker reads this fixed line, in the person's language, instead.
        request["story"] = gettext("(No story was written: the person said they are in danger now.)")
    return request


def receipt_shape(form: Form, field: Field) -> None:
    """Say why the text typed cannot be a receipt, judged by its shape alone (never by what is stored).

    Every receipt ever issued has exactly ``DIGITS`` digits, so a five-digit entry or one with letters can be
    told apart from a receipt without looking anything up: saying so reveals nothing about which receipts
    exist. A well-formed receipt that is not stored gets one answer, whatever its digits (see views.status).
    """
    text = field.data if isinstance(field.data, str) else ""
    if not text:
        raise StopValidation(str(_l("Please type the number from your receipt.")))
    if normalize_receipt(text) is not None:
        return
    if len(text) > MAX_INPUT_CHARS:
        raise StopValidation(str(_l("This is too long to be a receipt number. A receipt number has %(digits)s "
                                    "digits.", digits=DIGITS)))  # fmt: skip
    if any(unicodedata.category(ch).startswith("L") for ch in text):
        raise StopValidation(str(_l("A receipt number has only digits, no letters. Please check what you typed.")))
    typed = sum(unicodedata.decimal(ch, None) is not None for ch in text)
    raise StopValidation(ngettext("You typed %(num)s digit, but a receipt number has %(digits)s digits.",
                                  "You typed %(num)s digits, but a receipt number has %(digits)s digits.",
                                  typed, digits=DIGITS))  # fmt: skip


class StatusForm(IntakeForm):
    receipt = StringField(_l("Your receipt number"), filters=[_strip], validators=[receipt_shape],
                          render_kw={"maxlength": MAX_INPUT_CHARS, "autocomplete": "off", "inputmode": "numeric",
                                     "spellcheck": "false"})  # fmt: skip
