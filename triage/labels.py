"""The words of the intake form, for showing a request as the person saw it (not the internal codes).

These are the form's own labels and choices (intake/forms.py); tests/triage/test_labels.py checks that
they stay the same words, in English and in Russian, as the form the person filled in.
"""

from __future__ import annotations

from typing import Any

from triage.i18n import LANGUAGES, N_, Translator, translator
from triage.policy import Priority

FIELD_LABELS = {
    "danger": N_("How urgent is your danger?"),
    "threat_from": N_("Who threatens you? (choose all that apply)"),
    "detention": N_("Have you been detained, abducted or held?"),
    "location": N_("Where are you now?"),
    "people": N_("How many people need to leave, counting you?"),
    "children": N_("How many of them are children?"),
    "documents": N_("Which documents do you have? (choose all that apply)"),
    "health": N_("Urgent medical needs, if any"),
    "contact_method": N_("How can we contact you safely?"),
    "contact": N_("Your username, number or address there"),
    "safe_times": N_("When is it safe to contact you?"),
    "alias": N_("What should we call you? (any name, need not be real)"),
    "story": N_("What happened, and what help do you need?"),
}

CHOICE_LABELS = {
    "danger": {
        "immediate": N_("In danger now, or within days"),
        "serious": N_("Serious threats, but not within days"),
        "not_immediate": N_("Not in immediate danger"),
    },
    "threat_from": {
        "authorities": N_("Police, security services or other authorities"),
        "family": N_("Family or relatives"),
        "community": N_("Neighbours or community"),
        "partner": N_("A partner or former partner"),
        "other": N_("Someone else"),
    },
    "detention": {
        "never": N_("Never"),
        "past": N_("Yes, more than 3 months ago"),
        "recent": N_("Yes, within the last 3 months (detained, abducted or held)"),
    },
    "location": {
        "chechnya": N_("Chechnya"),
        "north_caucasus": N_("Elsewhere in the North Caucasus"),
        "russia_other": N_("Elsewhere in Russia"),
        "outside_russia": N_("Outside Russia"),
        "undisclosed": N_("I prefer not to say"),
    },
    "documents": {
        "internal_passport": N_("Internal passport"),
        "international_passport": N_("International (travel) passport"),
        "none": N_("No documents"),
        "confiscated": N_("Documents were taken or destroyed"),
    },
    "contact_method": {
        "signal": "Signal",
        "telegram": "Telegram",
        "whatsapp": "WhatsApp",
        "email": N_("Email"),
        "phone": N_("Phone call or SMS"),
        "other": N_("Other (explain below)"),
    },
}

# Short words for the queue's narrow columns.
SHORT_LOCATION = {
    "chechnya": N_("Chechnya"),
    "north_caucasus": N_("N. Caucasus"),
    "russia_other": N_("Russia"),
    "outside_russia": N_("Abroad"),
    "undisclosed": N_("Not said"),
}
LEVEL_LABELS = {"emergency": N_("emergency"), "urgent": N_("urgent"), "normal": N_("normal")}
STATUS_LABELS = {
    "new": N_("new"),
    "contacted": N_("contacted"),
    "in_progress": N_("in progress"),
    "evacuated": N_("evacuated"),
    "closed": N_("closed"),
    "duplicate": N_("duplicate"),
    "not_eligible": N_("not eligible"),
}
LANGUAGE_OF_FORM = {"en": N_("English"), "ru": N_("Russian")}


def choice_text(field: str, value: Any, t: Translator) -> str:
    """A choice (or list of choices) in the words of the form; "" for nothing chosen."""
    words = CHOICE_LABELS.get(field, {})
    if value is None or value == "" or value == []:
        return ""
    values = value if isinstance(value, list) else [value]
    return "; ".join(t.gettext(words[v]) if v in words else str(v) for v in values)


def status_text(status: str, t: Translator) -> str:
    return t.gettext(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def level_word(level: str, t: Translator) -> str:
    return t.gettext(LEVEL_LABELS[level]) if level in LEVEL_LABELS else level


# Names caseworkers used before the statuses took one form, and the glossary's other word: still understood.
STATUS_SYNONYMS = {"новое": "new", "связались": "contacted", "уехали": "evacuated", "вывезены": "evacuated",
                   "закрыто": "closed", "дубликат": "duplicate", "повтор": "duplicate"}  # fmt: skip


def status_from_words(value: str, t: Translator) -> str | None:
    """A status as a caseworker types it: its code (``in_progress``) or its name in any of triage's languages
    (``в работе``, ``in progress``); None if it is neither. Case, spaces, ``_`` and ``-`` do not matter."""
    wanted = " ".join(value.replace("_", " ").replace("-", " ").split()).casefold()
    for status, label in STATUS_LABELS.items():
        names = {status.replace("_", " "), label, t.gettext(label)}
        names |= {translator(lang).gettext(label) for lang in LANGUAGES}
        if wanted in {" ".join(n.split()).casefold() for n in names}:
            return status
    return STATUS_SYNONYMS.get(wanted)


def ranked_reasons(priority: Priority, t: Translator) -> list[str]:
    """``reason_texts`` with the weightiest first: a rule that raised the level, then by points."""
    texts = reason_texts(priority, t)
    order = sorted(range(len(texts)), key=lambda i: (priority.parts[i].points is not None,
                                                       -(priority.parts[i].points or 0), i))  # fmt: skip
    return [texts[i] for i in order] if len(priority.parts) == len(texts) else texts


def reason_texts(priority: Priority, t: Translator) -> list[str]:
    """The reasons for a case's level, in the caseworker's language where the catalogue has the sentence.

    A policy the operator wrote themselves has sentences the catalogue does not know: they stay as written.
    """
    texts = []
    for part in priority.parts:
        sentence = t.gettext(part.template)
        if part.values is not None:
            try:
                sentence = sentence.format_map(part.values)
            except (KeyError, ValueError, IndexError):  # a translation with a broken placeholder: the policy's words
                sentence = part.template.format_map(part.values)
        texts.append(sentence if part.points is None else f"{sentence} ({part.points:+d})")
    return texts
