"""One-time submission tokens (issue 19 item 2): a form is stored once, however often it is posted."""

from __future__ import annotations

import datetime
import threading

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select

from intake import once
from intake.tables import used_tokens
from tests.intake.helpers import ONCE, RECEIPT, form_tokens, receipt_of, valid_fields


def _pending(app: Flask) -> int:
    return int(app.extensions["intake"].storage.pending_count())


def test_back_and_reload_after_the_receipt_stores_nothing_and_shows_no_receipt(app: Flask, client: FlaskClient) -> None:
    # Given a form sent once, with its receipt shown
    body = {**form_tokens(client, "/ru/request"), **valid_fields()}
    first = client.post("/ru/request", data=body)
    receipt = receipt_of(first)
    assert _pending(app) == 1
    # When the browser posts the very same form again (Back + Reload, "resend")
    again = client.post("/ru/request", data=body)
    # Then nothing more is stored, and the page says so in the person's language, without any receipt
    assert _pending(app) == 1
    page = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "Ваша заявка уже отправлена" in page
    assert receipt not in page and receipt.replace(" ", "") not in page and RECEIPT.search(page) is None
    assert "Cache-Control" in again.headers and "no-store" in again.headers["Cache-Control"]


def test_the_english_page_and_a_new_form_still_go_through(app: Flask, client: FlaskClient) -> None:
    body = {**form_tokens(client, "/en/urgent"), **valid_fields()}
    receipt_of(client.post("/en/urgent", data=body))
    assert "Your request was already sent" in client.post("/en/urgent", data=body).get_data(as_text=True)
    # A fresh form page carries a fresh token: a person's second, deliberate request is stored.
    receipt_of(client.post("/en/urgent", data={**form_tokens(client, "/en/urgent"), **valid_fields()}))
    assert _pending(app) == 2


def test_a_double_tap_stores_one_envelope(app: Flask) -> None:
    # Given one form page, posted from several connections at the same moment (a double tap on slow Tor)
    client = app.test_client()
    body = {**form_tokens(client, "/en/request"), **valid_fields()}
    statuses: list[int] = []
    start = threading.Barrier(4)

    def post() -> None:
        own = app.test_client()
        own.set_cookie("intake_session", client.get_cookie("intake_session").value)  # type: ignore[union-attr]
        start.wait()
        statuses.append(own.post("/en/request", data=body).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one was stored and answered with a receipt, the others were told it was already sent
    assert sorted(statuses) == [200, 409, 409, 409]
    assert _pending(app) == 1


def test_a_form_shown_again_with_errors_keeps_its_token_and_stores_once(app: Flask, client: FlaskClient) -> None:
    tokens = form_tokens(client, "/en/request")
    wrong = client.post("/en/request", data={**tokens, **valid_fields(contact="")})
    assert wrong.status_code == 200 and ONCE.search(wrong.get_data(as_text=True)).group(1) == tokens["once"]  # type: ignore[union-attr]
    receipt_of(client.post("/en/request", data={**tokens, **valid_fields()}))
    assert client.post("/en/request", data={**tokens, **valid_fields()}).status_code == 409
    assert _pending(app) == 1


def test_every_form_page_gets_its_own_token(client: FlaskClient) -> None:
    seen = {form_tokens(client, path)["once"] for path in ["/en/request", "/ru/request", "/en/urgent"] * 5}
    assert len(seen) == 15 and all(once.is_token(token) for token in seen)


def test_the_memory_at_rest_is_a_keyed_hash_with_a_day(app: Flask, client: FlaskClient) -> None:
    tokens = form_tokens(client, "/en/request")
    receipt_of(client.post("/en/request", data={**tokens, **valid_fields()}))
    services = app.extensions["intake"]
    with create_engine(services.config.database_url).connect() as conn:
        rows = conn.execute(select(used_tokens)).all()
    assert len(rows) == 1
    digest, forget_after = bytes(rows[0].digest), rows[0].forget_after
    assert digest == once.token_digest(tokens["once"], services.once_key)
    assert tokens["once"].encode() not in digest and isinstance(forget_after, datetime.date)
    assert forget_after > datetime.date.today()


def test_expired_tokens_are_forgotten(app: Flask) -> None:
    storage = app.extensions["intake"].storage
    key = app.extensions["intake"].once_key
    old = storage_one_time(key, "a" * 22, datetime.date(2026, 1, 1))
    storage.seal_and_store(lambda _r: b"x" * 100, b"1" * 32, datetime.date(2026, 1, 1), 100, old)
    assert storage.token_used(old.digest)
    # A submission on a day after the old token's forget_after deletes it, in the same transaction.
    later = old.forget_after + datetime.timedelta(days=1)
    storage.seal_and_store(lambda _r: b"x" * 100, b"2" * 32, later, 100, storage_one_time(key, "b" * 22, later))
    assert not storage.token_used(old.digest)


def storage_one_time(key: bytes, token: str, day: datetime.date) -> object:
    from intake.storage import OneTime

    return OneTime(once.token_digest(token, key), once.forget_after(day, 6))


def test_the_page_cache_splices_the_token_where_a_fresh_render_puts_it(client: FlaskClient) -> None:
    first, second = client.get("/ru/request").get_data(as_text=True), client.get("/ru/request").get_data(as_text=True)
    a, b = ONCE.search(first), ONCE.search(second)
    assert a and b and a.group(1) != b.group(1)
    assert first.replace(a.group(1), "T").count("T") == second.replace(b.group(1), "T").count("T")
