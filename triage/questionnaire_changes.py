"""What a new questionnaire version changes against the last accepted one, in the caseworker's language.

``compare(old, new)`` lists every difference a caseworker must see before accepting a version (fields
added, removed, re-worded, of another kind; bounds, help, choices, languages, the short path, the title);
``change_lines`` words them, loudest (``!!``) where the server now asks something new or hides a change
behind an unchanged version number. ``triage.questionnaires`` stops the import with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crypto.questionnaire import Field, Questionnaire
from triage.i18n import N_, Translator


@dataclass(frozen=True)
class Change:
    """One difference between two versions: ``what`` is one of the kinds ``change_lines`` words."""

    what: str
    field: str = ""
    old: Mapping[str, str] | None = None
    new: Mapping[str, str] | None = None
    detail: str = ""
    loud: bool = False


@dataclass(frozen=True)
class NewVersion:
    questionnaire: Questionnaire
    previous: Questionnaire | None  # the last accepted version of the same id; None for a new questionnaire
    changes: tuple[Change, ...]


def _bounds(f: Field) -> str:
    if f.kind == "integer":
        return f"{f.min}..{f.max}"
    if f.max_chars is not None:
        return f"≤ {f.max_chars}"
    if f.max_files is not None:
        return f"≤ {f.max_files}"
    return ""


def _compare_field(old: Field, new: Field) -> list[Change]:
    out: list[Change] = []
    if dict(old.label) != dict(new.label):
        out.append(Change("reworded", new.id, old.label, new.label, loud=True))
    if old.kind != new.kind:
        out.append(Change("kind", new.id, new=new.label, detail=f"{old.kind} → {new.kind}", loud=True))
    if old.required != new.required:
        out.append(Change("required" if new.required else "optional", new.id, new=new.label))
    if _bounds(old) != _bounds(new) and old.kind == new.kind:
        out.append(Change("bounds", new.id, new=new.label, detail=f"{_bounds(old)} → {_bounds(new)}"))
    if dict(old.help) != dict(new.help) or dict(old.urgent_help) != dict(new.urgent_help):
        out.append(Change("help", new.id, new=new.label))
    if dict(old.short) != dict(new.short) and dict(old.label) == dict(new.label):
        out.append(Change("short", new.id, old.short, new.short))
    if old.section != new.section:
        out.append(Change("section", new.id, new=new.label, detail=f"{old.section} → {new.section}"))
    before = {c.id: c for c in old.choices}
    after = {c.id: c for c in new.choices}
    for choice in new.choices:
        if choice.id not in before:
            out.append(Change("choice_added", new.id, new.label, choice.label, detail=choice.id))
        elif dict(before[choice.id].label) != dict(choice.label):
            out.append(Change("choice_reworded", new.id, before[choice.id].label, choice.label, detail=choice.id))
        elif (before[choice.id].points, before[choice.id].level) != (choice.points, choice.level):
            out.append(Change("choice_points", new.id, new.label, choice.label, detail=choice.id))
    for choice in old.choices:
        if choice.id not in after:
            out.append(Change("choice_removed", new.id, new.label, choice.label, detail=choice.id))
    return out


def compare(old: Questionnaire | None, new: Questionnaire) -> NewVersion:
    """What ``new`` changes against ``old`` (the last accepted version of its id), loudest first in meaning."""
    changes: list[Change] = []
    if old is None:
        changes = [Change("added", f.id, new=f.label, detail=f.kind, loud=True) for f in new.fields]
        return NewVersion(new, None, tuple(changes))
    if new.version == old.version:
        changes.append(Change("same_version", loud=True, detail=str(new.version)))
    elif new.version < old.version:
        changes.append(Change("older_version", loud=True, detail=f"{old.version} → {new.version}"))
    before = {f.id: f for f in old.fields}
    after = {f.id: f for f in new.fields}
    for f in new.fields:
        if f.id not in before:
            changes.append(Change("added", f.id, new=f.label, detail=f.kind, loud=True))
        else:
            changes += _compare_field(before[f.id], f)
    changes += [Change("removed", f.id, old=f.label) for f in old.fields if f.id not in after]
    if set(old.languages) != set(new.languages):
        changes.append(Change("languages", detail=f"{', '.join(old.languages)} → {', '.join(new.languages)}"))
    if old.urgent != new.urgent:
        changes.append(Change("urgent", detail=f"{', '.join(old.urgent) or '-'} → {', '.join(new.urgent) or '-'}"))
    if dict(old.title) != dict(new.title):
        changes.append(Change("title", old=old.title, new=new.title))
    if not changes or all(c.what in ("same_version", "older_version") for c in changes):
        changes.append(Change("layout"))
    return NewVersion(new, old, tuple(changes))


def _in(words: Mapping[str, str] | None, lang: str) -> str:
    if not words:
        return ""
    return words.get(lang) or next(iter(words.values()))


_REWORDED = ("reworded", "choice_reworded", "short", "title")
_SENTENCES = {
    "added": N_('NEW QUESTION "%(field)s": %(new)s'),
    "removed": N_('Question removed "%(field)s": %(old)s'),
    "reworded": N_('QUESTION RE-WORDED "%(field)s": was "%(old)s", now "%(new)s"'),
    "kind": N_('ANSWER CHANGED KIND "%(field)s" (%(new)s): %(detail)s'),
    "required": N_('Now required "%(field)s": %(new)s'),
    "optional": N_('No longer required "%(field)s": %(new)s'),
    "bounds": N_('Limits changed "%(field)s" (%(new)s): %(detail)s'),
    "help": N_('Help text changed "%(field)s": %(new)s'),
    "short": N_('Short label changed "%(field)s": was "%(old)s", now "%(new)s"'),
    "section": N_('Moved to another section "%(field)s" (%(new)s): %(detail)s'),
    "choice_added": N_('Choice added to "%(field)s" (%(old)s): %(new)s'),
    "choice_removed": N_('Choice removed from "%(field)s" (%(old)s): %(new)s'),
    "choice_reworded": N_('Choice re-worded in "%(field)s": was "%(old)s", now "%(new)s"'),
    "choice_points": N_('Points or level of a choice changed in "%(field)s" (%(old)s): %(new)s'),
    "same_version": N_("THE VERSION NUMBER DID NOT CHANGE (%(detail)s), but the questionnaire did."),
    "older_version": N_("THIS VERSION IS OLDER than the one you accepted (%(detail)s)."),
    "languages": N_("Languages changed: %(detail)s"),
    "urgent": N_("The short path for danger now changed: %(detail)s"),
    "title": N_('Title changed: was "%(old)s", now "%(new)s"'),
    "layout": N_("Only the order or the layout changed, no words, questions or choices."),
}


def change_lines(version: NewVersion, t: Translator) -> list[tuple[bool, str]]:
    """The head line and one line per change, in the caseworker's language: (loud, text)."""
    q = version.questionnaire
    lang = t.lang if t.lang in q.languages else q.languages[0]
    if version.previous is None:
        head = t.gettext('New questionnaire "%(id)s", version %(version)s (hash %(sha)s): no version of it was '
                         "accepted before, so every question is new:", id=q.id, version=q.version,
                         sha=q.sha256[:16])  # fmt: skip
    else:
        head = t.gettext('Questionnaire "%(id)s" version %(version)s (hash %(sha)s), against version %(old)s '
                         "which you accepted:", id=q.id, version=q.version, sha=q.sha256[:16],
                         old=version.previous.version)  # fmt: skip
    lines = [(False, head)]
    for change in version.changes:
        old, new = _in(change.old, lang), _in(change.new, lang)
        if change.what in _REWORDED and change.old and change.new and old == new:  # re-worded in another language
            other = next((k for k in change.new if change.old.get(k) != change.new[k]), lang)
            old, new = f"[{other}] {change.old.get(other, '')}", f"[{other}] {change.new[other]}"
        lines.append((change.loud, t.gettext(
            _SENTENCES[change.what], field=change.field, old=old, new=new, detail=change.detail,
        )))  # fmt: skip
    return lines


