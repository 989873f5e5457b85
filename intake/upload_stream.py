"""The body of an upload, streamed to the app under a minimum rate and a total cap (issue 24).

A text request is small: ``CircuitWorker`` reads it whole in its event loop and hands it to a thread only
when it is complete, within a total deadline. A form with files is not: over Tor 50 MiB take minutes, and
holding it whole in memory is what the server must never do. For the two upload endpoints (``POST
/<lang>/request`` and ``POST /<lang>/status/message`` with ``multipart/form-data``) the worker therefore
reads only the head in its event loop and then gives the request a thread at once, with ``wsgi.input``
reading the socket through ``RateReader``:

* **a minimum rate instead of a total deadline**: on average at least ``min_rate`` bytes a second over
  any ``window`` seconds (``RateWindow``). A client that falls below it is cut: the read raises
  ``UploadTooSlow``. Bytes already waiting in the socket are never held against the client (a slow app is
  not a slow client): the rate is checked only when a read finds nothing to read.
* **a total cap**: a body announced above ``max_bytes`` is refused with 413 before a byte of it is read;
  one that somehow grew past it raises ``UploadTooLarge``. Content-Length is required (411 otherwise):
  browsers always send it for a form, and a chunked body has no size to check before reading.
* **bounded memory**: each read asks the socket for at most ``MAX_RECV`` bytes, and nothing here keeps
  what was read.

``UploadCut`` (the base of both) is what the app lets propagate: the ``upload`` code deletes what it
staged on any exception, and the worker then answers with its own short page and closes the connection,
without a traceback in the log. Everything here is pure or clock-injected, so it is tested without sleeping.
"""

from __future__ import annotations

import contextlib
import math
import select
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MiB = 1024 * 1024
MAX_RECV = 64 * 1024  # one read's bytes: a thread holds at most this much of an upload at a time
UPLOAD_ENDPOINTS = ("request", "status/message")  # under /<lang>/, as intake.views and intake.conversation route
MULTIPART = b"multipart/form-data"


class UploadCut(Exception):
    """Reading the upload stopped for good: the worker answers ``status`` itself and closes the connection."""

    status = 400


class UploadTooSlow(UploadCut):
    """Fewer than ``min_rate`` bytes a second arrived over the last ``window`` seconds."""

    status = 408


class UploadTooLarge(UploadCut):
    """More bytes than ``max_bytes`` arrived."""

    status = 413


class UploadTruncated(UploadCut):
    """The client closed its stream before the body's announced length arrived."""


@dataclass(frozen=True)
class UploadRules:
    min_rate: int = 4096  # bytes a second, on average over any window
    window: int = 30  # seconds
    max_bytes: int = 51 * MiB  # 50 MiB of files, plus the text fields and the multipart framing
    at_once: int = 4  # uploads in threads at once, per worker process

    def __post_init__(self) -> None:
        for name in ("min_rate", "window", "max_bytes", "at_once"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


def is_upload(method: bytes, target: bytes, content_type: bytes | None, languages: tuple[str, ...]) -> bool:
    """Whether a request head names one of the two upload endpoints with a multipart body.

    ``target`` is the request target as sent (a query string is ignored); ``content_type`` the header's
    value. Only the media type counts, case-insensitively, as werkzeug compares it.
    """
    if method != b"POST" or content_type is None:
        return False
    if content_type.partition(b";")[0].strip().lower() != MULTIPART:
        return False
    path = target.partition(b"?")[0]
    lang, slash, rest = path[1:].partition(b"/")
    if not path.startswith(b"/") or not slash:
        return False
    return lang.decode("latin-1") in languages and rest.decode("latin-1") in UPLOAD_ENDPOINTS


class RateWindow:
    """Has the stream kept ``min_rate`` on average over every ``window`` seconds since it started?

    ``record(n, now)`` notes n bytes arriving at ``now``; ``deadline()`` is the latest time by which more
    bytes must arrive, if none do before, for every window ending up to then to hold ``min_rate * window``
    bytes. The count before the stream started is 0, so its first window needs as much as any other.

    Arrivals are kept in slots of ``window / SLOTS`` seconds, so memory is bounded however the bytes come.
    A slot's bytes count from the slot's end: the check is never stricter than the exact one (a cut means
    the exact window held too little), and at most one slot's length more lenient.
    """

    SLOTS = 120

    def __init__(self, min_rate: float, window: float, start: float) -> None:
        self.need = min_rate * window  # bytes every window must hold
        self.window = window
        self.slot = window / self.SLOTS
        self.start = start
        self.total = 0
        # (slot start, total bytes received up to and including this slot), oldest first
        self._marks: deque[tuple[float, int]] = deque()

    def record(self, nbytes: int, now: float) -> None:
        if nbytes <= 0:
            return
        self.total += nbytes
        stamp = self.start + max(1, math.ceil((now - self.start) / self.slot)) * self.slot
        if self._marks and self._marks[-1][0] >= stamp:
            self._marks[-1] = (self._marks[-1][0], self.total)
        else:
            self._marks.append((stamp, self.total))
        # A mark older than a window matters only as the count at the start of the current window: keep the
        # newest such mark, drop the ones before it (a deadline they would give is in the past either way).
        horizon = now - self.window
        while len(self._marks) > 1 and self._marks[1][0] <= horizon:
            self._marks.popleft()

    def received_by(self, moment: float) -> int:
        """Bytes counted at ``moment`` (0 before the start)."""
        count = 0
        for stamp, total in self._marks:
            if stamp > moment:
                break
            count = total
        return count

    def deadline(self) -> float:
        """When the window ending then would hold fewer than ``need`` bytes, if nothing more arrives.

        The window ending at T holds ``total - received_by(T - window)`` bytes; ``received_by`` only grows
        with T, so the answer is ``window`` after the first moment the count exceeded ``total - need``
        (the stream's start, if the whole total is less than ``need``).
        """
        floor = self.total - self.need
        if floor < 0:
            return self.start + self.window
        for stamp, total in self._marks:
            if total > floor:
                return stamp + self.window
        return math.inf  # (unreachable: the last mark holds the total, which exceeds total - need)


class RateReader:
    """A socket stand-in for gunicorn's body reader: ``recv`` under the upload's rate and cap.

    ``already`` bytes of the body came with the head (read by the event loop); they count as arriving at
    ``start``. A ``recv`` that finds nothing waiting waits at most until the rate's deadline, then raises
    ``UploadTooSlow``; the end of the stream before ``length`` bytes raises ``UploadTruncated`` (so the app
    never mistakes a cut body for a whole one).
    """

    def __init__(self, sock: socket.socket, rules: UploadRules, already: int = 0, length: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.sock = sock
        self.rules = rules
        self.length = length
        self.clock = clock
        self.window = RateWindow(rules.min_rate, rules.window, clock())
        self.window.record(already, self.window.start)
        self.cut: UploadCut | None = None  # set once a read was cut (the worker answers for it)

    def _fail(self, error: UploadCut) -> UploadCut:
        self.cut = error
        return error

    def recv(self, size: int) -> bytes:
        if self.cut is not None:
            raise self.cut
        if self.window.total > self.rules.max_bytes:
            raise self._fail(UploadTooLarge("the upload is larger than the server takes"))
        remaining = self.window.deadline() - self.clock()
        try:
            readable, _, _ = select.select([self.sock], [], [], max(0.0, remaining))
        except (OSError, ValueError):
            return b""
        if not readable:
            raise self._fail(UploadTooSlow("the upload arrived too slowly"))
        data = b""
        with contextlib.suppress(OSError):
            data = self.sock.recv(min(size, MAX_RECV))
        if not data and self.length is not None and self.window.total < self.length:
            raise self._fail(UploadTruncated("the upload ended before its length"))
        self.window.record(len(data), self.clock())
        if self.window.total > self.rules.max_bytes:
            raise self._fail(UploadTooLarge("the upload is larger than the server takes"))
        return data


def upload_refusal(content_length: int | None, chunked: bool, rules: UploadRules) -> tuple[int, str] | None:
    """The status (and fixed reason) an upload head is refused with before its body is read, or None.

    Length Required for a chunked body or one without a length (nothing to check the cap against before
    reading); 413 for a body announced above the cap, answered without reading a byte of it.
    """
    if chunked or content_length is None:
        return 411, "an upload without a content-length"
    if content_length > rules.max_bytes:
        return 413, "an upload over the size cap"
    return None
