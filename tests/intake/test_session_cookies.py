"""intake.app.SessionCookies signs and reads session cookies exactly as Flask's own interface does."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import BadSignature

from intake.app import SessionCookies


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
@given(token=st.text(max_size=60))
def test_cookies_are_flasks_own_both_ways(sqlite_app: Flask, token: str) -> None:
    ours, flasks = SessionCookies(), SecureCookieSessionInterface()
    assert isinstance(sqlite_app.session_interface, SessionCookies)
    for writer, reader in ((ours, flasks), (flasks, ours)):
        serializer = writer.get_signing_serializer(sqlite_app)
        assert serializer is not None
        cookie = serializer.dumps({"csrf_token": token})
        read = reader.get_signing_serializer(sqlite_app)
        assert read is not None and read.loads(cookie) == {"csrf_token": token}


def test_a_new_key_builds_a_new_serializer(sqlite_app: Flask) -> None:
    ours = SessionCookies()
    first = ours.get_signing_serializer(sqlite_app)
    assert ours.get_signing_serializer(sqlite_app) is first  # built once
    cookie = first.dumps({"a": 1}) if first else ""
    old_key = sqlite_app.secret_key
    sqlite_app.secret_key = b"another key entirely, 32 bytes!!"
    try:
        second = ours.get_signing_serializer(sqlite_app)
        assert second is not first and second is not None
        assert second.loads(second.dumps({"a": 1})) == {"a": 1}
        with pytest.raises(BadSignature):  # signed under the old key: refused
            second.loads(cookie)
    finally:
        sqlite_app.secret_key = old_key
