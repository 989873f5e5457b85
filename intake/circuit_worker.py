"""``CircuitWorker``: gunicorn's threaded worker, made to hold up against slow, silent and flooding Tor streams.

gunicorn's gthread worker hands a connection to a thread as soon as it is readable, and the thread then
blocks reading the rest of the request. A Tor stream that sends only tor's PROXY line and then nothing held
a thread for as long as it stayed open: sixteen such streams (one circuit was enough) stopped the intake.
This worker changes four things:

* **No thread waits for a client** (but an upload's, bounded by its rate and by the uploads' share of the
  threads: below). The event loop reads each request into memory (``request_buffer``)
  and hands it to a thread only when its head and body are complete. The thread parses bytes already in
  memory; a deadline reader bounds any read it still makes, and a socket timeout bounds the reply.
* **Deadlines.** tor writes the PROXY line as it opens the stream: it must arrive within
  ``PROXY_LINE_SECONDS``. A request head must be complete ``HEAD_SECONDS`` after the connection opened (or,
  on a kept-alive connection, after its first byte), and its body ``BODY_SECONDS`` after the head.
  A connection that misses a deadline is closed; it never held more than a file descriptor.
* **Room for the next visitor.** When a worker's connections are all taken, the longest-waiting incomplete
  request is closed to make room (gthread alone would stop accepting until a deadline freed a slot).
* **Per-circuit caps** (per worker process): at most ``STREAMS_PER_CIRCUIT`` open connections, and at most
  ``THREADS_PER_CIRCUIT`` requests in threads at once. A circuit's further complete requests wait in its
  own queue, so one circuit cannot occupy the thread pool while other circuits' requests wait.
* **tor's circuit on every request**, and no ``Date`` or ``Server`` header (the clock to the second is a
  fingerprint of the server; the software name is nobody's business).
* **Uploads are streamed, a valid form goes first** (``intake.upload_admission``): a form with files gets a
  thread once its head is in and the app reads its body under a minimum rate and a cap (one per circuit, a
  few per worker); when every thread is busy, a POST with a live CSRF token waits in front of the others.
* **Closing never waits in the event loop** (``intake.lingering``).

The circuit id is kept in memory only and never logged. Every log line names an error type, nothing else.
"""

from __future__ import annotations

import contextlib
import math
import selectors
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.http.errors import InvalidProxyLine
from gunicorn.workers.gthread import ThreadWorker

from intake.config import IntakeConfig
from intake.lingering import LingeringClose
from intake.priority import RunQueue
from intake.proxy_protocol import (
    MAX_LINE_BYTES,
    ProxyHeaderError,
    circuit_from_proxy_info,
    parse_tor_proxy_line,
    refusal_status,
    with_circuit,
)
from intake.refusal import refusal_response
from intake.request_buffer import FramingLimits, HeadFacts, RefusedRequest, body_end, head_end, read_head
from intake.upload_admission import UploadAdmission
from intake.upload_stream import RateReader, UploadCut, is_upload
from intake.worker_io import DeadlineReader, quiet

_READ_CHUNK = 64 * 1024
LOG_EVERY_SECONDS = 10.0
STOP_LINGER_SECONDS = 2.0  # gunicorn's gthread keeps kept-alive connections this long when stopping
SWEEP_SECONDS = 0.05  # how often expired deadlines are looked for (see murder_pending)


@dataclass
class Pending:
    """A connection whose next request is being read by the event loop."""

    deadline: float
    data: bytearray = field(default_factory=bytearray)
    start: int = 0  # where the HTTP request begins (after the PROXY line on a connection's first request)
    scanned: int = 0  # how far the search for the end of the head has looked
    end: int = -1  # where the request ends, once its head is complete
    oversized: bool = False  # a body longer than the app reads: close the connection after the answer
    refuse: int = 0  # answer with this status once the head is in (so the client can read the answer)
    facts: HeadFacts | None = None  # the head's facts, once it is complete
    body_start: int = 0  # where the body begins, once the head is complete


class CircuitWorker(UploadAdmission, LingeringClose, ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker: whole requests only reach threads, with tor's circuit on every one."""

    PROXY_LINE_SECONDS = 5.0
    HEAD_SECONDS = 20.0
    BODY_SECONDS = 60.0
    REPLY_SECONDS = 30.0
    STREAMS_PER_CIRCUIT = 6
    THREADS_PER_CIRCUIT = 2

    _CONN_ATTRIBUTE = "intake_circuit"
    wsgi: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._current = threading.local()
        # Event-loop state, touched only by the worker's main thread (gthread runs every callback there).
        self._pending: dict[Any, Pending] = {}
        self._streams: dict[str, set[Any]] = {}
        self._running: dict[str, int] = {}
        self._waiting: dict[str, deque[Any]] = {}
        self._framing: FramingLimits | None = None
        self._uploads: dict[str, Any] = {}  # circuit -> its upload's connection (one per circuit)
        self._held: dict[str, Any] = {}  # circuit -> a second upload waiting for the first to end
        self._runq: RunQueue[Any] = RunQueue()  # complete requests waiting for a thread
        self._busy = 0  # requests handed to the thread pool and not finished
        self._lingering: dict[Any, list[float]] = {}  # connection -> [deadline, bytes discarded]
        self._checker: Any = None
        self._warned: dict[str, tuple[float, int]] = {}  # message -> (last logged, suppressed since)
        self._next_sweep = 0.0  # when murder_pending next looks for expired deadlines

    # --- the app ---------------------------------------------------------------------------------------

    def load_wsgi(self) -> None:
        super().load_wsgi()

        def current() -> str | None:
            return getattr(self._current, "circuit", None)

        inner = with_circuit(self.wsgi, current)

        def quiet_app(environ: dict[str, Any], start_response: Any) -> Any:
            quiet(start_response)
            reader = getattr(self._current, "reader", None)
            if reader is None:
                return inner(environ, start_response)
            return self._serve_upload(inner, reader, environ, start_response)

        quiet_app.intake_app = inner.intake_app  # type: ignore[attr-defined]
        self.wsgi = quiet_app

    def _config(self) -> IntakeConfig | None:
        state = getattr(getattr(self.wsgi, "intake_app", None), "extensions", {}).get("intake")
        return state.config if state is not None else None

    def _limits(self) -> FramingLimits:
        if self._framing is not None:
            return self._framing
        cfg = self.cfg
        head = cfg.limit_request_line + 2 + cfg.limit_request_fields * (cfg.limit_request_field_size + 2) + 2
        config = self._config()
        self._framing = FramingLimits(head, config.max_body_bytes if config else IntakeConfig.max_body_bytes)
        return self._framing

    def _exit_url(self) -> str:
        config = self._config()
        return config.exit_url if config else IntakeConfig.exit_url

    # --- reading requests in the event loop ------------------------------------------------------------

    def enqueue_req(self, conn: Any) -> None:
        """Every way a connection reaches gunicorn's thread pool passes here: read its request first."""
        now = time.monotonic()
        first = getattr(conn, self._CONN_ATTRIBUTE, None) is None
        pending = Pending(now + (self.PROXY_LINE_SECONDS if first else self.HEAD_SECONDS))
        parser = getattr(conn, "parser", None)
        if parser is not None:  # bytes gunicorn read ahead (a pipelined request) come first
            pending.data += parser.unreader.take_buffered()
        self._pending[conn] = pending
        conn.sock.setblocking(False)
        # The request is usually there already (tor writes the PROXY line and the request together; a kept-
        # alive stream comes here because it became readable): read it now and skip the poller round trip.
        self._on_readable(conn)
        if conn in self._pending:
            self.poller.register(conn.sock, selectors.EVENT_READ, lambda _sock: self._on_readable(conn))
        if first and self.nr_conns >= self.worker_connections - 1:
            self._evict_oldest(but=conn)

    def _evict_oldest(self, but: Any) -> None:
        """Free a connection slot for the next visitor: close the longest-waiting incomplete request.

        gthread stops accepting at ``worker_connections``; a flood of slow streams from many circuits would
        then keep everyone else out until their deadlines. Streams whose head is still incomplete go first
        (silent and slowloris streams); a body still uploading is closed only if there is nothing else.
        """
        lingering = next(iter(self._lingering), None)
        if lingering is not None:
            self._close_lingering(lingering)
            return
        victim = next((c for c, p in self._pending.items() if c is not but and p.end < 0), None)
        victim = victim or next((c for c in self._pending if c is not but), None)
        if victim is not None:
            self._warn("closed the longest-waiting incomplete request: the worker is full")
            self._drop(victim)

    def _on_readable(self, conn: Any) -> None:
        pending = self._pending.get(conn)
        if pending is None:
            return
        try:
            chunk = conn.sock.recv(_READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            chunk = None
        except OSError:
            chunk = b""
        if chunk == b"":  # the client went away before its request was complete
            self._drop(conn)
            return
        if chunk or pending.data:  # (bytes read ahead by gunicorn count even when the socket had none)
            pending.data += chunk or b""
            self._advance(conn, pending)

    def _advance(self, conn: Any, pending: Pending) -> None:
        if (getattr(conn, self._CONN_ATTRIBUTE, None) is None and not pending.refuse
                and not self._take_proxy_line(conn, pending)):  # fmt: skip
            return
        limits = self._limits()
        try:
            if pending.end < 0:  # the head is not complete yet: look only at what is new
                end_of_head = head_end(pending.data, pending.start, limits, pending.scanned)
                pending.scanned = len(pending.data)
                if end_of_head < 0:
                    return
                if pending.refuse:
                    raise RefusedRequest(pending.refuse, ProxyHeaderError.__name__)
                pending.facts = facts = read_head(bytes(pending.data[pending.start : end_of_head]))
                pending.body_start = end_of_head
                # A form posted with no file (or a small one) is short: read whole here like any text body, so
                # it never takes an upload slot (a browser posts the form as multipart whether a file is chosen
                # or not); only a body past the text bound is streamed under the upload rules.
                small = (facts.content_length is not None and not facts.transfer_encoding
                         and facts.content_length <= limits.max_body_bytes)  # fmt: skip
                if not small and is_upload(facts.method, facts.target, facts.content_type, self._languages()):
                    self._start_upload(conn, pending, facts)
                    return
                pending.end, pending.oversized = body_end(facts, end_of_head, limits)
                pending.deadline = time.monotonic() + self.BODY_SECONDS
        except RefusedRequest as refused:
            self._refuse(conn, pending.refuse or refused.status, str(type(refused).__name__))
            return
        if len(pending.data) < pending.end:
            return
        conn.intake_close_after = pending.oversized
        self._unwatch(conn)
        conn.intake_request = bytes(pending.data)
        conn.intake_first = self._busy >= self.cfg.threads and self._valid_post(conn, pending)
        self._dispatch(conn)

    def _take_proxy_line(self, conn: Any, pending: Pending) -> bool:
        """Read tor's PROXY line off a new connection; False when it is not there (yet, or ever)."""
        end = pending.data.find(b"\n", 0, MAX_LINE_BYTES)
        if end < 0:
            if len(pending.data) >= MAX_LINE_BYTES:
                self._refuse(conn, 400, ProxyHeaderError.__name__)
            return False
        try:
            circuit = parse_tor_proxy_line(bytes(pending.data[: end + 1]))
        except ProxyHeaderError:
            # Not from tor. Read the rest of the head (within the deadline) before answering 400: a
            # client whose request is still being sent would otherwise lose the answer.
            pending.refuse = 400
            pending.start = end + 1 if pending.data.startswith(b"PROXY ") else 0
            return True
        streams = self._streams.setdefault(circuit, set())
        streams.difference_update([c for c in streams if c.sock.fileno() < 0])
        if len(streams) >= self.STREAMS_PER_CIRCUIT:
            self._warn("closed a stream over the per-circuit cap")
            self._drop(conn)
            return False
        streams.add(conn)
        setattr(conn, self._CONN_ATTRIBUTE, circuit)
        # gunicorn parses the PROXY line itself (proxy_protocol = "v1"): the bytes stay in the request.
        pending.start = end + 1
        pending.deadline = max(pending.deadline, time.monotonic()) - self.PROXY_LINE_SECONDS + self.HEAD_SECONDS
        return True

    def _warn(self, message: str) -> None:
        """Log ``message`` (fixed text, never client data) at most every 10 s: a flood must not flood the log."""
        now = time.monotonic()
        last, suppressed = self._warned.get(message, (-math.inf, 0))
        if now - last < LOG_EVERY_SECONDS:
            self._warned[message] = (last, suppressed + 1)
            return
        self._warned[message] = (now, 0)
        self.log.warning("%s%s", message, f" (and {suppressed} more like it)" if suppressed else "")

    def _unwatch(self, conn: Any) -> None:
        self._pending.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _drop(self, conn: Any) -> None:
        self._unwatch(conn)
        self.nr_conns -= 1
        with contextlib.suppress(OSError):
            conn.sock.close()

    def _refuse(self, conn: Any, status: int, reason: str, *, upload: bool = False) -> None:
        self._warn(f"refused a request before the app: {reason}")
        with contextlib.suppress(OSError):
            conn.sock.send(refusal_response(status, self._exit_url(), upload=upload))
        self._unwatch(conn)
        self._linger(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        # gthread calls this after every event: under load, sweeping every table each time was 3 % of a
        # journey's CPU. Deadlines are seconds long; a sweep every SWEEP_SECONDS is as good.
        if now < self._next_sweep and self.alive:
            return
        self._next_sweep = now + SWEEP_SECONDS
        if not self.alive:
            # A stopping worker (max_requests, a reload) still answers a request that is arriving, as
            # gunicorn does for kept-alive connections, but waits for no request for long.
            for pending in self._pending.values():
                pending.deadline = min(pending.deadline, now + STOP_LINGER_SECONDS)
        for conn in [c for c, p in self._pending.items() if p.deadline <= now]:
            self._drop(conn)
        self._expire_lingering(now)
        self._expire_held(now)
        for circuit in [k for k, conns in self._streams.items() if all(c.sock.fileno() < 0 for c in conns)]:
            del self._streams[circuit]

    # --- fair dispatch to threads ----------------------------------------------------------------------

    def _dispatch(self, conn: Any) -> None:
        circuit = getattr(conn, self._CONN_ATTRIBUTE)
        if self._running.get(circuit, 0) >= self.THREADS_PER_CIRCUIT:
            self._waiting.setdefault(circuit, deque()).append(conn)
            return
        self._running[circuit] = self._running.get(circuit, 0) + 1
        self._runq.push(conn, bool(getattr(conn, "intake_first", False)))
        self._pump()

    def _pump(self) -> None:
        """Hand waiting requests to free threads (the thread pool's own queue stays empty: ours orders them)."""
        while self._busy < self.cfg.threads:
            conn = self._runq.pop()
            if conn is None:
                return
            self._busy += 1
            conn.data_ready = True  # gthread would otherwise wait for the socket to be readable again
            super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self._busy -= 1
        circuit = getattr(conn, self._CONN_ATTRIBUTE, None)
        if circuit is not None:
            self._upload_ended(circuit, conn)
        if circuit is not None and circuit in self._running:
            self._running[circuit] -= 1
            if self._running[circuit] <= 0:
                del self._running[circuit]
            waiting = self._waiting.get(circuit)
            if waiting:
                self._dispatch(waiting.popleft())
                if not waiting:
                    del self._waiting[circuit]
        self._pump()
        try:
            keep = fs.result() if not fs.cancelled() else False
        except Exception:  # (handle() catches what a request raises; this is gthread's own fallback)
            keep = False
        if not keep:
            self._linger(conn)
            return
        super().finish_request(conn, fs)

    # --- in a thread -----------------------------------------------------------------------------------

    def handle(self, conn: Any) -> Any:
        request = getattr(conn, "intake_request", None)
        if request is not None:
            conn.intake_request = None
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(request)
            upload = getattr(conn, "intake_upload", None)
            conn.intake_upload = None
            if upload is not None:  # the body is read from here on, under the upload's rate and cap
                conn.intake_reader = RateReader(conn.sock, *upload)
                conn.parser.unreader.sock = conn.intake_reader
            else:
                conn.intake_reader = None
                conn.parser.unreader.sock = DeadlineReader(conn.sock, time.monotonic() + self.BODY_SECONDS)
        return super().handle(conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        # gunicorn's own answer is an English page echoing the request line, without our headers, and its
        # log line names the peer and repeats the raw request. Ours: a fixed bilingual page, and a log line
        # with the error's type only.
        if isinstance(exc, UploadCut):  # the upload's stream was cut (too slow, too large): our page, no trace
            self._warn(f"cut an upload: {type(exc).__name__}")
            with contextlib.suppress(OSError):
                gunicorn_util.write_nonblock(client, refusal_response(exc.status, self._exit_url(), upload=True))
            return
        self._warn(f"refused a request before the app: {type(exc).__name__}")
        with contextlib.suppress(OSError):
            gunicorn_util.write_nonblock(client, refusal_response(refusal_status(exc), self._exit_url()))

    def handle_request(self, req: Any, conn: Any) -> Any:
        circuit = getattr(conn, self._CONN_ATTRIBUTE, None)
        try:
            # gunicorn parsed the PROXY line (if any) with the connection's first request only; it must
            # name the circuit the event loop read, or the connection did not come from tor.
            if req.req_number == 1 and circuit_from_proxy_info(getattr(req, "proxy_protocol_info", None)) != circuit:
                raise ProxyHeaderError("gunicorn and the worker read different circuits")
        except ProxyHeaderError:
            raise InvalidProxyLine("connection did not come from tor's onion service") from None
        if circuit is None:
            raise InvalidProxyLine("connection did not come from tor's onion service")
        conn.sock.settimeout(self.REPLY_SECONDS)  # a client that reads nothing cannot hold the thread
        self._current.circuit = circuit
        self._current.reader = getattr(conn, "intake_reader", None)
        try:
            keep_alive = super().handle_request(req, conn)
        finally:
            self._current.circuit = None
            self._current.reader = None
        return keep_alive and not getattr(conn, "intake_close_after", False)
