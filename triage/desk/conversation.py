"""The case page's conversation: the ready-made replies to start from.

The thread itself is on the case record (``CaseRecord.thread``); replies are sealed and queued by
``Session.reply`` exactly as `triage reply` does, and leave with the next return file.
"""

from __future__ import annotations

from triage.cases import Case
from triage.desk.state import DeskState
from triage.templates import Template, load_templates

# A reply is sealed into one fixed-size container (crypto/reply.py); the form's bound is the same.
MAX_REPLY_CHARS = 4000


def ready_made(state: DeskState, case: Case) -> list[Template]:
    """The ready-made replies in the person's language first, then in the caseworker's."""
    person = str(case.request.get("locale", ""))
    found = load_templates(state.home.path)
    order = {person: 0, state.lang: 1}
    return sorted((t for t in found if t.language in order), key=lambda t: order[t.language])
