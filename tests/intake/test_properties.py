"""Property tests: random, oversized and malformed input at every field and at the body never gives a 500."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.request_schema import REQUEST_FIELDS
from intake.forms import form_integer
from tests.intake.helpers import OTHER_DIGITS, csrf_token, other_digit_strategy, receipt_of, valid_fields

FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)
HUGE = st.integers(min_value=1, max_value=60_000).map(lambda n: "Ж" * n)
VALUE = st.one_of(st.none(), TEXT, HUGE, st.lists(TEXT, max_size=5), other_digit_strategy(),
                  st.sampled_from(["immediate", "20", "21", "-1", "0", "y", "on", "1e3", *OTHER_DIGITS]))  # fmt: skip
FORM_TYPE = "application/x-www-form-urlencoded"


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


@FIXTURES_OK
@given(changes=st.dictionaries(st.sampled_from(REQUEST_FIELDS), VALUE, max_size=len(REQUEST_FIELDS)),
       lang=st.sampled_from(["en", "ru"]), with_token=st.booleans())  # fmt: skip
def test_random_values_at_every_field_never_500(sqlite_client: FlaskClient, changes: dict[str, Any], lang: str,
                                                with_token: bool) -> None:  # fmt: skip
    data = _clean(valid_fields(**changes))
    if with_token:
        data["csrf_token"] = csrf_token(sqlite_client, f"/{lang}/request")
    response = sqlite_client.post(f"/{lang}/request", data=data)
    assert 200 <= response.status_code < 500, response.status_code
    assert response.status_code in (200, 400, 413, 429)


@FIXTURES_OK
@given(extra=st.dictionaries(TEXT, TEXT, max_size=80))
def test_unknown_and_repeated_fields_never_500(sqlite_client: FlaskClient, extra: dict[str, str]) -> None:
    data = {**extra, **valid_fields(), "csrf_token": csrf_token(sqlite_client, "/en/request")}
    response = sqlite_client.post("/en/request", data=data)
    assert response.status_code in (200, 400, 413, 429)


CONTENT_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "multipart/form-data",
                 "application/json", "text/plain", "", "application/x-www-form-urlencoded; charset=koi8-r",
                 "multipart/mixed; boundary=xyz", "application/octet-stream", "text/xml", "image/png",
                 "application/x-www-form-urlencoded-extra", "Application/X-WWW-Form-Urlencoded", "*/*",
                 "multipart/form-data; boundary=\"a b\"; charset=utf-8", "application/x-url-encoded"]  # fmt: skip


def _is_form_type(content_type: str) -> bool:
    from werkzeug.http import parse_options_header

    return parse_options_header(content_type)[0].lower() == FORM_TYPE


@FIXTURES_OK
@given(
    body=st.one_of(st.binary(max_size=4000), st.just(b"--xyz\r\nContent-Disposition: form-data; name=\"story\"; "
                                                     b"filename=\"a.txt\"\r\n\r\nfile\r\n--xyz--\r\n")),
    content_type=st.sampled_from(CONTENT_TYPES),
    path=st.sampled_from(["/en/request", "/ru/status", "/en/", "/", "/xx/request"]),
    method=st.sampled_from(["POST", "PUT", "PATCH", "GET"]),
    with_token=st.booleans(),
)  # fmt: skip
def test_malformed_bodies_never_500(sqlite_client: FlaskClient, body: bytes, content_type: str, path: str,
                                   method: str, with_token: bool) -> None:  # fmt: skip
    if with_token:  # a valid session and token, so the body is what decides
        token = csrf_token(sqlite_client, "/en/request")
        body = b"csrf_token=" + token.encode() + b"&" + body
    response = sqlite_client.open(path, method=method, data=body, headers={"Content-Type": content_type})
    assert response.status_code < 500, response.status_code
    takes_files = path == "/en/request" and content_type.lower().startswith("multipart/form-data")  # (issue 24)
    if method == "POST" and path in ("/en/request", "/ru/status") and not _is_form_type(content_type) and \
            not takes_files:  # fmt: skip
        # Issue 9 item 4: only our pages' own kind of body, anything else a clear 4xx page of ours
        assert response.status_code == 415, (content_type, response.status_code)
        assert "This page could not read what was sent" in response.get_data(as_text=True) or path.startswith("/ru")


def test_a_file_in_a_text_field_gets_a_clear_415_and_stores_nothing(sqlite_client: FlaskClient,
                                                                    sqlite_app: Flask) -> None:  # fmt: skip
    # Given a valid session, token and request, with the story sent as an uploaded file (multipart)
    token = csrf_token(sqlite_client, "/ru/request")
    data: dict[str, Any] = {"csrf_token": token, **valid_fields(story=None)}
    data["story"] = (io.BytesIO("Мой рассказ".encode()), "story.txt")
    response = sqlite_client.post("/ru/request", data=data, content_type="multipart/form-data")
    # Then the person gets our page in their language saying what to do, and nothing is stored
    assert response.status_code == 415
    html = response.get_data(as_text=True)
    assert "Не удалось прочитать то, что было отправлено" in html and "файлы к ней не прикрепить" in html
    assert sqlite_app.extensions["intake"].storage.pending_count() == 0
    # And the same answers, as the page itself sends them, get a receipt
    receipt_of(sqlite_client.post("/ru/request", data={"csrf_token": token, **valid_fields()}))


@pytest.mark.parametrize("digit", OTHER_DIGITS)
def test_digits_of_other_kinds_are_refused_at_people_and_children(sqlite_client: FlaskClient, sqlite_app: Flask,
                                                                  digit: str) -> None:  # fmt: skip
    # Issue 14 item 3: people=² with children=1 was a 500 ('²'.isdigit() is true, int('²') raises)
    token = csrf_token(sqlite_client, "/en/request")
    changes_tried = ({"people": digit, "children": "1"}, {"people": "3", "children": digit},
                     {"people": digit, "children": digit}, {"people": "1" + digit}, {"children": digit + "0"})
    for changes in changes_tried:
        response = sqlite_client.post("/en/request", data={"csrf_token": token, **valid_fields(**changes)})
        assert response.status_code == 200, (changes, response.status_code)
        assert "Please choose a number from" in response.get_data(as_text=True), changes
    assert sqlite_app.extensions["intake"].storage.pending_count() == 0


@FIXTURES_OK
@given(people=st.one_of(other_digit_strategy(), st.sampled_from(["3"])), children=other_digit_strategy())
def test_any_non_ascii_digits_never_500_and_never_seal(sqlite_client: FlaskClient, sqlite_app: Flask, people: str,
                                                      children: str) -> None:  # fmt: skip
    token = csrf_token(sqlite_client, "/en/request")
    response = sqlite_client.post("/en/request", data={"csrf_token": token,
                                                       **valid_fields(people=people, children=children)})  # fmt: skip
    assert response.status_code == 200 and 'id="receipt"' not in response.get_data(as_text=True)


@FIXTURES_OK
@given(receipt=TEXT)
def test_random_receipts_never_500(sqlite_client: FlaskClient, receipt: str) -> None:
    token = csrf_token(sqlite_client, "/ru/status")
    response = sqlite_client.post("/ru/status", data={"csrf_token": token, "receipt": receipt})
    assert response.status_code in (200, 400, 429)


def test_oversized_body_and_too_many_parts_are_refused(sqlite_client: FlaskClient, sqlite_app: Flask) -> None:
    token = csrf_token(sqlite_client, "/en/request")
    big = sqlite_client.post("/en/request", data={"csrf_token": token, "story": "x" * 300_000})
    assert big.status_code == 413 and "What you sent is too large" in big.get_data(as_text=True)
    many = {f"f{n}": "v" for n in range(500)}
    parts = sqlite_client.post("/en/request", data={"csrf_token": token, **many},
                               content_type="multipart/form-data")  # fmt: skip
    assert parts.status_code == 413, "too many parts: refused while reading, nothing kept (intake.multipart)"
    status = sqlite_client.post("/en/status", data={"csrf_token": token, **many}, content_type="multipart/form-data")
    assert status.status_code == 415, "where no file is taken, multipart is refused before its parts are parsed"
    assert sqlite_app.extensions["intake"].storage.pending_count() == 0


@given(text=st.one_of(TEXT, other_digit_strategy(), st.from_regex(r"\s*[0-9]{1,4}\s*", fullmatch=True)))
def test_form_integer_reads_ascii_digits_only(text: str) -> None:
    # The one parser of numbers on the form: 1-3 ASCII digits (spaces around them forgiven), else None
    expected = int(text.strip()) if re.fullmatch(r"[0-9]{1,3}", text.strip()) else None
    assert form_integer(text) == expected
