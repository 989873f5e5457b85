"""Property tests: random, oversized and malformed input at every field and at the body never gives a 500."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.request_schema import REQUEST_FIELDS
from tests.intake.helpers import csrf_token, valid_fields

FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)
HUGE = st.integers(min_value=1, max_value=60_000).map(lambda n: "Ж" * n)
VALUE = st.one_of(st.none(), TEXT, HUGE, st.lists(TEXT, max_size=5),
                  st.sampled_from(["immediate", "20", "21", "-1", "0", "y", "on", "1e3", "٣"]))  # fmt: skip


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


@FIXTURES_OK
@given(
    body=st.binary(max_size=4000),
    content_type=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
                                  "multipart/form-data", "application/json", "text/plain", "",
                                  "application/x-www-form-urlencoded; charset=koi8-r"]),
    path=st.sampled_from(["/en/request", "/ru/status", "/en/", "/", "/xx/request"]),
    method=st.sampled_from(["POST", "PUT", "PATCH", "GET"]),
)  # fmt: skip
def test_malformed_bodies_never_500(sqlite_client: FlaskClient, body: bytes, content_type: str, path: str,
                                   method: str) -> None:  # fmt: skip
    response = sqlite_client.open(path, method=method, data=body, headers={"Content-Type": content_type})
    assert response.status_code < 500, response.status_code


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
    assert parts.status_code == 413
    assert sqlite_app.extensions["intake"].storage.pending_count() == 0
