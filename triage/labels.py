"""Words for showing a case: the questionnaire's own words for every answer, and triage's for the rest.

A request is shown with the words of the questionnaire version the person answered (``Asked``, from
triage.answers_view): each question's label and each choice's label, in the caseworker's language, or in
another language of that questionnaire when it has none in theirs. A questionnaire the laptop does not
hold gives the raw field ids and choice ids, never the words of another version. Levels, statuses and the
queue's narrow columns use triage's own catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triage.answers_view import Asked, story_field
from triage.i18n import LANGUAGES, N_, Translator, translator
from triage.policy import Priority

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


def words_in(words: Mapping[str, str], lang: str) -> str:
    """The words in ``lang``; else in English; else in the questionnaire's first language."""
    if lang in words:
        return words[lang]
    if "en" in words:
        return words["en"]
    return next(iter(words.values()), "")


def field_label(asked: Asked, name: str, t: Translator) -> str:
    """The question as the person saw it, in the caseworker's language (the field id if not held)."""
    q = asked.questionnaire
    if q is None or name not in q.field_ids:
        return name
    return words_in(q.field(name).label, t.lang)


def field_short(asked: Asked, name: str, t: Translator) -> str:
    """The questionnaire's short label for the caseworker (the field id if not held)."""
    q = asked.questionnaire
    if q is None or name not in q.field_ids:
        return name
    return words_in(q.field(name).short, t.lang)


def choice_text(asked: Asked, name: str, value: Any, t: Translator) -> str:
    """A choice (or list of choices) in the words of the questionnaire; "" for nothing chosen."""
    if value is None or value == "" or value == []:
        return ""
    values = value if isinstance(value, list) else [value]
    q = asked.questionnaire
    f = q.field(name) if q is not None and name in q.field_ids else None
    words = []
    for v in values:
        choice = f.choice(str(v)) if f is not None else None
        words.append(words_in(choice.label, t.lang) if choice is not None else str(v))
    return "; ".join(words)


def answer_text(asked: Asked, name: str, value: Any, t: Translator) -> str:
    """Any answer as text: a choice in the questionnaire's words, a list joined, a number or text as it is;
    "" for nothing. Text from the person is returned as written: the face makes it inert."""
    if value is None or value == "" or value == []:
        return ""
    if is_choice(asked, name):
        return choice_text(asked, name, value, t)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def is_choice(asked: Asked, name: str) -> bool:
    q = asked.questionnaire
    return q is not None and name in q.field_ids and q.field(name).kind in ("one_of", "any_of")


def case_fields(asked: Asked, request: Mapping[str, Any]) -> list[str]:
    """The answers a case page lists, in the questionnaire's order: all but the consent and the story (which
    has its own place). Not held: every answer the payload has, by field id."""
    q = asked.questionnaire
    if q is None:
        own = {"schema", "kind", "locale", "submitted_on", "reply_key", "files"}
        return [name for name in request if name not in own]
    story = story_field(q)
    return [f.id for f in q.fields if f.kind != "consent" and f.id != story]


def words_warning(asked: Asked, t: Translator) -> str | None:
    """Why a case is shown with field ids instead of the person's words, if it is."""
    return None if asked.warning is None else t.gettext(asked.warning, **asked.warning_values)


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
        if part.words is not None:  # a questionnaire's choice: its own words, in its languages
            texts.append(f"{words_in(part.words, t.lang)} ({part.points:+d})")
            continue
        sentence = t.gettext(part.template)
        if part.values is not None:
            try:
                sentence = sentence.format_map(part.values)
            except (KeyError, ValueError, IndexError):  # a translation with a broken placeholder: the policy's words
                sentence = part.template.format_map(part.values)
        texts.append(sentence if part.points is None else f"{sentence} ({part.points:+d})")
    return texts
