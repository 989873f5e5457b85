"""The status page: what cannot be a receipt is told by its shape alone; what could be one gets one answer.

A person who typed five digits, or letters, is told so (and how many digits a receipt has) without a lookup.
Nothing on the page depends on which receipts exist unless the digits are exactly a stored receipt.
"""

from __future__ import annotations

import re
import secrets

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given

from intake.receipts import DIGITS, normalize_receipt
from tests.intake.helpers import TOKEN, check_status, csrf_token, receipt_of, submit
from tests.intake.test_properties import FIXTURES_OK, TEXT

NOT_FOUND = "Not found: there is no request with this receipt number."
FIELD_ERROR = re.compile(r'<p class="err" id="receipt-error" role="alert">([^<]+)</p>')


def ask(client: FlaskClient, typed: str, lang: str = "en") -> str:
    token = csrf_token(client, f"/{lang}/status")
    response = client.post(f"/{lang}/status", data={"csrf_token": token, "receipt": typed})
    assert response.status_code == 200, response.status_code
    return TOKEN.sub("", response.get_data(as_text=True))  # the page without its per-session token


def field_error(page: str) -> str | None:
    found = FIELD_ERROR.search(page)
    return found.group(1) if found else None


def other_receipt(receipt: str) -> str:
    """Thirty digits that differ from ``receipt`` in exactly its last digit."""
    digits = receipt.replace(" ", "")
    return digits[:-1] + str((int(digits[-1]) + 1) % 10)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12345", "You typed 5 digits, but a receipt number has 30 digits."),
        ("1", "You typed 1 digit, but a receipt number has 30 digits."),
        ("0" * 31, "You typed 31 digits, but a receipt number has 30 digits."),
        ("- - -", "You typed 0 digits, but a receipt number has 30 digits."),
        ("12345 abcde", "A receipt number has only digits, no letters. Please check what you typed."),
        ("1" * 29 + "O", "A receipt number has only digits, no letters. Please check what you typed."),
        ("   ", "Please type the number from your receipt."),
        ("1" * 121, "This is too long to be a receipt number. A receipt number has 30 digits."),
    ],
)  # fmt: skip
def test_what_cannot_be_a_receipt_is_named_plainly(sqlite_client: FlaskClient, typed: str, message: str) -> None:
    # When a person types something no receipt could ever be
    page = ask(sqlite_client, typed)
    # Then the field says what is wrong, tied to the field for screen readers, and no lookup answer is shown
    assert field_error(page) == message
    assert 'aria-invalid="true"' in page and 'aria-describedby="receipt-error receipt-hint"' in page
    assert 'id="answer"' not in page
    # And what was typed is not sent back (a near-miss of a receipt is almost the receipt)
    assert typed.strip() == "" or f'value="{typed}"' not in page


@pytest.mark.parametrize(("typed", "message"), [
    ("1", "Вы ввели 1 цифру, а в номере квитанции 30 цифр."),
    ("1" * 22, "Вы ввели 22 цифры, а в номере квитанции 30 цифр."),
    ("1" * 29, "Вы ввели 29 цифр, а в номере квитанции 30 цифр."),
    ("1" * 11, "Вы ввели 11 цифр, а в номере квитанции 30 цифр."),
    ("АБВ", "В номере квитанции только цифры, букв в нём нет. Проверьте, что вы ввели."),
])  # fmt: skip
def test_the_digit_count_reads_right_in_russian(sqlite_client: FlaskClient, typed: str, message: str) -> None:
    assert field_error(ask(sqlite_client, typed, "ru")) == message


# Headers whose value could tell a stored receipt from another: everything but the date and the session's
# own cookie value (compared by name and flags: a new session cookie on one answer and not another would tell).
_SAME_HEADERS_EXCEPT = {"date", "set-cookie"}


def whole_answer(client: FlaskClient, typed: str) -> tuple[int, dict[str, str], list[str], str]:
    """The whole response to checking ``typed``: status, headers, cookie names and flags, and the body without
    its per-session token (what was typed is never sent back, so it needs no masking)."""
    token = csrf_token(client, "/en/status")
    response = client.post("/en/status", data={"csrf_token": token, "receipt": typed})
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in _SAME_HEADERS_EXCEPT}
    cookies = sorted(re.sub(r"=[^;]*", "=…", c, count=1) for c in response.headers.getlist("Set-Cookie"))
    body = TOKEN.sub("", response.get_data(as_text=True))
    return response.status_code, headers, cookies, body


def test_a_well_formed_receipt_that_is_not_stored_gets_one_answer(client: FlaskClient) -> None:
    # Given one stored receipt
    receipt = receipt_of(submit(client))
    # When well-formed receipts that are not stored are checked: one digit off, random, in other scripts
    near = other_receipt(receipt)
    typed = [near, "1" * DIGITS, secrets.token_hex(15).translate(str.maketrans("abcdef", "012345")),
             "".join(chr(0x0660 + int(d)) for d in near), "-".join(near)]  # fmt: skip
    answers = [whole_answer(client, text) for text in typed]
    # Then every one gets the same whole response (status, headers, cookies, body), a "not found"
    assert all(answer == answers[0] for answer in answers[1:])
    status, _, _, body = answers[0]
    assert status == 200 and NOT_FOUND in body
    # And the stored one is found: the same comparison tells the two apart
    found = whole_answer(client, receipt)
    assert found != answers[0] and check_status(client, receipt).startswith("Received")


def test_not_found_is_not_styled_like_received(sqlite_client: FlaskClient) -> None:
    receipt = receipt_of(submit(sqlite_client))
    found = re.search(r'<p class="([^"]+)" role="status" id="answer">', ask(sqlite_client, receipt))
    missing = re.search(r'<p class="([^"]+)" role="status" id="answer">', ask(sqlite_client, other_receipt(receipt)))
    assert found and missing and found.group(1) != missing.group(1)
    assert ".answer.missing{" in (sqlite_client.get("/en/status").get_data(as_text=True))


def test_a_near_miss_of_a_real_receipt_looks_like_a_near_miss_of_nothing(sqlite_client: FlaskClient) -> None:
    # Given a stored receipt, and a random receipt that was never issued
    digits = receipt_of(submit(sqlite_client)).replace(" ", "")
    never = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    # Then dropping a digit, adding one, or changing the last one gives byte-identical pages for both
    for change in (lambda d: d[:-1], lambda d: d + "7", lambda d: d[:10] + "x" + d[10:], other_receipt):
        assert ask(sqlite_client, change(digits)) == ask(sqlite_client, change(never))


def test_a_shape_error_costs_no_lookup_and_no_rate_limit_token(sqlite_client: FlaskClient, sqlite_app: Flask) -> None:
    services = sqlite_app.extensions["intake"]
    calls: list[bytes] = []
    real = services.storage.receipt_status
    services.storage.receipt_status = lambda lookup: calls.append(lookup) or real(lookup)
    frozen = 1000.0
    services.status_limiter.clock = lambda: frozen
    for _ in range(services.config.circuit_per_minute * 3):
        assert field_error(ask(sqlite_client, "12345")) is not None
    assert calls == []
    assert ask(sqlite_client, "1" * DIGITS).count(NOT_FOUND) == 1 and len(calls) == 1


@FIXTURES_OK
@given(typed=TEXT)
def test_any_text_gets_a_field_error_or_a_lookup_never_both(sqlite_client: FlaskClient, typed: str) -> None:
    page = ask(sqlite_client, typed, "ru")
    error, answered = field_error(page), 'id="answer"' in page
    assert error is None or not answered
    assert answered == (normalize_receipt(typed.strip()) is not None)
    assert error is not None or answered
