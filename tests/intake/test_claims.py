"""Threat-model claims proven where they hold (issue 22): each looks at what the server sends or stores.

- Language: only the URL chooses it; a page without a language in its address, and every page with one,
  is the same whatever Accept-Language says.
- Receipts: what storage holds is the keyed lookup, and no form of the receipt's digits (or an unkeyed hash
  of them) is anywhere in the database files.
- Headers: form-action, base-uri and COEP on every page, error pages and redirects included.
- Autocomplete off on every form a person fills in (full, short, status, follow-up), in both languages.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.instance import Instance
from intake.receipts import normalize_receipt, receipt_lookup_key
from tests.intake.helpers import ONCE, TOKEN, csrf_token, receipt_of, submit

LANGS = ("en", "ru")
WITH_LANGUAGE = ("/{lang}/", "/{lang}/request", "/{lang}/urgent", "/{lang}/status", "/{lang}/no-such-page")
WITHOUT_LANGUAGE = ("/", "/exit", "/no-such-page", "/favicon.ico", "/robots.txt", "/request", "/status")
PATHS = [p.format(lang=lang) for p in WITH_LANGUAGE for lang in LANGS] + list(WITHOUT_LANGUAGE)
ACCEPT = (None, "ru-RU,ru;q=0.9", "en-US,en;q=0.5", "ce", "*")


def _answer(client: FlaskClient, path: str, accept: str | None) -> tuple[int, str | None, str]:
    headers = {"Accept-Language": accept} if accept else {}
    response = client.get(path, headers=headers)
    # The CSRF token and the one-time submission token are new on every page: everything else must be equal.
    body = ONCE.sub("", TOKEN.sub("", response.get_data(as_text=True)))
    return response.status_code, response.headers.get("Location"), body


@pytest.mark.parametrize("path", PATHS)
def test_accept_language_changes_no_page(sqlite_client: FlaskClient, path: str) -> None:
    answers = {accept: _answer(sqlite_client, path, accept) for accept in ACCEPT}
    assert len(set(answers.values())) == 1, {a: v[:2] for a, v in answers.items()}
    status, _, body = answers[None]
    lang = path.split("/")[1] if path.split("/")[1] in LANGS else None
    if lang is not None and status == 200:
        assert f'<html lang="{lang}"' in body


def test_a_receipt_is_stored_only_as_its_keyed_lookup(sqlite_client: FlaskClient, sqlite_app: Flask) -> None:
    # Given a submission through the form and the receipt the person got
    receipt = receipt_of(submit(sqlite_client))
    digits = normalize_receipt(receipt) or ""
    config = sqlite_app.extensions["intake"].config
    storage = sqlite_app.extensions["intake"].storage
    # Then what storage holds is the keyed lookup of exactly those digits
    lookup = receipt_lookup_key(digits, Instance(config).secret())
    with storage.reading() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM receipts")]
    assert len(rows) == 1 and lookup in [bytes(v) for v in rows[0] if isinstance(v, bytes | memoryview)]
    # And no form of the receipt, nor an unkeyed hash of it, is in any file of the instance
    storage.scrub()
    forms = {digits, receipt, digits[:15], digits[15:]}
    needles = [f.encode(enc) for f in forms for enc in ("utf-8", "utf-16-le", "utf-16-be")]
    needles += [h(digits.encode()).digest() for h in (hashlib.sha256, hashlib.sha512, hashlib.blake2b,
                                                       hashlib.sha3_256, hashlib.md5, hashlib.sha1)]  # fmt: skip
    needles += [hashlib.blake2b(digits.encode(), digest_size=32).digest()]
    files = [p for p in Path(config.instance_dir).rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        assert not [n for n in needles if n in data], path.name


def _csp(header: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_has_form_action_base_uri_and_coep(sqlite_client: FlaskClient, path: str) -> None:
    for response in (sqlite_client.get(path), sqlite_client.post(path, data={})):
        policy = _csp(response.headers["Content-Security-Policy"])
        assert policy["default-src"] == "'none'" and policy["form-action"] == "'self'", (path, policy)
        assert policy["base-uri"] == "'none'" and policy["frame-ancestors"] == "'none'", (path, policy)
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp", path
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", path


def _assert_no_autocomplete(html: str, where: str) -> int:
    forms = re.findall(r"<form\b[^>]*>", html)
    fields = re.findall(r'<(?:input|textarea)\b[^>]*>', html)
    typed = [f for f in fields if not re.search(r'type="(hidden|radio|checkbox|submit)"', f)]
    assert forms, where
    for form in forms:
        assert 'autocomplete="off"' in form, (where, form)
    for field in typed:
        assert 'autocomplete="off"' in field, (where, field)
    return len(typed)


@pytest.mark.parametrize("lang", LANGS)
def test_no_field_a_person_types_in_autocompletes(sqlite_client: FlaskClient, lang: str) -> None:
    typed = 0
    for page in ("request", "urgent", "status"):
        typed += _assert_no_autocomplete(sqlite_client.get(f"/{lang}/{page}").get_data(as_text=True), page)
    # The form with errors shown (rendered fresh, not from the page cache)
    token = csrf_token(sqlite_client, f"/{lang}/request")
    refused = sqlite_client.post(f"/{lang}/request", data={"csrf_token": token, "story": "x"})
    typed += _assert_no_autocomplete(refused.get_data(as_text=True), "request with errors")
    # The conversation page with its follow-up form, opened by a receipt
    receipt = receipt_of(submit(sqlite_client, lang))
    token = csrf_token(sqlite_client, f"/{lang}/status")
    opened = sqlite_client.post(f"/{lang}/status", data={"csrf_token": token, "receipt": receipt})
    html = opened.get_data(as_text=True)
    assert 'name="message"' in html
    typed += _assert_no_autocomplete(html, "conversation")
    assert typed >= 12
