"""The pages: landing, request form, receipt, status. Language is the first path segment, never guessed."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

import crypto
from intake.forms import RequestForm
from intake.receipts import new_receipt, normalize_receipt, receipt_lookup_key
from intake.storage import NoRecipientError, StorageFullError, today

blueprint = Blueprint("intake", __name__)


def language_converter(languages: tuple[str, ...]) -> type[BaseConverter]:
    """``<lang:lang>`` matches only the configured languages, so ``/status`` is not read as language "status"
    (it is a page without its language, which errors.py redirects to the default language)."""

    class Language(BaseConverter):
        regex = "|".join(re.escape(code) for code in languages)

    return Language


def _services() -> Any:
    return current_app.extensions["intake"]


def circuit() -> str | None:
    """The Tor circuit id set by the deployment's gunicorn worker; None under the development server."""
    value = request.environ.get("intake.circuit")
    return value if isinstance(value, str) and value else None


@blueprint.url_value_preprocessor
def _take_language(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if endpoint == "intake.index":
        return
    lang = (values or {}).pop("lang", None)
    if lang not in _services().config.languages:
        abort(404)
    g.lang = lang


@blueprint.url_defaults
def _keep_language(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint == "intake.index":
        return
    values.setdefault("lang", g.get("lang", _services().config.default_locale))


@blueprint.route("/")
def index() -> Response:
    return redirect(url_for("intake.landing", lang=_services().config.default_locale))


@blueprint.route("/<lang:lang>/")
def landing() -> str:
    return render_template("landing.html")


def _form_page(form: RequestForm, status: int = 200, banner: str | None = None) -> tuple[str, int]:
    return render_template("request.html", form=form, banner=banner), status


@blueprint.route("/<lang:lang>/request", methods=["GET", "POST"])
def request_form() -> Any:
    form = RequestForm()
    if request.method == "GET" or not form.validate_on_submit():
        banner = _("Please check the fields marked below.") if request.method == "POST" else None
        return _form_page(form, banner=banner)
    services = _services()
    if not services.submit_limiter.allow(circuit()):
        abort(429)
    day = today()
    receipt = new_receipt()
    digits = normalize_receipt(receipt) or ""
    lookup = receipt_lookup_key(digits, services.receipt_secret)
    # Schema 2: the request carries the public half of the reply key its receipt opens (intake.conversation).
    reply_key = crypto.derive_reply_keypair(digits, services.reply_secret).public.to_b64()
    request_data = {**form.to_request(g.lang, day), "schema": 2, "kind": "request", "reply_key": reply_key}
    try:
        services.storage.seal_and_store(lambda recipients: crypto.seal_request(request_data, for_recipients=recipients),
                                        lookup, day, services.config.max_pending)  # fmt: skip
    except crypto.RequestTooLargeError:
        form.story.errors = [_("Your text is too long once encoded; please shorten the story.")]
        return _form_page(form, banner=_("Please check the fields marked below."))
    except crypto.RequestInvalidError as error:
        field = getattr(form, error.field, None) if error.field in form.data else None
        (field or form.story).errors = [_("Please check this answer.")]
        return _form_page(form, banner=_("Please check the fields marked below."))
    except (StorageFullError, NoRecipientError):
        abort(503)
    # The commit above is durable (synchronous=FULL / PostgreSQL commit) before this page is sent.
    return receipt_page(receipt)


_MARKER = "RECEIPT-GOES-HERE"


def receipt_page(receipt: str) -> str:
    """The receipt page, rendered once per language and filled in per submission.

    Rendering (Jinja plus a dozen translations) was a fifth of a submission's CPU; the receipt, digits and
    spaces only, is the page's one varying part. No language switch here: following it would leave the
    only page that shows the receipt.
    """
    if not receipt.replace(" ", "").isdigit():
        raise ValueError("a receipt is digits and spaces")
    pages: dict[str, str] = current_app.extensions.setdefault("intake_receipt_pages", {})
    page = pages.get(g.lang)
    if page is None:
        page = pages[g.lang] = render_template("receipt.html", receipt=_MARKER, hide_languages=True)
    return page.replace(_MARKER, receipt)
