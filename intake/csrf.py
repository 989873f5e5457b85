"""Stateless CSRF tokens: a random cookie and a keyed-hash token bound to it (issue 21 item 2).

Flask-WTF kept the CSRF secret in Flask's signed session: every visitor's first page signed and set a
session cookie, every POST verified and decoded it, and the token itself was signed again (a sixth of the
journey's CPU). Here the cookie is only a random value (32 bytes, ``intake_session``, HttpOnly,
SameSite=Strict, Secure when configured) and the token in the page is

    <minute>.<BLAKE2b-144(minute "." cookie, key = a key derived from the instance secret)>

so checking it is one keyed hash and a constant-time comparison. The token is bound to the cookie (another
visitor's token fails), time-limited (``csrf_hours``, counted from the minute it was issued) and cannot be
made without the instance secret. What is checked is what Flask-WTF checked, in the same order: a token
is there, it is not expired, it matches this visitor's cookie, and over HTTPS the Referer is this origin.
The cookie holds nothing about the person and is never stored on the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, request
from flask_wtf.csrf import CSRFError
from wtforms import ValidationError
from wtforms.csrf.core import CSRF

COOKIE_BYTES = 32
_PERSON = b"intake-csrf"
_COOKIE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def csrf_key(instance_secret: bytes) -> bytes:
    return hashlib.blake2b(b"", key=instance_secret, person=_PERSON, digest_size=32).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_cookie() -> str:
    return _b64(secrets.token_bytes(COOKIE_BYTES))


def is_cookie(value: object) -> bool:
    return isinstance(value, str) and len(value) == 43 and set(value) <= _COOKIE_CHARS


def _mac(key: bytes, minute: str, cookie: str) -> str:
    return _b64(hashlib.blake2b(f"{minute}.{cookie}".encode("ascii"), key=key, digest_size=18).digest())


def make_token(key: bytes, cookie: str, minute: int) -> str:
    return f"{minute}.{_mac(key, str(minute), cookie)}"


class TokenError(ValueError):
    """Why a token was refused (the sentence Flask-WTF gives for the same case)."""


def check_token(key: bytes, cookie: str | None, token: object, now_minute: int, limit_minutes: int) -> None:
    """Raise TokenError unless ``token`` is a live token for ``cookie``."""
    if not token or not isinstance(token, str):
        raise TokenError("The CSRF token is missing.")
    if cookie is None:
        raise TokenError("The CSRF session token is missing.")
    minute, _, mac = token.partition(".")
    if not (minute.isascii() and minute.isdigit() and len(minute) <= 12 and mac):
        raise TokenError("The CSRF token is invalid.")
    if not -1 <= now_minute - int(minute) <= limit_minutes:  # (a clock a minute behind is not an attack)
        raise TokenError("The CSRF token has expired.")
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(key, minute, cookie).encode("ascii")):
        raise TokenError("The CSRF tokens do not match.")


def now_minute() -> int:
    return int(time.time() // 60)


def cookie_name() -> str:
    return str(current_app.config["SESSION_COOKIE_NAME"])


def visitor_cookie() -> str | None:
    """This visitor's CSRF cookie, if it sent a well-formed one."""
    value = request.cookies.get(cookie_name())
    return value if is_cookie(value) else None


def generate() -> str:
    """This request's token (one per request), drawing a cookie for a visitor who has none."""
    token = g.get("csrf_token")
    if token is None:
        cookie = visitor_cookie()
        if cookie is None:
            cookie = g.csrf_new_cookie = new_cookie()
        token = g.csrf_token = make_token(current_app.extensions["intake"].csrf_key, cookie, now_minute())
    return str(token)


def protect() -> None:
    """The check every POST passes before its view (raises CSRFError, which errors.py turns into a page)."""
    try:
        check_token(current_app.extensions["intake"].csrf_key, visitor_cookie(), request.form.get("csrf_token"),
                    now_minute(), current_app.config["WTF_CSRF_TIME_LIMIT"] // 60)  # fmt: skip
    except TokenError as error:
        raise CSRFError(str(error)) from None
    if request.is_secure:
        referrer = request.referrer
        if not referrer:
            raise CSRFError("The referrer header is missing.")
        if urlsplit(referrer).netloc != request.host:
            raise CSRFError("The referrer does not match the host.")
    g.csrf_valid = True


def set_cookie(response: Any) -> Any:
    """Give a visitor who got a token with a new cookie that cookie (after_request)."""
    cookie = g.get("csrf_new_cookie")
    if cookie is not None:
        config = current_app.config
        response.set_cookie(cookie_name(), cookie, httponly=True, samesite=config["SESSION_COOKIE_SAMESITE"],
                            secure=config["SESSION_COOKIE_SECURE"], path="/")  # fmt: skip
    return response


class StatelessCSRF(CSRF):  # type: ignore[misc]
    """WTForms' CSRF hook on the tokens above, for every form of intake (``IntakeForm``)."""

    def generate_csrf_token(self, csrf_token_field: Any) -> str:
        return generate()

    def validate_csrf_token(self, form: Any, field: Any) -> None:
        if g.get("csrf_valid", False):
            return  # checked before the view (protect), as Flask-WTF's CSRFProtect did
        try:
            check_token(current_app.extensions["intake"].csrf_key, visitor_cookie(), field.data, now_minute(),
                        current_app.config["WTF_CSRF_TIME_LIMIT"] // 60)  # fmt: skip
        except TokenError as error:
            raise ValidationError(str(error)) from None
