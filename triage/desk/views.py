"""The desk's pages. Each one parses the form, calls ``triage.operations`` and renders a template."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for

import crypto
from triage.cases import Case
from triage.desk import queue as q
from triage.desk.folders import bundle_files, return_file_name, usable_folder
from triage.desk.guard import COOKIE, refuse, same
from triage.desk.state import DeskState
from triage.errors import TriageError, explain
from triage.i18n import LANGUAGES
from triage.importer import RecipientsChangedError
from triage.labels import CHOICE_LABELS, FIELD_LABELS, LANGUAGE_OF_FORM, SHORT_LOCATION, reason_texts
from triage.operations import MAX_NOTE_CHARS, Session
from triage.operations import unlock as unlock_key
from triage.policy import LEVELS
from triage.store import STATUSES
from triage.trail import audit_trail

blueprint = Blueprint("views", __name__)
QUEUE_ROWS = 200
CASE_FIELDS = ("danger", "threat_from", "detention", "location", "people", "children", "documents", "health",
               "contact_method", "contact", "safe_times", "alias")  # fmt: skip


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


def _see_other(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values), code=303)  # type: ignore[return-value]


@blueprint.get("/open")
def open_desk() -> Response:
    """The address `triage desk` printed: trade its secret for a cookie, then go to the queue."""
    state = _state()
    if not same(request.args.get("key"), state.secret):
        return refuse(403)
    response = _see_other("views.queue")
    response.set_cookie(COOKIE, state.secret, httponly=True, samesite="Strict", path="/")
    return response


@blueprint.route("/unlock", methods=["GET", "POST"])
def unlock() -> Any:
    state = _state()
    if not state.locked:
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
            error = explain(failure)
        else:
            state.unlock_with(identity)
            return _see_other("views.queue")
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
    # Only a path of this desk, never an address elsewhere.
    if back.startswith("/") and not back.startswith("//") and "\\" not in back:
        return redirect(back, code=303)  # type: ignore[return-value]
    return _see_other("views.queue")


@blueprint.get("/")
def queue() -> str:
    state = _state()
    filters = q.Filters.from_args(
        request.args.get("status", ""), request.args.get("level", ""),
        request.args.get("assignee", ""), request.args.get("q", ""),
    )  # fmt: skip
    with _session() as session:
        cases = _queue(session)
        skipped = session.store.count() - len(cases)
    shown = q.apply_filters(cases, filters)
    today = state.config.today()
    return render_template(
        "queue.html", cases=shown[:QUEUE_ROWS], matching=len(shown), counts=q.count(cases), filters=filters,
        weeks=q.weekly(cases, today), levels=LEVELS, statuses=STATUSES, first_line=q.first_line,
        short_location=SHORT_LOCATION, skipped=skipped, today=today,
    )  # fmt: skip


@blueprint.get("/case/<case_id>")
def case(case_id: str) -> Any:
    state = _state()
    with _session() as session:
        try:
            opened = session.show_case(case_id, state.policy)
        except TriageError:
            return render_template("message.html", message=g.t.gettext("There is no such case.")), 404
        names = sorted({p.name for p, access in session.store.caseworkers() if access})
    return render_template(
        "case.html", case=opened, reasons=reason_texts(opened.priority, g.t), trail=audit_trail(opened.record, g.t),
        fields=CASE_FIELDS, field_labels=FIELD_LABELS, choice_labels=CHOICE_LABELS,
        form_language=LANGUAGE_OF_FORM, statuses=STATUSES, caseworkers=names, max_note=MAX_NOTE_CHARS,
        saved=request.args.get("saved") == "1",
    )  # fmt: skip


@blueprint.post("/case/<case_id>")
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
            return render_template("message.html", message=explain(failure)), 400
    state.queue = None
    return _see_other("views.case", case_id=entry_id, saved="1")


@blueprint.get("/usb")
def usb() -> str:
    state = _state()
    folder_text = request.args.get("folder") or (str(state.usb_folder) if state.usb_folder else "")
    folder, error = usable_folder(folder_text, g.t)
    files = bundle_files(folder) if folder is not None else []
    return render_template("usb.html", folder=folder_text, files=files, error=error if folder_text else "",
                           first_import=_first_import())  # fmt: skip


def _first_import() -> bool:
    """No server key pinned yet: the import form asks for the fingerprint the operator reads aloud."""
    with _session() as session:
        return session.store.pinned_server() is None


@blueprint.post("/usb/import")
def import_bundle() -> Any:
    state = _state()
    folder, error = usable_folder(request.form.get("folder", ""), g.t)
    name = request.form.get("file", "")
    files = bundle_files(folder) if folder is not None else []
    if folder is None or name not in {f.name for f in files}:
        return render_template("usb.html", folder=request.form.get("folder", ""), files=files,
                               error=error or g.t.gettext("Choose a file from the list."),
                               first_import=_first_import()), 400  # fmt: skip
    fingerprint = request.form.get("fingerprint", "").strip() or None
    accept = request.form.get("accept_recipients") == "yes"
    with _session() as session:
        try:
            summary = session.import_bundle(folder / name, expected_fingerprint=fingerprint, accept_recipients=accept)
        except (TriageError, crypto.CryptoError, OSError) as failure:
            changed = isinstance(failure, RecipientsChangedError)
            return render_template("usb.html", folder=str(folder), files=files, error=explain(failure),
                                   first_import=session.store.pinned_server() is None,
                                   recipients_changed=changed), 400  # fmt: skip
    state.usb_folder = folder
    state.queue = None
    return render_template("imported.html", summary=summary, folder=str(folder), name=name)


@blueprint.post("/usb/return")
def write_return() -> Any:
    state = _state()
    folder, error = usable_folder(request.form.get("folder", ""), g.t)
    if folder is None:
        return render_template("usb.html", folder=request.form.get("folder", ""), files=[], error=error), 400
    path = folder / return_file_name(state.config.today(), folder)
    with _session() as session:
        try:
            written = session.write_ack(path, overwrite=False)
        except (TriageError, crypto.CryptoError, OSError) as failure:
            files = bundle_files(folder)
            return render_template("usb.html", folder=str(folder), files=files, error=explain(failure)), 400
    state.usb_folder = folder
    return render_template("returned.html", written=written, name=path.name)
