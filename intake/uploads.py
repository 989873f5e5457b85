"""Files with a request or a follow-up: the two endpoints that take multipart, and what happens to their files.

``receive`` (a before_request hook of intake.app, after the rate limit and before the CSRF check) reads a
multipart body with intake.multipart, straight from ``wsgi.input`` in bounded reads: never werkzeug's form
parser, never ``request.files`` (werkzeug spools file parts to temporary files). The text parts become
``request.form``, so the CSRF check, the one-time token and the form's reader see what they see for an
urlencoded body. Files are sealed as they arrive and staged in the database (intake.blobs) only when the
fields before the first file carry a valid CSRF token; the view ties them to its envelope in the envelope's
own transaction. ``discard`` (a teardown hook) deletes whatever the request staged and did not store, on
every path: a refusal, an invalid form, an exception.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, current_app, g, render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from crypto.manifest import manifest_entry
from intake import blobs, csrf
from intake.csrf import TokenError
from intake.multipart import FileLimits, MalformedUpload, Upload, read_multipart
from intake.storage import today

log = logging.getLogger("intake")
ENDPOINTS = frozenset({"intake.request_form", "intake.send_message"})
MULTIPART = "multipart/form-data"
# Refusals of the files, with the status of the page that keeps the answers: the request was NOT sent.
STATUS = {"too_many": 413, "too_large": 413, "total_too_large": 413, "full": 503, "disk_full": 503}
CHOOSE_AGAIN = _l("Your answers are still here, but the files are not: browsers cannot keep them. Choose the "
                   "files again, then press the button at the bottom.")  # fmt: skip
REFUSALS = {
    "too_many": _l("Your request has NOT been sent: you chose more files than we can take."),
    "too_large": _l("Your request has NOT been sent: one of the files is larger than we can take."),
    "total_too_large": _l("Your request has NOT been sent: the files together are larger than we can take."),
    "full": _l("Your request has NOT been sent: we cannot take files at the moment. You can send the request "
               "without files, and the files later from the status page."),
    "disk_full": _l("Your request has NOT been sent: we cannot take requests at the moment. Please try again in "
                    "an hour or later today."),
}  # fmt: skip
MESSAGE_REFUSALS = {
    "too_many": _l("Your message was NOT sent: you chose more files than we can take."),
    "too_large": _l("Your message was NOT sent: one of the files is larger than we can take."),
    "total_too_large": _l("Your message was NOT sent: the files together are larger than we can take."),
    "full": _l("Your message was NOT sent: we cannot take files at the moment. You can send the message "
               "without files."),
    "disk_full": _l("Your message was NOT sent: the service is busy. Please try again in an hour."),
}  # fmt: skip


def _services() -> Any:
    return current_app.extensions["intake"]


def accepts_multipart() -> bool:
    """Whether this request may post multipart: files on, and one of the two endpoints that take files."""
    config = _services().config
    return bool(config.files_enabled and request.method == "POST" and request.endpoint in ENDPOINTS)


def is_multipart() -> bool:
    return request.mimetype == MULTIPART


def limits(config: Any) -> FileLimits:
    return FileLimits(max_files=config.files_max, max_file_bytes=config.file_max_bytes,
                      max_total_bytes=config.files_max_bytes, max_text_bytes=config.max_body_bytes,
                      max_parts=config.max_form_parts + config.files_max + 8)  # fmt: skip


def _csrf_ok(fields: MultiDict[str, str]) -> bool:
    try:
        csrf.check_token(_services().csrf_key, csrf.visitor_cookie(), fields.get("csrf_token"), csrf.now_minute(),
                         current_app.config["WTF_CSRF_TIME_LIMIT"] // 60)  # fmt: skip
    except TokenError:
        return False
    return True


def _read_body(stage: bool) -> Upload:
    services = _services()
    environ = request.environ
    stream = environ["wsgi.input"]
    length = request.content_length
    if length is None and not environ.get("wsgi.input_terminated"):
        abort(411)
    upload = g.upload = Upload()
    open_blob = None
    if stage:
        stager = services.stager.id()
        day = today()

        def open_blob() -> blobs.BlobWriter:
            return blobs.BlobWriter(services.storage, stager, day, services.config.pending_max_bytes)

    try:
        read_multipart(stream.read, length, request.headers.get("Content-Type", ""), limits(services.config),
                       open_blob, _csrf_ok, upload=upload)  # fmt: skip
    except MalformedUpload as error:
        # The reason is ours (never the body's bytes): the operator may count them.
        log.info("a multipart body was refused: %s", error.reason)
        if error.reason == "file_in_a_text_field":
            abort(415)  # what a browser filling in our page never sends: the page for a body we cannot read
        abort(413 if error.reason in ("body_too_large", "text_too_large", "too_many_parts") else 400)
    # werkzeug's cached properties, set here: werkzeug never parses this body (nor spools a part of it).
    request.form = ImmutableMultiDict(upload.fields)
    request.files = ImmutableMultiDict()
    if upload.refused is not None:
        discard()
    return upload


def receive() -> None:
    """The hook: read a multipart body of the two file endpoints, staging its files."""
    if request.method == "POST" and is_multipart() and accepts_multipart():
        _read_body(stage=True)


def receive_fields_only() -> None:
    """A refused submission (rate limit): read the fields to give them back, drop the files unread."""
    if request.method == "POST" and is_multipart() and accepts_multipart() and "upload" not in g:
        _read_body(stage=False)


def files_dropped() -> bool:
    """Whether the person chose files that this response does not keep (the page asks to choose them again)."""
    upload: Upload | None = g.get("upload")
    return upload is not None and upload.chose_files and "sent_files" not in g


def refusal(kind: str = "request") -> tuple[str, int] | None:
    """The banner and status for files refused while reading, or None."""
    upload: Upload | None = g.get("upload")
    if upload is None or upload.refused is None:
        return None
    words = REFUSALS if kind == "request" else MESSAGE_REFUSALS
    return f"{words[upload.refused]} {CHOOSE_AGAIN}", STATUS[upload.refused]


def manifest() -> tuple[list[dict[str, Any]] | None, list[bytes]]:
    """The manifest of this request's files (None when it has none) and their blob ids, for its envelope."""
    upload: Upload | None = g.get("upload")
    if upload is None or not upload.files:
        return None, []
    entries = [manifest_entry(f.sealed, f.blob_id, f.name, f.claimed_type) for f in upload.files]
    return entries, [f.blob_id for f in upload.files]


def stored() -> None:
    """The envelope naming this request's files is durable: they are no longer staged."""
    upload: Upload | None = g.get("upload")
    if upload is not None:
        g.sent_files = [(f.name, f.sealed.size) for f in upload.files]
        upload.staged.clear()


def discard(_error: BaseException | None = None) -> None:
    """Delete what this request staged and did not store (a teardown hook: runs on every path)."""
    upload: Upload | None = g.get("upload")
    if upload is None or not upload.staged:
        return
    staged, upload.staged = list(upload.staged), []
    try:
        blobs.delete_blobs(_services().storage, staged)
    except Exception as error:  # the next start deletes them (intake.blobs.Stager.clean_dead)
        log.error("staged files could not be deleted now (%s); they will be at the next start", type(error).__name__)


def size_words(size: int) -> str:
    """A file's size as a person reads it, in the page's language (1 KB = 1,024 bytes, as phones show them)."""
    if size < 1024:
        return str(_("%(n)s bytes", n=size))
    if size < 1024 * 1024:
        return str(_("%(n)s KB", n=format_decimal(round(size / 1024), format="#,##0")))
    return str(_("%(n)s MB", n=format_decimal(size / (1024 * 1024), format="#,##0.0")))


def sent_list() -> Markup:
    """The files that arrived with this submission, for this one response (never stored in plaintext)."""
    sent = g.get("sent_files")
    if not sent:
        return Markup("")
    # render_template escaped every name already: the result is our HTML, not the person's text.
    page = render_template("_files_sent.html", sent=[(name, size_words(size)) for name, size in sent])
    return Markup(page)  # noqa: S704
