"""The status page and the conversation behind a receipt: read replies, answer, delete what was read.

The receipt is the person's only credential. From it and the server's reply secret the page derives the
person's reply key pair for this one response: the public half names the mailbox (the hash under which
replies are stored), the private half opens the replies in memory; neither the receipt nor the private
key is stored or logged. A follow-up is sealed to the caseworkers exactly like a request, to the same
size, and stored like one. Every answer a prober could tell apart is the same for an unknown receipt as
for a mistyped one; a follow-up or a deletion with an unknown receipt changes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flask import abort, current_app, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, TextAreaField
from wtforms.validators import StopValidation

import crypto
from intake import status_fastpath, uploads
from intake.blobs import StagedBlobLostError
from intake.forms import IntakeForm, StatusForm, _normalise_newlines
from intake.pages import cached_page
from intake.receipts import normalize_receipt, receipt_lookup_key
from intake.storage import NoRecipientError, StorageFullError, today
from intake.views import blueprint, circuit

MAX_MESSAGE_CHARS = 4000
_REPLY_PERSON = b"intake-replies"


def reply_secret(instance_secret: bytes) -> bytes:
    """The 32-byte secret reply keys are derived with (docs/FORMAT.md), separate from the receipt hash key."""
    return hashlib.blake2b(b"", key=instance_secret, person=_REPLY_PERSON, digest_size=32).digest()


def _message_rules(form: Any, field: Any) -> None:
    text = field.data if isinstance(field.data, str) else ""
    if not text.strip():
        raise StopValidation(str(_l("Please write your message.")))
    if len(text) > MAX_MESSAGE_CHARS:
        raise StopValidation(str(_l("Your message is too long: at most 4,000 characters.")))


class MessageForm(IntakeForm):
    receipt = HiddenField()
    message = TextAreaField(_l("Your message to the caseworkers"), filters=[_normalise_newlines],
                            validators=[_message_rules],
                            render_kw={"maxlength": MAX_MESSAGE_CHARS, "autocomplete": "off", "rows": 6})  # fmt: skip


class DeleteForm(IntakeForm):
    receipt = HiddenField()
    reply = HiddenField()
    confirmed = HiddenField()  # "yes" from the confirmation page; without it the page asks first


def _services() -> Any:
    return current_app.extensions["intake"]


def _limit() -> None:
    # The status page's fast path may have spent the limit already: then its verdict stands (spent once).
    decided = request.environ.pop(status_fastpath.LIMIT_DECIDED, None)
    allowed = decided if isinstance(decided, bool) else _services().status_limiter.allow(circuit())
    if not allowed:
        abort(429)


def _lookup(digits: str | None) -> str | None:
    """The receipt's status, or None; a malformed receipt costs the same lookup (of a random key)."""
    if status_fastpath.LOOKUP_DONE in request.environ:  # the status page's fast path looked it up already
        found = request.environ.pop(status_fastpath.LOOKUP_DONE)
        return found if isinstance(found, str) else None
    services = _services()
    lookup = receipt_lookup_key(digits, services.receipt_secret) if digits else secrets.token_bytes(32)
    return services.storage.receipt_status(lookup)  # type: ignore[no-any-return]


def _conversation(digits: str, answer: str, *, sent: bool = False, deleted: bool = False,
                  message_form: MessageForm | None = None, confirm: str | None = None) -> str:  # fmt: skip
    services = _services()
    keypair = crypto.derive_reply_keypair(digits, services.reply_secret)
    found = status_fastpath.opened_replies(services.storage, keypair)
    day = status_fastpath.reply_day
    replies = [{"id": stored.reply_id.hex(), "text": opened.text, "day": day(opened.written_on, g.lang), "n": n}
               for n, (opened, stored) in enumerate(found, start=1)]  # fmt: skip
    return _render_conversation(digits, answer, replies, sent=sent, deleted=deleted, message_form=message_form,
                                confirm=confirm)  # fmt: skip


def _render_conversation(digits: str, answer: str, replies: list[dict[str, Any]], *, sent: bool = False,
                         deleted: bool = False, message_form: MessageForm | None = None,
                         confirm: str | None = None) -> str:  # fmt: skip
    form = message_form or MessageForm(formdata=None)
    form.receipt.data = digits
    grouped = " ".join(digits[i : i + 5] for i in range(0, len(digits), 5))
    return render_template("status.html", form=StatusForm(formdata=None), answer=answer, found=True,
                           replies=replies, message_form=form, delete_form=DeleteForm(formdata=None),
                           receipt_digits=digits, receipt_grouped=grouped, sent=sent, deleted=deleted,
                           confirm=confirm if any(r["id"] == confirm for r in replies) else None)  # fmt: skip


def _with_marker_token(render: Any) -> Any:
    """``render`` run with the page's CSRF token set to the skeleton's marker (intake.status_fastpath)."""

    def marked(replies: list[dict[str, str]]) -> str:
        saved = g.pop("csrf_token", None)
        g.csrf_token = status_fastpath.MARKER_TOKEN
        try:
            return str(render(replies))
        finally:
            g.pop("csrf_token", None)
            if saved is not None:
                g.csrf_token = saved

    return marked


def _learn(answer: str, with_replies: bool, render: Any) -> None:
    """Let the fast path serve pages like the one just shown (intake.status_fastpath), learned once."""
    key = (g.lang, request.script_root, answer, with_replies)
    if key not in current_app.extensions.get(status_fastpath.SKELETONS_KEY, {}):
        status_fastpath.learn(current_app.extensions, key, _with_marker_token(render))


def _not_found() -> str:
    return render_template("status.html", form=StatusForm(formdata=None), answer="unknown")


@blueprint.route("/<lang:lang>/status", methods=["GET", "POST"])
def status() -> Any:
    if request.method == "GET":
        # The empty status page: rendered once per language, this visitor's CSRF token filled in.
        return cached_page(lambda: render_template("status.html", form=StatusForm(formdata=None), answer=None),
                           with_token=True)  # fmt: skip
    form = StatusForm()
    if not form.validate_on_submit():
        form.receipt.data = ""  # never send back what was typed: a near-miss of a receipt is almost the receipt
        return render_template("status.html", form=form, answer=None)
    _limit()
    digits = normalize_receipt(form.receipt.data or "")
    answer = _lookup(digits)
    if answer is None or digits is None:
        page = _not_found()
        _learn(status_fastpath.UNKNOWN, False, lambda _replies: _not_found())
        return page
    page = _conversation(digits, answer)
    for with_replies in (False, True):
        _learn(answer, with_replies, lambda replies: _render_conversation(status_fastpath.MARKER_DIGITS, answer,
                                                                          replies))  # fmt: skip
    return page


@blueprint.route("/<lang:lang>/status/message", methods=["POST"])
def send_message() -> Any:
    # A follow-up is stored like a request: it spent the submission budget before its CSRF check (app.py,
    # issue 18 item 6); look-ups keep theirs.
    form = MessageForm()
    digits = normalize_receipt(form.receipt.data or "")
    answer = _lookup(digits)
    if answer is None or digits is None:
        return _not_found()
    if "relang" in request.form:
        # The page's language switch submits this form: the message being written comes along, nothing is sent.
        return _conversation(digits, answer, message_form=form)
    if not form.validate():
        return _conversation(digits, answer, message_form=form), 400
    services = _services()
    keypair = crypto.derive_reply_keypair(digits, services.reply_secret)
    if not services.followup_cap.allow(crypto.mailbox_id(keypair.public), today()):
        form.message.errors = [_("Your message was NOT sent: this receipt has sent many messages today. "
                                 "Please try again tomorrow.")]  # fmt: skip
        return _conversation(digits, answer, message_form=form), 429
    refused = uploads.refusal("message")
    if refused is not None:  # files over a limit, or no room for them: NOT sent, the message comes back
        form.message.errors = [refused[0]]
        return _conversation(digits, answer, message_form=form), refused[1]
    followup = {"schema": 2, "kind": "followup", "locale": g.lang, "submitted_on": today(),
                "reply_key": keypair.public.to_b64(), "message": form.message.data}  # fmt: skip
    files, blob_ids = uploads.manifest()
    if files is not None:
        followup["files"] = files
    try:
        services.storage.store_followup(lambda recipients: crypto.seal_followup(followup, for_recipients=recipients),
                                        today(), services.config.max_pending, files=blob_ids)  # fmt: skip
    except crypto.RequestInvalidError:
        form.message.errors = [_("Please check your message: it has characters that cannot be sent.")]
        return _conversation(digits, answer, message_form=form), 400
    except crypto.RequestTooLargeError:
        form.message.errors = [_("Your message is too long. Please shorten it.")]
        return _conversation(digits, answer, message_form=form), 400
    except (StorageFullError, NoRecipientError, StagedBlobLostError, crypto.CryptoError):
        form.message.errors = [_("Your message was NOT sent: the service is busy. Please try again in an hour.")]
        return _conversation(digits, answer, message_form=form), 503
    uploads.stored()  # durable with its envelope: the page lists what arrived
    return _conversation(digits, answer, sent=True)


@blueprint.route("/<lang:lang>/status/delete", methods=["POST"])
def delete_reply() -> Any:
    form = DeleteForm()
    if not form.validate():
        abort(400)
    _limit()
    digits = normalize_receipt(form.receipt.data or "")
    answer = _lookup(digits)
    if answer is None or digits is None:
        return _not_found()
    try:
        reply_id = bytes.fromhex(form.reply.data or "")
    except ValueError:
        reply_id = b""
    if form.confirmed.data != "yes":
        # Asked once, on a page of its own that reminds the person to keep the code word (issue 19 item 5).
        return _conversation(digits, answer, confirm=reply_id.hex() if len(reply_id) == 16 else None)
    services = _services()
    mailbox = crypto.mailbox_id(crypto.derive_reply_keypair(digits, services.reply_secret).public)
    deleted = len(reply_id) == 16 and services.storage.delete_reply(mailbox, reply_id)
    return _conversation(digits, answer, deleted=deleted)
