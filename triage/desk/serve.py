"""Serving the desk: loopback only, a port the system picks, no request ever written to the terminal.

``start(app, state)`` binds 127.0.0.1 on a random free port, records the Host headers the desk answers
to, and serves in a background thread. ``RunningDesk.address`` is the one address with the one-time
code (good once), ``base`` the desk's root under its random prefix. The werkzeug request log is
silenced: nothing about a request reaches the terminal.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from triage.desk.state import DeskState

LOOPBACK = "127.0.0.1"


class QuietHandler(WSGIRequestHandler):
    timeout = 30  # a browser's idle pre-connected socket must not hold a worker thread forever

    def log(self, type: str, message: str, *args: object) -> None:
        """Nothing: no path, no query, no address reaches the terminal or a log."""


@dataclass
class RunningDesk:
    server: BaseWSGIServer
    thread: threading.Thread
    state: DeskState

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def origin(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def base(self) -> str:
        """The desk's root: every desk address starts with it (the random prefix is part of it)."""
        return f"{self.origin}/{self.state.prefix}"

    @property
    def address(self) -> str:
        """The address that opens the desk, with the one-time code ("" once it was used)."""
        return f"{self.base}/open?key={self.state.secret}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.state.lock()


def start(app: Flask, state: DeskState, *, port: int = 0) -> RunningDesk:
    """Serve ``app`` on loopback in a background thread; the port is free and chosen by the system."""
    server = make_server(LOOPBACK, port, app, threaded=True, request_handler=QuietHandler)
    chosen = server.server_port
    state.allowed_hosts = frozenset({f"{LOOPBACK}:{chosen}", f"localhost:{chosen}"})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.25}, daemon=True)
    thread.start()
    return RunningDesk(server, thread, state)
