"""The USB stick page: import a bundle from a folder, write the signed return file back to it."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request

import crypto
from triage.desk.folders import bundle_files, return_file_name, usable_folder
from triage.desk.views import _session, _state, blueprint
from triage.errors import TriageError, explain, explain_in
from triage.importer import RecipientsChangedError
from triage.questionnaire_changes import change_lines
from triage.questionnaires import QuestionnaireChangedError, accept_on_desk


@blueprint.get("/usb")
def usb() -> str:
    state = _state()
    folder_text = request.args.get("folder") or (str(state.usb_folder) if state.usb_folder else "")
    folder, error = usable_folder(folder_text, g.t)
    files = bundle_files(folder) if folder is not None else []
    with _session() as session:
        first_import = session.store.pinned_server() is None
    return render_template("usb.html", folder=folder_text, files=files, error=error if folder_text else "",
                           first_import=first_import)  # fmt: skip


@blueprint.post("/usb/import")
def import_bundle() -> Any:
    state = _state()
    folder_text = request.form.get("folder", "")
    folder, error = usable_folder(folder_text, g.t)
    name = request.form.get("file", "")
    fingerprint = request.form.get("fingerprint", "").strip() or None
    accept = request.form.get("accept_recipients") == "yes"
    files = bundle_files(folder) if folder is not None else []

    def again(message: str, status: int = 400, *, first: bool = False, **extra: Any) -> Any:
        page = render_template(
            "usb.html", folder=folder_text, files=files, error=message, chosen=name, first_import=first, **extra
        )
        return page, status

    if folder is None or name not in {f.name for f in files}:
        return again(error or g.t.gettext("Choose a file from the list."))
    with _session() as session:
        first = session.store.pinned_server() is None
        if first and fingerprint is None:
            return again(g.t.gettext("This is the first import: type the server fingerprint the operator reads "
                                     "to you, then import again."), first=True)  # fmt: skip
        try:
            accept_on_desk(session.store, request.form.getlist("accept_questionnaire")[:64])  # the stop page's button
            summary = session.import_bundle(folder / name, expected_fingerprint=fingerprint, accept_recipients=accept)
        except RecipientsChangedError as change:
            return again("", 409, added=change.added, removed=change.removed)
        except QuestionnaireChangedError as stop:
            return again("", 409, questionnaire_stop=stop.versions, accept_recipients=accept, typed=fingerprint or "",
                         change_lines=lambda version: change_lines(version, g.t))  # fmt: skip
        except (TriageError, crypto.CryptoError, OSError) as failure:
            return again(explain_in(failure, g.t), first=first)
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
            return render_template(
                "usb.html", folder=str(folder), files=files, error=g.t.gettext(explain(failure))
            ), 400
    state.usb_folder = folder
    state.queue = None
    return render_template("returned.html", written=written, name=path.name)
