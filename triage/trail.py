"""A case's audit trail in the caseworker's language: who did what, on which day (never a finer time)."""

from __future__ import annotations

from dataclasses import dataclass

from triage.i18n import Translator
from triage.labels import status_text
from triage.store import CaseRecord
from triage.text import clean


@dataclass(frozen=True)
class TrailEntry:
    on: str
    text: str


_REPLY_ACTIONS = ("reply", "reply-edit", "reply-withdraw")


def _reply_action(action: str, who: str, value: str, t: Translator) -> str:
    number, _, carried = value.partition(" ")
    num = int(number) if number.isdigit() else 0
    if action == "reply":
        return t.gettext("%(who)s wrote reply %(num)d", who=who, num=num)
    if action == "reply-edit":
        return t.gettext("%(who)s changed reply %(num)d before it left", who=who, num=num)
    if carried:
        return t.gettext("%(who)s withdrew reply %(num)d after a return file had carried it (it may still arrive)",
                         who=who, num=num)  # fmt: skip
    return t.gettext("%(who)s withdrew reply %(num)d before it left", who=who, num=num)


def audit_trail(record: CaseRecord, t: Translator) -> list[TrailEntry]:
    """Newest first. Records from before the audit trail existed show their status history and notes."""
    if record.audit:
        entries = record.audit
    else:
        entries = [{"on": h["on"], "by": h["by"], "action": "status", "value": h["status"]} for h in record.history]
        entries += [{"on": n["on"], "by": n["by"], "action": "note", "value": ""} for n in record.notes]
        entries.sort(key=lambda e: e["on"])
    trail = []
    for entry in entries:
        who = clean(entry.get("by", "?"))
        value = entry.get("value", "")
        action = entry.get("action")
        if action == "status":
            text = t.gettext("%(who)s set the status to “%(status)s”", who=who, status=status_text(value, t))
        elif action == "note":
            text = t.gettext("%(who)s added a note", who=who)
        elif action == "assign" and value:
            text = t.gettext("%(who)s assigned the case to %(name)s", who=who, name=clean(value))
        elif action == "assign":
            text = t.gettext("%(who)s removed the assignment", who=who)
        elif action in _REPLY_ACTIONS:
            text = _reply_action(action, who, value, t)
        elif action == "note_corrected":
            text = t.gettext("%(who)s corrected note %(number)s (both are kept)", who=who, number=clean(value))
        elif action == "duplicate_of":
            text = t.gettext("%(who)s linked this case as a duplicate of №%(id)s", who=who, id=clean(value))
        elif action == "has_duplicate":
            text = t.gettext("%(who)s linked №%(id)s to this case as its duplicate", who=who, id=clean(value))
        else:
            text = t.gettext("%(who)s: %(action)s", who=who, action=clean(str(action)))
        trail.append(TrailEntry(entry.get("on", ""), text))
    return trail[::-1]
