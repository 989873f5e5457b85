"""Two small pieces of the circuit worker's I/O: a response without ``Server`` and ``Date`` lines, and a
socket stand-in whose reads end at a deadline."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from typing import Any

from gunicorn.http import wsgi as gunicorn_wsgi


class QuietResponse(gunicorn_wsgi.Response):  # type: ignore[misc]
    """gunicorn's response without its ``Server`` and ``Date`` lines (status and ``Connection`` stay)."""

    def default_headers(self) -> list[str]:
        return [line for line in super().default_headers() if not line.startswith(("Server:", "Date:"))]


def quiet(start_response: Any) -> None:
    """Make the gunicorn response behind ``start_response`` a ``QuietResponse`` (before it sends anything).

    gthread builds its ``Response`` inside ``handle_request`` with no hook to choose the class; the bound
    ``start_response`` is the one handle on it the WSGI layer gets.
    """
    response: Any = getattr(start_response, "__self__", None)
    if type(response) is gunicorn_wsgi.Response and not response.headers_sent:
        response.__class__ = QuietResponse


class DeadlineReader:
    """A socket stand-in for gunicorn's parser: ``recv`` gives up (as end of stream) at ``deadline``."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def recv(self, size: int) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return b""
        with contextlib.suppress(OSError, ValueError):
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if readable:
                return self.sock.recv(size)
        return b""
