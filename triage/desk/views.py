"""The desk's pages. Each one parses the form, calls ``triage.operations`` and renders a template."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, g, make_response, redirect, render_template, request, url_for

import crypto
from triage.answers_view import story_field
from triage.cases import Case
from triage.desk import queue as q
from triage.desk.conversation import MAX_REPLY_CHARS, ready_made
from triage.desk.guard import COOKIE
from triage.desk.state import DeskState
from triage.errors import TriageError, explain, explain_in
from triage.groups import Relations, relations
from triage.i18n import LANGUAGES
from triage.labels import LANGUAGE_OF_FORM, SHORT_LOCATION, case_fields, ranked_reasons, reason_texts, words_warning
from triage.operations import MAX_NOTE_CHARS, Session
from triage.operations import unlock as unlock_key
from triage.policy import LEVELS
from triage.render import readers_text
from triage.store import STATUSES
from triage.templates import PlaceholdersLeftError
from triage.trail import audit_trail

blueprint = Blueprint("views", __name__)
QUEUE_ROWS = 200


def _state() -> DeskState:
    found: DeskState = current_app.extensions["desk"]
    return found


@contextlib.contextmanager
def _session() -> Iterator[Session]:
    state = _state()
    assert state.identity is not None  # the guard sent a locked desk to the unlock page
    with Session.open(state.config, state.home, state.identity) as session:
        yield session


def _queue(session: Session) -> list[Case]:
    """Every readable case, most urgent first; kept in memory until a change, an import or the lock."""
    state = _state()
    if state.queue is None:
        state.queue = session.list_cases(state.policy, jobs=state.jobs).cases
    return state.queue


def _relations(cases: list[Case]) -> Relations:
    """Who may be the same person, and the bursts, over the queue in memory; worked out once per queue."""
    cached = current_app.extensions.get("desk_relations")
    if cached is None or cached[0] is not cases:
        cached = (cases, relations(cases))
        current_app.extensions["desk_relations"] = cached
    found: Relations = cached[1]
    return found


def _see_other(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values), code=303)  # type: ignore[return-value]


def _with_new_session(response: Response) -> Response:
    """A fresh random session value in a cookie only this desk's paths receive; every older cookie is dead."""
    state = _state()
    response.set_cookie(COOKIE, state.new_session(), httponly=True, samesite="Strict", path=f"/{state.prefix}/")
    return response


@blueprint.get("/open")
def open_desk() -> Any:
    """The address `triage desk` opens: its one-time code is traded, once, for a session.

    Typed or pasted (``Sec-Fetch-Site: none``): a redirect to the queue. From the desk's ``file:`` page the
    browser calls the navigation cross-site, and a redirect would carry that into the next request, which
    the desk refuses; so that arrival gets a page that moves on by itself (a meta refresh, from this
    origin). A used or wrong code gets the unlock page, never the queue.
    """
    state = _state()
    if not state.take_code(request.args.get("key")):
        return render_template("unlock.html", error="")
    if request.headers.get("Sec-Fetch-Site") in ("none", "same-origin"):
        return _with_new_session(_see_other("views.queue"))
    return _with_new_session(make_response(render_template("opened.html")))


@blueprint.route("/unlock", methods=["GET", "POST"])
def unlock() -> Any:
    """The passphrase opens the key again after a lock, and gives a browser without a session a new one."""
    state = _state()
    if g.has_session and not state.locked:
        return _see_other("views.queue")
    error = ""
    if request.method == "POST":
        passphrase = request.form.get("passphrase", "")
        try:
            identity = unlock_key(state.home, passphrase, min_kdf=state.config.kdf, name=state.caseworker)
            with Session.open(state.config, state.home, identity):
                pass  # the store opens with this key (or NoAccessError): only then is the desk unlocked
        except crypto.WrongPassphraseError:
            error = g.t.gettext("That passphrase does not open your key; try again.")
        except (TriageError, crypto.CryptoError) as failure:
            error = g.t.gettext(explain(failure))
        else:
            state.unlock_with(identity)
            return _with_new_session(_see_other("views.queue"))
        finally:
            del passphrase
    return render_template("unlock.html", error=error), 401 if error else 200


@blueprint.post("/lock")
def lock() -> Response:
    _state().lock()
    return _see_other("views.unlock")


@blueprint.get("/locked")
def locked_notice() -> Response:
    return _see_other("views.unlock")


@blueprint.post("/language")
def language() -> Response:
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        _state().lang = lang
    back = request.form.get("back", "")
    # Only a path of this desk (under its prefix), never an address elsewhere.
    if back.startswith("/") and not back.startswith("//") and "\\" not in back:
        return redirect(request.script_root + back, code=303)  # type: ignore[return-value]
    return _see_other("views.queue")


@blueprint.post("/")
def filter_queue() -> Response:
    """Filters and the search arrive by POST and are kept here behind a random token: no word in the address."""
    filters = q.Filters.from_args(
        request.form.get("status", ""), request.form.get("level", ""),
        request.form.get("assignee", ""), request.form.get("q", ""), request.form.get("unread", ""),
    )  # fmt: skip
    if not filters.active:
        return _see_other("views.queue")
    return _see_other("views.queue", view=_state().views.token(filters))


@blueprint.get("/")
def queue() -> str:
    state = _state()
    remembered = state.views.value(request.args.get("view", ""))
    filters = remembered if isinstance(remembered, q.Filters) else q.Filters()
    with _session() as session:
        cases = _queue(session)
        skipped = session.store.count() - len(cases)
    shown = q.apply_filters(cases, filters)
    related = _relations(cases)
    rows, total_rows = q.rows(shown, related, QUEUE_ROWS)
    today = state.config.today()
    return render_template(
        "queue.html", cases=shown, rows=rows, total_rows=total_rows, matching=len(shown), counts=q.count(cases),
        filters=filters, weeks=q.weekly(cases, today), levels=LEVELS, statuses=STATUSES, first_line=q.first_line,
        short_location=SHORT_LOCATION, skipped=skipped, today=today, bursts=len(related.bursts),
        reasons_of=lambda case: ranked_reasons(case.priority, g.t),
    )  # fmt: skip


@blueprint.get("/case/<case:case_id>")
def case(case_id: str) -> Any:
    return _case_page(case_id)


def _case_page(case_id: str, *, draft: str | None = None, reply_error: str = "") -> Any:
    """The case page; after a refused reply, with the text as typed and the sentence why."""
    state = _state()
    with _session() as session:
        try:
            opened = session.show_case(case_id, state.policy)
        except TriageError:
            return render_template("message.html", message=g.t.gettext("There is no such case.")), 404
        names = sorted({p.name for p, access in session.store.caseworkers() if access})
        readers = readers_text(session.readers(opened), g.t).splitlines()
        page = render_template(
            "case.html", case=opened, reasons=reason_texts(opened.priority, g.t), trail=audit_trail(opened.record, g.t),
            fields=case_fields(opened.asked, opened.request), story=story_field(opened.asked.questionnaire),
            words_warning=words_warning(opened.asked, g.t), form_language=LANGUAGE_OF_FORM,
            statuses=STATUSES, caseworkers=names, max_note=MAX_NOTE_CHARS, saved=request.args.get("saved", ""),
            readers=readers, templates=ready_made(state, opened),
            draft=_draft(state, opened) if draft is None else draft, reply_error=reply_error,
            max_reply=MAX_REPLY_CHARS, related=q.related_to(opened, _relations(_queue(session))),
        )  # fmt: skip
        if opened.record.unread:
            session.mark_read(opened)  # drawn above with the new messages marked; seen from now on
            state.queue = None
    return (page, 400) if reply_error else page


def _draft(state: DeskState, opened: Case) -> str:
    """A ready-made reply chosen by a link (?template=NAME&in=LANG), to start the composer with."""
    name, language = request.args.get("template", ""), request.args.get("in", "")
    for template in ready_made(state, opened):
        if template.name == name and template.language == language:
            return template.text
    return ""


@blueprint.post("/case/<case:case_id>/reply")
def reply(case_id: str) -> Any:
    text = request.form.get("text", "").replace("\r\n", "\n").strip()
    if not text:
        return render_template("message.html", message=g.t.gettext("The reply is empty; nothing was queued.")), 400
    with _session() as session:
        try:
            entry_id, _queued = session.reply(case_id, text)
        except PlaceholdersLeftError as refused:
            entry_id, why = "", refused.in_language(g.t)
        except (TriageError, crypto.CryptoError) as failure:
            return render_template("message.html", message=explain_in(failure, g.t)), 400
    if not entry_id:  # the composer again, with the text as typed and the placeholders named
        return _case_page(case_id, draft=text, reply_error=why)
    _state().queue = None
    return _see_other("views.case", case_id=entry_id, saved="reply")


@blueprint.post("/case/<case:case_id>/note/<int:index>")
def correct_note(case_id: str, index: int) -> Any:
    text = request.form.get("note", "").replace("\r\n", "\n").strip()
    with _session() as session:
        try:
            entry_id, _record = session.correct_note(case_id, index, text)
        except TriageError as failure:
            return render_template("message.html", message=explain_in(failure, g.t)), 400
    _state().queue = None
    return _see_other("views.case", case_id=entry_id, saved="case")


@blueprint.post("/case/<case:case_id>/duplicate")
def link_duplicate(case_id: str) -> Any:
    with _session() as session:
        try:
            entry_id, _record = session.link_duplicate(case_id, request.form.get("of", ""))
        except TriageError as failure:
            return render_template("message.html", message=explain_in(failure, g.t)), 400
    _state().queue = None
    return _see_other("views.case", case_id=entry_id, saved="case")


@blueprint.post("/case/<case:case_id>")
def update_case(case_id: str) -> Any:
    state = _state()
    status = request.form.get("status") or None
    note = request.form.get("note", "").replace("\r\n", "\n").strip() or None
    assignee = request.form.get("assignee")
    with _session() as session:
        try:
            current = session.show_case(case_id, state.policy).record
            entry_id, _record = session.set_case(
                case_id,
                status=status if status != current.status else None,
                note=note,
                assignee=assignee if assignee is not None and assignee != current.assignee else None,
            )
        except TriageError as failure:
            return render_template("message.html", message=explain_in(failure, g.t)), 400
    state.queue = None
    return _see_other("views.case", case_id=entry_id, saved="case")
