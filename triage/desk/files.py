"""The case page's files and the safe view: a file becomes pictures in a box before the caseworker sees it.

The browser never receives a file as the person sent it. For a photo or a PDF, ``triage.safeview``
decodes it in a separate process with hard limits and no network and rebuilds each page as a PNG here;
the safe view page shows those PNGs (served by this desk under its own CSP, which for that page alone
allows images from this origin, and only to ``<img>`` requests from the desk's own pages) and warns about
what the metadata said, the place a photo was taken first. Any other type shows its facts only. A file
the box refuses (a decompression bomb, a malformed PDF, a huge picture) gives a sentence, and the desk
goes on. Saving (the original with its SHA-256, or a cleaned copy) goes to the USB folder the desk
already knows, through the same operations as `triage attachment`.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Response, g, render_template, request, url_for

import crypto
from triage.attachments import DAMAGED, TYPE_WORDS, Attachment, blob_store, case_files, read_file, save_original
from triage.cases import Case
from triage.cleaning import NO_DOCUMENTS, have_documents, save_clean
from triage.desk.views import _session, _state, blueprint
from triage.errors import TriageError, explain_in
from triage.file_words import fact_warnings, refusal_text, size_text
from triage.i18n import Translator
from triage.safeview import SafeView, safe_view
from triage.safeview.sandbox import VIEWABLE
from triage.text import clean

PICTURE_ENDPOINT = "views.safe_view_picture"


@blueprint.app_template_global()
def case_files_of(case: Case) -> list[dict[str, Any]]:
    """The case page's list of files, each with the address of its safe view (a random token)."""
    state = _state()
    with _session() as session:
        files = case_files(session, case)
    return [{"file": f, "href": url_for("views.safe_file", token=state.files.file_token(case.entry_id.hex(), f.number)),
             "type": _presence(f) or _type_words(f.detected)} for f in files]  # fmt: skip


def _presence(f: Attachment) -> str:
    t: Translator = g.t
    if not f.present:
        return t.gettext("not on this laptop")
    return t.gettext("damaged: it does not open") if f.damaged else ""


@blueprint.app_template_global()
def file_size_text(size: int) -> str:
    return size_text(size, g.t)


def _type_words(kind: str) -> str:
    return str(g.t.gettext(TYPE_WORDS[kind])) if kind in TYPE_WORDS else clean(kind)


def _message(text: str, status: int) -> Any:
    return render_template("message.html", message=text), status


def _chosen(token: str) -> tuple[Case, Attachment] | None:
    state = _state()
    ref = state.files.file(token)
    if ref is None:
        return None
    case_hex, number = ref
    with _session() as session:
        try:
            case = session.show_case(case_hex, state.policy)
        except TriageError:
            return None
        files = case_files(session, case)
    return (case, files[number - 1]) if 1 <= number <= len(files) else None


def _size(png: bytes) -> tuple[int, int]:
    from PIL import Image  # the documents extra, checked before a file is decoded

    with Image.open(io.BytesIO(png)) as picture:  # our own PNG, rebuilt from raw pixels: only its header is read
        return picture.size


@blueprint.get("/file/<token>")
def safe_file(token: str) -> Any:
    state = _state()
    found = _chosen(token)
    if found is None:
        return _message(g.t.gettext("There is no such file."), 404)
    case, attachment = found
    shown = state.files.shown(token)
    error = ""
    if shown is None and attachment.present and attachment.detected in VIEWABLE and not have_documents():
        error = g.t.gettext(NO_DOCUMENTS)
    elif shown is None and attachment.present and attachment.detected in VIEWABLE:
        with _session() as session:
            try:
                data = read_file(blob_store(session), attachment.entry)
            except (TriageError, crypto.CryptoError) as failure:
                data, error = b"", explain_in(failure, g.t)
        if data:
            made = safe_view(data)
            del data
            pages = [(png, *_size(png)) for png in made.pages]
            made.pages = []
            shown = state.files.keep(token, made, pages)
    view: SafeView | None = shown.view if shown is not None else None
    if error:
        pass  # the blob did not open, or the safe view is not installed: said above
    elif attachment.damaged:
        error = g.t.gettext(DAMAGED)
    elif view is not None and view.refused:
        error = refusal_text(view.refused, g.t)
    elif not error and attachment.present and attachment.detected not in VIEWABLE:
        error = refusal_text("not_viewable", g.t)
    elif not attachment.present:
        error = g.t.gettext("This file is not on this laptop: its bundle did not carry it.")
    g.images_from_self = bool(shown and shown.pictures)  # the page's CSP allows img-src 'self' (app.py)
    return render_template(
        "safe_view.html", case=case, attachment=attachment, token=token, error=error,
        type_words=_type_words(attachment.detected) if attachment.present else "",
        warnings=fact_warnings(view.facts, g.t) if view is not None else [],
        pictures=shown.pictures if shown is not None else [], total_pages=view.total_pages if view else 0,
        isolated=view.isolated if view is not None else True, folder=state.usb_folder, saved=None,
    )  # fmt: skip


@blueprint.get("/picture/<token>")
def safe_view_picture(token: str) -> Any:
    """One rebuilt page (our own PNG): asked for only by an <img> on the safe view page (app.py's guard)."""
    png = _state().files.picture(token)
    if png is None:
        return Response(status=404)
    return Response(png, mimetype="image/png")


@blueprint.post("/file/<token>/save")
def save_file(token: str) -> Any:
    """Save the original (with its SHA-256) or a cleaned copy into the USB folder the desk knows."""
    state = _state()
    found = _chosen(token)
    if found is None:
        return _message(g.t.gettext("There is no such file."), 404)
    case, attachment = found
    folder = state.usb_folder
    if folder is None:
        return _message(g.t.gettext("Open the USB stick page first, so that the desk knows where to save."), 400)
    cleaned = request.form.get("how") == "clean"
    with _session() as session:
        blobs = blob_store(session)
        try:
            saved = save_clean(blobs, attachment, folder) if cleaned else save_original(blobs, attachment, folder)
        except (TriageError, crypto.CryptoError) as failure:
            return _message(explain_in(failure, g.t), 400)
    return render_template("file_saved.html", case=case, attachment=attachment, saved=saved, cleaned=cleaned,
                           token=token)  # fmt: skip
