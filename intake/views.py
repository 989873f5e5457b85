"""The pages: landing, request form, short form (danger now), receipt, status, quick exit. Language is the first path
segment, never guessed."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import escape
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

import crypto
from crypto.answers import check_answers, encode_checked, seal_encoded_request
from intake import csrf, once, uploads
from intake.blobs import StagedBlobLostError
from intake.fastform import FormReader, form_answers
from intake.forms import IntakeForm
from intake.pages import cached_page
from intake.questionnaire_form import QuestionnaireForm, Words
from intake.receipts import new_receipt, normalize_receipt, receipt_lookup_key
from intake.storage import AlreadySentError, NoRecipientError, OneTime, StorageFullError, today

blueprint = Blueprint("intake", __name__)
log = logging.getLogger("intake")


def language_converter(languages: tuple[str, ...]) -> type[BaseConverter]:
    """``<lang:lang>`` matches only the configured languages, so ``/status`` is not read as language "status"
    (it is a page without its language, which errors.py redirects to the default language)."""

    class Language(BaseConverter):
        regex = "|".join(re.escape(code) for code in languages)

    return Language


def _services() -> Any:
    return current_app.extensions["intake"]


def questionnaire_form() -> QuestionnaireForm:
    """The form drawn from the questionnaire this server serves (loaded once, in create_app)."""
    found: QuestionnaireForm = current_app.extensions["questionnaire_form"]
    return found


def request_form_class() -> type[IntakeForm]:
    return questionnaire_form().form


def circuit() -> str | None:
    """The Tor circuit id set by the deployment's gunicorn worker; None under the development server."""
    value = request.environ.get("intake.circuit")
    return value if isinstance(value, str) and value else None


@blueprint.url_value_preprocessor
def _take_language(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if endpoint in ("intake.index", "intake.quick_exit"):
        return
    lang = (values or {}).pop("lang", None)
    if lang not in _services().config.languages:
        abort(404)
    g.lang = lang


@blueprint.url_defaults
def _keep_language(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint in ("intake.index", "intake.quick_exit"):
        return
    values.setdefault("lang", g.get("lang", _services().config.default_locale))


@blueprint.route("/")
def index() -> Response:
    return redirect(url_for("intake.landing", lang=_services().config.default_locale))


# What the quick exit tells the browser to forget about this site. "cache" also empties the back/forward
# cache of this origin in Chromium, which otherwise keeps the form, typed answers included, one Back away.
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


@blueprint.route("/exit")
def quick_exit() -> Response:
    """The quick exit: forget this visit in the browser, then go to the ordinary site (issue 12 item 1).

    A plain link to the ordinary site left the filled-in form one Back away in Chromium (its back/forward
    cache keeps the live page, typed answers and all). Passing through here, without any script, makes the
    browser clear this origin's cache (and with it the back/forward cache), cookies and storage, and drops
    the session, so Back can only fetch an empty form anew. No query, no body, nothing logged.
    """
    response = redirect(_services().config.exit_url, code=303)
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    config = current_app.config
    response.delete_cookie(config["SESSION_COOKIE_NAME"], secure=config["SESSION_COOKIE_SECURE"], httponly=True,
                           samesite=config["SESSION_COOKIE_SAMESITE"])  # fmt: skip
    return response


@blueprint.route("/<lang:lang>/")
def landing() -> str:
    return cached_page(lambda: render_template("landing.html"), with_token=False)


class SealingFailedError(Exception):
    """Sealing failed for a reason the person cannot fix (e.g. an unusable caseworker key): a 503, never a 500."""


# Refusals of a well-formed request: nothing was stored, the answers go back to the person (issue 9 item 2).
RETRY_AFTER = {429: 60, 503: 3600}
REFUSALS = {
    429: _l("Your request has NOT been sent yet: too many requests are arriving at once. Your answers are still "
            "here. Please wait a minute, then press the button at the bottom again."),
    503: _l("Your request has NOT been sent yet: we cannot take requests at the moment. Your answers are still "
            "here. Please try again in an hour or later today."),
}  # fmt: skip
FORMS = {"intake.request_form": "request.html", "intake.urgent_form": "urgent.html"}
# The POSTs that store an envelope: they spend the submission budget, checked before anything else (app.py).
SUBMISSIONS = frozenset({*FORMS, "intake.send_message"})


def rate_limited() -> Any:
    """The answer to a submission over the rate limit, given before its CSRF check, parsing and validation.

    The answers come back (the form, filled in, saying it was NOT sent) only to a visitor who has our cookie,
    as for a CSRF refusal (errors.py): after the quick exit, which drops it, a form the browser resends from
    its history gets the plain page, with nothing of what was typed.
    """
    if request.endpoint in FORMS and csrf.visitor_cookie() is not None:
        # The answers go on in hidden fields of a short page, in the order they came, with a fresh CSRF token
        # and the same one-time token: rendering the whole form again cost three acceptances (flood_bench).
        kept = kept_answers(request.form, questionnaire_form().field_ids)
        if uploads.files_dropped():
            banner = f"{REFUSALS[429]} {uploads.CHOOSE_AGAIN}"
            page = render_template("kept.html", kept=kept, csrf_token=csrf.generate(), banner=banner)
        else:  # the page intake.fastpath fills in too: the same pieces, so the same bytes
            page = fill_kept(kept_pieces(), csrf.generate(), kept)
        response = current_app.make_response((page, 429))
        response.headers["Retry-After"] = str(RETRY_AFTER[429])
        return response
    abort(429)


def kept_answers(form: Any, field_ids: Sequence[str]) -> list[tuple[str, str]]:
    """What a refusal carries on: every value of the questionnaire's fields in their order, then the one-time
    token (intake.fastpath keeps the same)."""
    return [(name, value) for name in (*field_ids, "once") for value in form.getlist(name)]


KEPT_PAGES = "intake_kept_pages"  # app.extensions[KEPT_PAGES]: {(endpoint, lang, script root): the pieces}
_TOKEN_MARK = "CSRF-TOKEN-GOES-HERE"  # noqa: S105 (a marker in the page, replaced by the token)


def kept_pieces() -> tuple[str, str]:
    """The rate-limit refusal page of this request's form and language (no files chosen), split where its
    token and the hidden answers go; rendered once, then filled in (intake.fastpath fills the same pieces)."""
    key = (request.endpoint or "", g.lang, request.script_root)
    pages: dict[tuple[str, str, str], tuple[str, str]] = current_app.extensions.setdefault(KEPT_PAGES, {})
    if key not in pages:
        page = render_template("kept.html", kept=[], csrf_token=_TOKEN_MARK, banner=REFUSALS[429])
        head, mark, tail = page.partition(f'{_TOKEN_MARK}">')
        if not mark or _TOKEN_MARK in tail:
            raise RuntimeError("kept.html must hold its token once, before the hidden answers")
        pages[key] = (head, tail)
    return pages[key]


def fill_kept(pieces: tuple[str, str], token: str, kept: list[tuple[str, str]]) -> str:
    """kept.html as Jinja renders it: every name and value escaped as its autoescape does."""
    inputs = "".join(f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in kept)
    return f'{pieces[0]}{escape(token)}">{inputs}{pieces[1]}'


def posted_once() -> str | None:
    """The one-time submission token this POST carries (intake.once), if it has one of the right shape."""
    value = request.form.get("once")
    return value if once.is_token(value) else None


def _render_form(form: IntakeForm, banner: Any = None) -> str:
    # A re-shown form keeps the token it was sent with (nothing was stored with it); an empty one gets its own.
    token = g.get("once_token") or (posted_once() if request.method == "POST" else None) or once.new_token()
    return render_form_page(request.endpoint or "", form, banner, token)


def render_form_page(endpoint: str, form: IntakeForm, banner: Any, once_token: str) -> str:
    """The full form or the short path, drawn from the questionnaire, with ``form``'s answers and errors."""
    drawn = questionnaire_form()
    title = drawn.questionnaire.title
    return render_template(FORMS.get(endpoint, "request.html"), form=form, banner=banner, once_token=once_token,
                           layout=drawn.short if endpoint == "intake.urgent_form" else drawn.full,
                           layout_short=drawn.short, title=Words(title) if any(title.values()) else None)  # fmt: skip


def _form_page(form: IntakeForm, status: int = 200, banner: Any = None) -> Any:
    response = current_app.make_response((_render_form(form, banner), status))
    if status in RETRY_AFTER:
        response.headers["Retry-After"] = str(RETRY_AFTER[status])
    return response


def _filled_form() -> IntakeForm:
    """The posted answers in the form, validated (no errors: they passed), to be shown again with a message."""
    form = request_form_class()()
    form.validate()
    return form


def _seal(encoded: bytes) -> Any:
    def seal(recipients: list[crypto.PublicIdentity]) -> bytes:
        try:
            return seal_encoded_request(encoded, for_recipients=recipients)
        except Exception as error:  # a recipient key libsodium refuses (low-order point) and the like
            raise SealingFailedError(type(error).__name__) from None

    return seal


@blueprint.route("/<lang:lang>/request", methods=["GET", "POST"])
def request_form() -> Any:
    return _submit()


@blueprint.route("/<lang:lang>/urgent", methods=["GET", "POST"])
def urgent_form() -> Any:
    """The short form for a person in danger now: the few answers a caseworker needs to act (issue 12 item 6)."""
    return _submit()


def _submit() -> Any:
    form_class = request_form_class()
    if request.method == "GET":
        # The empty form: rendered once per language, this visitor's CSRF token filled in (intake.pages).
        return cached_page(lambda: _render_form(form_class()), with_token=True, with_once=True)
    if "relang" in request.form:
        # A language button is a submit button of this form: the answers come along into the other language.
        return _form_page(form_class())
    refused = uploads.refusal()
    if refused is not None:  # files over a limit, or no room for them: NOT sent, the answers come back
        return _form_page(_filled_form(), refused[1], refused[0])
    services = _services()
    questionnaire = current_app.extensions["questionnaire"]
    day = today()
    one_time = one_time_of(services, posted_once(), day)
    # The answers are read without building the form (intake.fastform) and validated once, against the
    # questionnaire (crypto.answers); the form is built only when there is something to show.
    if g.get("csrf_valid"):
        reader: FormReader = current_app.extensions["questionnaire_reader"]
        answers = reader.decode(request.form)
    else:  # cannot happen behind csrf.protect; the form's own check then answers
        checked_form = form_class()
        if not checked_form.validate_on_submit():
            return _form_page(checked_form, banner=_("Please check these answers:"))
        answers = form_answers(questionnaire, checked_form.data)
    try:
        checked = check_answers(questionnaire, answers)
    except crypto.RequestInvalidError as error:
        return _answers_refused(error.field)
    try:
        # The files' keys and facts travel in the envelope (crypto.manifest); their blobs are tied to it when stored.
        files, blob_ids = uploads.manifest()
        receipt = store_request(services, questionnaire, checked, g.lang, day, one_time, files=files,
                                blob_ids=blob_ids)  # fmt: skip
    except crypto.RequestTooLargeError:
        form = _filled_form()
        field = _longest_text(form)
        if field is not None:
            field.errors = [_("Your text is too long once encoded; please shorten this answer.")]
        return _form_page(form, banner=_("Please check these answers:"))
    except AlreadySentError:  # the same form, posted twice at once: the other post stored it
        return already_sent_page()
    except (StorageFullError, NoRecipientError, StagedBlobLostError):
        return _form_page(_filled_form(), 503, REFUSALS[503])
    except (crypto.CryptoError, SealingFailedError) as error:
        # The operator's line: the type only (no client data), and where to look.
        log.error("a request could not be sealed (%s): check the caseworker keys with `intake recipients list`",
                  type(error).__name__)  # fmt: skip
        return _form_page(_filled_form(), 503, REFUSALS[503])
    # The commit above is durable (synchronous=FULL / PostgreSQL commit) before this page is sent, files included.
    uploads.stored()
    return receipt_page(receipt)


def one_time_of(services: Any, token: str | None, day: Any) -> OneTime | None:
    """What the one-time submission token stores with the envelope (None for a body without one)."""
    if token is None:
        return None
    # Checked where it is stored, in the envelope's own transaction (storage.seal_and_store): a read
    # here first would cost every submission a round trip for the rare repeat.
    return OneTime(once.token_digest(token, services.once_key), once.forget_after(day, services.config.csrf_hours))


def store_request(services: Any, questionnaire: Any, checked: Any, lang: str, day: Any,
                  one_time: OneTime | None, *, files: list[dict[str, Any]] | None = None,
                  blob_ids: Any = ()) -> str:  # fmt: skip
    """Encode checked answers, seal and store them; the receipt. Shared by this view and intake.fastpath.

    Raises what the encoding or the storage raise (too large, sent already, full, no key, sealing failed):
    nothing is stored then.
    """
    receipt = new_receipt()
    digits = normalize_receipt(receipt) or ""
    lookup = receipt_lookup_key(digits, services.receipt_secret)
    # The request carries the public half of the reply key its receipt opens (intake.conversation).
    reply_key = crypto.derive_reply_keypair(digits, services.reply_secret).public
    encoded = encode_checked(questionnaire, checked, locale=lang, submitted_on=day, reply_key=reply_key, files=files)
    services.storage.seal_and_store(_seal(encoded), lookup, day, services.config.max_pending, one_time,
                                    files=blob_ids)  # fmt: skip
    return receipt


def _answers_refused(field_id: str) -> Any:
    """The form with every error shown: built only now, for the answers the questionnaire refused."""
    form = request_form_class()()
    if form.validate() or not any(f.errors for f in form if f.name != "csrf_token"):
        # The form found nothing the questionnaire's check did (tests/intake/test_fast_form.py says this
        # does not happen): name the field it refused.
        field = form._fields.get(field_id) or next(f for f in form if f.name != "csrf_token")
        field.errors = [_("Please check this answer.")]
    return _form_page(form, banner=_("Please check these answers:"))


def _longest_text(form: IntakeForm) -> Any:
    texts = [f for f in form if f.type in ("StringField", "TextAreaField") and isinstance(f.data, str)]
    return max(texts, key=lambda f: len(f.data.encode("utf-8", "surrogatepass")), default=None)


def already_sent_page() -> Any:
    """A form posted again after it was stored (Back and Reload, a double tap): nothing stored, no receipt."""
    return current_app.make_response((render_template("already_sent.html", hide_languages=True), 409))


MARKER = "RECEIPT-GOES-HERE"
FILES_MARKER = "<!--files-->"


def receipt_page(receipt: str) -> str:
    """The receipt page, rendered once per language and filled in per submission.

    Rendering (Jinja plus a dozen translations) was a fifth of a submission's CPU; the receipt, digits and
    spaces only, is the page's one varying part. No language switch here: following it would leave the
    only page that shows the receipt.
    """
    pages: dict[str, str] = current_app.extensions.setdefault(RECEIPT_PAGES, {})
    if g.lang not in pages:
        pages[g.lang] = render_template("receipt.html", receipt=MARKER, hide_languages=True)
    # The files that arrived (name, size) are listed in this one response only (intake.uploads).
    return fill_receipt(pages[g.lang], receipt, uploads.sent_list())


RECEIPT_PAGES = "intake_receipt_pages"  # app.extensions[RECEIPT_PAGES]: {lang: the page with its marker}


def fill_receipt(page: str, receipt: str, files: str = "") -> str:
    if not receipt.replace(" ", "").isdigit():
        raise ValueError("a receipt is digits and spaces")
    return page.replace(MARKER, receipt).replace(FILES_MARKER, files)
