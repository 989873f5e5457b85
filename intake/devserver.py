"""The development server behind ``intake serve``: Werkzeug, with no access log and no Server header."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, run_simple


class QuietHandler(WSGIRequestHandler):
    """Logs nothing about requests (Werkzeug's log line holds the client address) and hides its version."""

    def log(self, type: str, message: str, *args: Any) -> None:
        return

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() in ("server", "date"):
            return
        super().send_header(keyword, value)


def serve(app: Flask, host: str, port: int) -> None:
    run_simple(host, port, app, threaded=True, request_handler=QuietHandler, use_reloader=False, use_debugger=False)
