"""The development server behind ``intake serve`` and the demo: Werkzeug, with no access log and no Server header.

``bind`` takes the port before anything is printed, so a taken port is one clear sentence
(``PortError``) instead of "Serving on …" followed by Werkzeug's own message and exit.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class PortError(Exception):
    """The address or port cannot be listened on; the message says which and why."""


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


def bind(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """Listen on host:port (0: any free port, see ``.port``), then hand the socket to Werkzeug."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
        try:
            listener.bind((host, port))
            listener.listen(128)
        except OSError as error:
            reason = "it is in use by another program" if port and error.errno == errno.EADDRINUSE else error.strerror
            raise PortError(f"Cannot listen on {host} port {port}: {reason}.") from None
        # Werkzeug duplicates the descriptor; ours closes when this block ends.
        return make_server(host, port, app, threaded=True, request_handler=QuietHandler, fd=listener.fileno())


def serve(app: Flask, host: str, port: int) -> None:
    bind(app, host, port).serve_forever()
