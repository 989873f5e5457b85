"""The forms' building blocks (validators with our own translated messages) and the status form.

The request form itself is drawn from the questionnaire (intake.questionnaire_form). WTForms' built-in
messages are neither ours nor guaranteed to be translated, so every check here says its own words. The
request form is built only to show what is wrong; a request is validated once, by crypto.answers.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import Field, Form, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.validators import StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from crypto.text import is_blank
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
    # Blank is crypto.text's White_Space, the rule crypto.answers applies: the two never disagree.
    if field.data in (None, "", []) or (isinstance(field.data, str) and is_blank(field.data)):
        field.errors[:] = []
        if isinstance(field, RadioField | SelectField):  # nothing to fill in: a choice was not made
            raise StopValidation(str(_l("Please choose an answer.")))
        raise StopValidation(str(_l("Please fill this in.")))


def must_agree(form: Form, field: Field) -> None:
    if field.data is not True:
        raise StopValidation(str(_l("Please tick this box: it says you know how your request is protected.")))


def optional(form: Form, field: Field) -> None:
    if field.data in (None, "", []):
        field.errors[:] = []
        raise StopValidation()


_ASCII_DIGITS = frozenset("0123456789")


def form_integer(value: Any, digits: int = 3, negative: bool = False) -> int | None:
    """A number as a browser's select (or a number box) sends it: 1 to ``digits`` ASCII digits, or None.

    The one way the form reads a number; ``negative`` allows one leading "-". ``str.isdigit`` is true for
    '²', '٣' and '３', and ``int`` then either raises ('²') or quietly accepts another script ('٣'):
    neither is something our page sends.
    """
    text = value.strip() if isinstance(value, str) else ""
    sign = 1
    if negative and text.startswith("-"):
        sign, text = -1, text[1:]
    if not 1 <= len(text) <= digits or not _ASCII_DIGITS.issuperset(text):
        return None
    return sign * int(text)


# Today's choice words as the catalog has them: tests/triage/test_i18n.py still compares triage's labels with
# these. The form shows the questionnaire's own words (intake.questionnaire_form); qtriage retires this.
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
