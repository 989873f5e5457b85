"""How a conversation reads to the caseworker: where each reply is, and which messages to verify first.

Both faces (`triage show` and the desk) use these words, so a reply is never "sent" in one and
"queued" in the other. A reply is *delivered* only when the server's signed bundle confirmed it stored
it (triage.threads); before that it is queued, or carried and not confirmed.

The receipt is a bearer credential for the whole conversation: whoever holds a written-down receipt
reads the replies and writes follow-ups that are filed as the person's. So a follow-up that asks to
change the contact details or the plans is marked, for the caseworker to verify by the agreed code
word before acting on it. The check runs here, on the laptop, in memory; nothing about it is stored.
"""

from __future__ import annotations

import re
from typing import Any

from triage.i18n import Translator

# Word stems (lower case) of a message that asks to change how or where to reach the person, or what
# was agreed. Generous on purpose: a false mark costs one question, a missed one may cost a life.
_CHANGE_STEMS = (
    # English
    "contact", "number", "phone", "call me", "text me", "write to me", "telegram", "signal", "whatsapp",
    "e-mail", "email", "address", "account", "username", "handle", "instead", "change", "new plan", "plans",
    "the plan", "meet", "pick me up", "don't come", "do not come", "cancel", "moved", "another city",
    # Russian
    "номер", "телефон", "контакт", "связ", "телеграм", "сигнал", "ватсап", "вотсап", "почт", "адрес",
    "аккаунт", "вместо", "поменя", "измен", "смен", "новый", "новая", "новое", "план", "встре",
    "не приезж", "не звони", "отмен", "переех", "переезж", "другой город", "пишите", "звоните",
)  # fmt: skip
# A phone number or a handle written into the message is a contact detail too.
_CONTACT_LIKE = re.compile(r"(\+?\d[\d\s().-]{6,}\d)|(@[A-Za-z0-9_.]{3,})")


def asks_to_change_contact_or_plans(text: str) -> bool:
    """True if a follow-up may ask to change contact details or plans (to verify by the code word)."""
    folded = text.casefold()
    return any(stem in folded for stem in _CHANGE_STEMS) or _CONTACT_LIKE.search(text) is not None


def verify_warning(t: Translator) -> str:
    return t.gettext(
        "Check before acting: this message may ask to change contact details or plans. Anyone who has the "
        "receipt can write here; ask for the agreed code word first."
    )


def reply_state(message: dict[str, Any], t: Translator) -> str:
    """Where one of our replies is, in a few words."""
    state = message.get("state")
    if state == "queued":
        return t.gettext("queued, leaves with the next return file")
    if state == "carried":
        return t.gettext(
            "carried on %(day)s, not confirmed: every return file carries it again until the server confirms it",
            day=message.get("carried_on", "?"),
        )
    if state == "delivered":
        return t.gettext("delivered: the server confirmed it on %(day)s", day=message.get("delivered_on", "?"))
    if state == "withdrawn" and message.get("delivered_on"):
        return t.gettext(
            "withdrawn on %(day)s, but the return file that had carried it was applied: the server confirmed on "
            "%(confirmed)s that it stored it, so the person can read it",
            day=message.get("withdrawn_on", "?"), confirmed=message["delivered_on"],
        )
    if state == "withdrawn" and message.get("carried_on"):
        return t.gettext(
            "withdrawn on %(day)s, but a return file had carried it: it may still reach the person",
            day=message.get("withdrawn_on", "?"),
        )
    if state == "withdrawn":
        return t.gettext("withdrawn on %(day)s: it never left this laptop", day=message.get("withdrawn_on", "?"))
    return t.gettext("sent by an older version of triage, not confirmed")


def reply_label(message: dict[str, Any], t: Translator) -> str:
    """"reply 3" (as the edit and withdraw commands number them), or "" for a reply from before numbering."""
    seq = message.get("seq")
    return t.gettext("reply %(num)d", num=int(seq)) if seq else ""
