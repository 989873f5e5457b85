"""Closing a connection without waiting in the event loop (a mixin of ``intake.circuit_worker.CircuitWorker``).

gunicorn closes a connection after its answer with ``close_graceful``: FIN, then up to 2 s reading what the
client still sends, then close, so that unread bytes do not make the kernel send a reset that destroys the
answer. It does that in its event loop, blocking it: twenty clients that never close their end stalled every
other visitor for 40 s. Here the lingering connection waits in the poller like any other, its bytes
discarded, for at most ``LINGER_SECONDS`` or ``LINGER_BYTES``; the worker's ``murder_pending`` closes the
expired ones, and a full worker closes lingering connections first to make room.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from typing import Any

LINGER_SECONDS = 2.0  # as gunicorn's close_graceful
LINGER_BYTES = 1024 * 1024
_READ_CHUNK = 64 * 1024


class LingeringClose:
    """Mixin for ``CircuitWorker`` (its ``poller`` and ``nr_conns``); ``_lingering`` maps a connection to
    [deadline, bytes discarded]."""

    poller: Any
    nr_conns: int
    _lingering: dict[Any, list[float]]

    def _linger(self, conn: Any) -> None:
        """Close ``conn`` after its answer: send FIN now, discard what the client still sends, close later.

        Closing a socket with unread bytes makes the kernel send a reset, which can destroy the answer
        before the client reads it (a 413 to a browser still sending its files). gunicorn lingers in
        ``close_graceful``, blocking its caller up to 2 s, and its caller is the event loop: here the
        lingering connection waits in the poller instead, like any other.
        """
        if conn in self._lingering:
            return
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
        try:
            conn.sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_READ, lambda _sock: self._on_linger_readable(conn))
        except (OSError, ValueError, KeyError):
            self.nr_conns -= 1
            with contextlib.suppress(OSError):
                conn.sock.close()
            return
        self._lingering[conn] = [time.monotonic() + LINGER_SECONDS, 0.0]

    def _on_linger_readable(self, conn: Any) -> None:
        state = self._lingering.get(conn)
        if state is None:
            return
        try:
            data = conn.sock.recv(_READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        state[1] += len(data)
        if not data or state[1] >= LINGER_BYTES:
            self._close_lingering(conn)

    def _close_lingering(self, conn: Any) -> None:
        if self._lingering.pop(conn, None) is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        with contextlib.suppress(OSError):
            conn.sock.close()

    def _expire_lingering(self, now: float) -> None:
        for conn in [c for c, (deadline, _) in self._lingering.items() if deadline <= now]:
            self._close_lingering(conn)
