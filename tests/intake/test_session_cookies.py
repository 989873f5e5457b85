"""intake keeps no Flask session: its only cookie is the random CSRF cookie (intake.csrf, issue 21 item 2)."""

from __future__ import annotations

from flask import Flask, session

from intake.app import NoSessions
from tests.intake.helpers import form_tokens, receipt_of, valid_fields


def test_no_session_is_read_or_written(sqlite_app: Flask) -> None:
    assert isinstance(sqlite_app.session_interface, NoSessions)
    # A cookie that looks like one of Flask's signed sessions is neither verified nor replaced
    with sqlite_app.test_request_context("/en/", headers={"Cookie": "intake_session=eyJ4IjoxfQ.abc.def"}):
        sqlite_app.preprocess_request()
        assert session.get("x") is None and not session
    client = sqlite_app.test_client()
    tokens = form_tokens(client, "/en/request")
    answer = client.post("/en/request", data={**tokens, **valid_fields()})
    receipt_of(answer)
    assert "Set-Cookie" not in answer.headers  # the POST sets nothing: the visitor's cookie stays as it was
