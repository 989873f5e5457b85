"""What the fast paths in front of Flask share (intake.fastpath, intake.status_fastpath): the visitor's CSRF
cookie read as werkzeug reads it, and a page sent with exactly the headers and cookie Flask would send, so
each fast path stays byte for byte its slow path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.http import dump_cookie, parse_cookie

from intake import csrf
from intake.headers import security_headers


class FastAnswers:
    def __init__(self, app: Flask, css: str) -> None:
        self._headers = list(security_headers(css).items())
        self._cookie_name = app.config["SESSION_COOKIE_NAME"]
        self._secure = bool(app.config["SESSION_COOKIE_SECURE"])
        self._samesite = app.config["SESSION_COOKIE_SAMESITE"]
        self._max_cookie = int(app.config["MAX_COOKIE_SIZE"])

    def cookie(self, environ: dict[str, Any]) -> str | None:
        """The visitor's CSRF cookie, if it has one of the right shape."""
        sent = parse_cookie(environ).get(self._cookie_name)
        return sent if csrf.is_cookie(sent) else None

    def cookie_or_new(self, environ: dict[str, Any]) -> tuple[str, str | None]:
        """The visitor's cookie, or a new one drawn for a visitor without one (then also the second value)."""
        cookie = self.cookie(environ)
        if cookie is not None:
            return cookie, None
        new = csrf.new_cookie()
        return new, new

    def page(self, start_response: Callable[..., Any], body: bytes, new_cookie: str | None = None, *,
             status: str = "200 OK", first: list[tuple[str, str]] | None = None) -> list[bytes]:  # fmt: skip
        """An HTML page (200 unless told) with the app's security headers, after ``first`` (headers the view
        sets, as Flask orders them: before its after_request hooks add theirs), and the new cookie if one was
        drawn."""
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))), *(first or []),
                   *self._headers]  # fmt: skip
        if new_cookie is not None:
            headers.append(("Set-Cookie", dump_cookie(self._cookie_name, new_cookie, path="/", secure=self._secure,
                                                      httponly=True, samesite=self._samesite,
                                                      max_size=self._max_cookie)))  # fmt: skip
        start_response(status, headers)
        return [body]
