"""The case page's replies: change or withdraw one before it reaches the person, and the words around them.

A reply can be changed only while no return file has carried it; once carried it can only be withdrawn,
and the page says plainly that the return file already written may still deliver it (triage.threads).
The same operations as `triage reply ID --edit N` and `--withdraw N`; the audit trail records both.
"""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request

import crypto
from triage.desk.views import _see_other, _session, _state, blueprint
from triage.errors import TriageError, explain
from triage.reply_words import asks_to_change_contact_or_plans, reply_label, reply_state, verify_warning


@blueprint.app_template_global()
def reply_state_text(message: dict[str, Any]) -> str:
    label = reply_label(message, g.t)
    state = reply_state(message, g.t)
    return f"{label} · {state}" if label else state


@blueprint.app_template_global()
def needs_code_word(message: dict[str, Any]) -> bool:
    return message.get("dir") == "in" and asks_to_change_contact_or_plans(str(message.get("text", "")))


@blueprint.app_template_global()
def code_word_warning() -> str:
    return verify_warning(g.t)


def _seq(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and 0 < len(raw) <= 7 else None


@blueprint.post("/case/<case:case_id>/reply/edit")
def edit_reply(case_id: str) -> Any:
    seq = _seq(request.form.get("seq", ""))
    text = request.form.get("text", "").replace("\r\n", "\n").strip()
    if seq is None or not text:
        return render_template("message.html", message=g.t.gettext("The reply is empty; nothing was changed.")), 400
    with _session() as session:
        try:
            entry_id = session.edit_reply(case_id, seq, text)
        except (TriageError, crypto.CryptoError) as failure:
            return render_template("message.html", message=g.t.gettext(explain(failure))), 400
    _state().queue = None
    return _see_other("views.case", case_id=entry_id, saved="reply-edited")


@blueprint.post("/case/<case:case_id>/reply/withdraw")
def withdraw_reply(case_id: str) -> Any:
    seq = _seq(request.form.get("seq", ""))
    if seq is None:
        return render_template("message.html", message=g.t.gettext("There is no such reply.")), 400
    with _session() as session:
        try:
            entry_id, carried_on = session.withdraw_reply(case_id, seq)
        except TriageError as failure:
            return render_template("message.html", message=g.t.gettext(explain(failure))), 400
    _state().queue = None
    return _see_other("views.case", case_id=entry_id, saved="withdrawn-carried" if carried_on else "withdrawn")
