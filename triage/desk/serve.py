"""Serving the desk: loopback only, a port the system picks, no request ever written to the terminal.

``start(app, state)`` binds 127.0.0.1 on a random free port, records the Host headers the desk answers
to, and serves in a background thread; ``address(state, port)`` is the one address with the secret.
The werkzeug request log is silenced: a path can hold a search over decrypted text.
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
    def address(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/open?key={self.state.secret}"

    @property
    def origin(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

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
