"""The form pages' GET served in front of Flask (issue 21 item 2).

A person's journey starts with the empty form page. Since issue 14 it is rendered once per language and
page (intake.pages) and only its CSRF and one-time tokens change; what remained was the framework around
it: Flask's request context, routing, the language preprocessor, Babel, the response object and its hooks,
several times the cost of joining the page. ``FastPath`` wraps the Flask app's WSGI callable and answers
exactly those requests itself: ``GET /<lang>/request`` and ``GET /<lang>/urgent``, no query string, once
Flask has rendered that page (the cache is primed by the first visitor). It does what the slow path does,
in the same order: reads the visitor's cookie the way werkzeug does, draws a cookie for a visitor without
one, makes the token bound to it (intake.csrf), draws the one-time token (intake.once), joins the page,
and sends the same status, headers and cookie. Anything else goes to Flask unchanged.

tests/intake/test_fastpath.py proves, for arbitrary requests, that the answer is byte for byte the answer
Flask gives (status, every header in order, body) under the same clock and random draws.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.http import dump_cookie, parse_cookie

from intake import csrf, once
from intake.headers import security_headers
from intake.pages import PAGES_KEY, join

_FORMS = {"request": "intake.request_form", "urgent": "intake.urgent_form"}


class FastPath:
    def __init__(self, app: Flask, slow: Callable[..., Iterable[bytes]], css: str) -> None:
        self.app = app
        self.slow = slow
        services = app.extensions["intake"]
        self._key = services.csrf_key
        self._routes = {f"/{lang}/{page}": (endpoint, lang) for lang in services.config.languages
                        for page, endpoint in _FORMS.items()}  # fmt: skip
        self._headers = list(security_headers(css).items())
        self._cookie_name = app.config["SESSION_COOKIE_NAME"]
        self._secure = bool(app.config["SESSION_COOKIE_SECURE"])
        self._samesite = app.config["SESSION_COOKIE_SAMESITE"]
        self._max_cookie = int(app.config["MAX_COOKIE_SIZE"])

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = self._routes.get(environ.get("PATH_INFO", ""))
        if route is None or environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
            return self.slow(environ, start_response)
        script_root = environ.get("SCRIPT_NAME", "").rstrip("/")
        cached = self.app.extensions.get(PAGES_KEY, {}).get((*route, script_root))
        if cached is None:
            return self.slow(environ, start_response)  # the first visitor's render primes the cache
        sent = parse_cookie(environ).get(self._cookie_name)
        cookie = sent if csrf.is_cookie(sent) else None
        new_cookie = None
        if cookie is None:
            cookie = new_cookie = csrf.new_cookie()
        token = csrf.make_token(self._key, cookie, csrf.now_minute())
        parts, order = cached
        body = join(parts, order, [token, once.new_token()]).encode("utf-8")
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))), *self._headers]
        if new_cookie is not None:
            headers.append(("Set-Cookie", dump_cookie(self._cookie_name, new_cookie, path="/", secure=self._secure,
                                                      httponly=True, samesite=self._samesite,
                                                      max_size=self._max_cookie)))  # fmt: skip
        start_response("200 OK", headers)
        return [body]
