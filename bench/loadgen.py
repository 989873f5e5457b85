"""The load generator of the intake benchmark: simulated people on their own Tor circuits, and the server's
CPU read from /proc.

Rounds are of a fixed number of journeys (not of a fixed time), run by load-generator processes of their
own (``LoadGenerator``). Each simulated person opens one stream to gunicorn's Unix socket, as tor does (the
PROXY line naming a fresh circuit), and walks a journey on it with keep-alive: GET a page, take the cookie
and the CSRF and one-time tokens, POST the form. The server's CPU is the sum of user and system time of
the gunicorn master, its live workers and every child they reaped (a GnuPG process, a worker replaced
after max_requests), so the load generator's own CPU never enters the figure.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import secrets
import socket
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.turns import TurnSampler

ONCE = re.compile(rb'name="once" value="([A-Za-z0-9_-]+)"')
TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_circuits = itertools.count(1)
URLENCODED, MULTIPART = "urlencoded", "multipart"
URLENCODED_TYPE = "application/x-www-form-urlencoded"
BOUNDARY_PREFIX = "----WebKitFormBoundary"  # what Chromium draws; random after it
FILE_FIELD = "files"
_circuit_lock = threading.Lock()


def fresh_circuit() -> int:
    with _circuit_lock:
        return next(_circuits)


def fresh_circuits(n: int) -> int:
    """The first of ``n`` circuit numbers nobody has used (for a load-generator process to number from)."""
    global _circuits
    with _circuit_lock:
        first = next(_circuits)
        _circuits = itertools.count(first + n)
        return first


class Stream:
    """One HTTP/1.1 keep-alive connection over gunicorn's Unix socket, opened as tor opens it."""

    def __init__(self, path: Path, circuit: int, timeout: float = 60.0) -> None:
        self.path, self.circuit, self.timeout = path, circuit, timeout
        self.cookies: dict[str, str] = {}
        self._open()

    def _open(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.path))
        circuit = self.circuit
        self.sock.sendall(f"PROXY TCP6 fc00:dead:beef:4dad::{circuit >> 16:x}:{circuit & 0xFFFF:x} ::1 1 0\r\n"
                          .encode())  # fmt: skip
        self.buffer = b""
        self.closing = False

    def close(self) -> None:
        self.sock.close()

    def request(self, method: str, path: str, fields: dict[str, str | list[str]] | None = None,
                encoding: str = URLENCODED) -> tuple[int, bytes]:  # fmt: skip
        if self.closing:  # the last answer said "Connection: close": a browser opens a new stream (same circuit)
            self.sock.close()
            self._open()
        head = [f"{method} {path} HTTP/1.1", "Host: bench.onion"]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        body = b""
        if fields is not None:
            if encoding == MULTIPART:
                boundary = BOUNDARY_PREFIX + secrets.token_urlsafe(12)
                body, content_type = multipart_body(fields, boundary), f"multipart/form-data; boundary={boundary}"
            else:
                body, content_type = urllib.parse.urlencode(fields, doseq=True).encode(), URLENCODED_TYPE
            head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
                     "Origin: http://bench.onion", f"Referer: http://bench.onion{path}"]  # fmt: skip
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return self._response()

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the stream before a full response")
        self.buffer += chunk

    def _response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection":
                self.closing = value.strip().lower() == "close"
            elif name.lower() == "set-cookie":
                key, _, rest = value.strip().partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split(" ")[1]), body


def _csrf(page: bytes) -> str | None:
    match = TOKEN.search(page)
    return (match.group(1) or match.group(2)).decode() if match else None


def csrf_token(page: bytes) -> str:
    token = _csrf(page)
    if token is None:
        raise RuntimeError("the page has no CSRF token")
    return token


def page_tokens(page: bytes) -> dict[str, str]:
    """The page's CSRF and one-time tokens as form fields (those it has), in the page's order."""
    token = _csrf(page)
    return {**({"csrf_token": token} if token is not None else {}), **once_token(page)}


def once_token(page: bytes) -> dict[str, str]:
    """The page's one-time submission token as a form field, as a browser sends it back (none: nothing)."""
    match = ONCE.search(page)
    return {"once": match.group(1).decode()} if match else {}


def multipart_body(fields: dict[str, str | list[str]], boundary: str, file_field: str = FILE_FIELD) -> bytes:
    """The body a browser posts for a form with enctype multipart/form-data and a file input left empty:
    every text field a part of its own, in the form's order, then the file input as a part with filename=""
    and no bytes (browsers send it even when no file was chosen)."""
    out = []
    for name, value in fields.items():
        for one in [value] if isinstance(value, str) else value:
            out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{one}\r\n')
    out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename=""\r\n'
               f"Content-Type: application/octet-stream\r\n\r\n\r\n")
    out.append(f"--{boundary}--\r\n")
    return "".join(out).encode("utf-8")


# A journey: (stream) -> seconds the POST took. It raises when the server did not accept.
Journey = Callable[[Stream], float]


@dataclass(frozen=True)
class JourneySpec:
    """What a simulated person does, as data (it travels to the load generator's processes).

    ``kind``: "form" (GET the page, then POST it with the page's tokens) or "post_only" (POST again and
    again; each person GETs the page, for its cookie and tokens, on its first journey only). ``encoding``:
    how the POST's body is sent, "multipart" (what a browser sends for a form with a file input, no file
    chosen) or "urlencoded".
    """

    kind: str
    form_path: str
    fields: dict[str, str | list[str]]
    accepted: bytes
    token: bool = True
    post_path: str | None = None
    encoding: str = URLENCODED


def form_journey(form_path: str, fields: dict[str, str | list[str]], accepted: bytes, *, token: bool = True,
                 post_path: str | None = None, encoding: str = URLENCODED) -> JourneySpec:  # fmt: skip
    """GET the page, then POST ``fields`` (with the page's CSRF and one-time tokens when ``token``)."""
    return JourneySpec("form", form_path, fields, accepted, token, post_path, encoding)


def post_only_journey(form_path: str, fields: dict[str, str | list[str]], accepted: bytes, *, token: bool = True,
                      post_path: str | None = None, encoding: str = URLENCODED) -> JourneySpec:  # fmt: skip
    """POST ``fields`` again and again (a person's cookie and CSRF token from one GET; no one-time token)."""
    return JourneySpec("post_only", form_path, fields, accepted, token, post_path, encoding)


def build_journey(spec: JourneySpec) -> Journey:
    target = spec.post_path or spec.form_path
    local = threading.local()

    def post(stream: Stream, data: dict[str, str | list[str]]) -> float:
        start = time.perf_counter()
        status, answer = stream.request("POST", target, data, spec.encoding)
        if status != 200 or spec.accepted not in answer:
            raise RuntimeError(f"POST {target} gave {status}")
        return time.perf_counter() - start

    def form(stream: Stream) -> float:
        status, page = stream.request("GET", spec.form_path)
        if status != 200:
            raise RuntimeError(f"GET {spec.form_path} gave {status}")
        # Every app's page is searched, the baseline's too (a copy of intake's page, tokens and all): the load
        # generator shares the server's cores, so its work on a journey must not depend on the app.
        found = page_tokens(page)
        if spec.token and "csrf_token" not in found:
            raise RuntimeError("the page has no CSRF token")
        return post(stream, {**(found if spec.token else {}), **spec.fields})  # the page's order: tokens first

    def post_only(stream: Stream) -> float:
        if not hasattr(local, "session"):
            _status, page = stream.request("GET", spec.form_path)
            local.session = (dict(stream.cookies), csrf_token(page) if spec.token else "")
        cookies, csrf = local.session
        stream.cookies.update(cookies)
        return post(stream, {"csrf_token": csrf, **spec.fields} if spec.token else spec.fields)

    return form if spec.kind == "form" else post_only


def server_cpu_seconds(master: int) -> float:
    """User + system CPU of gunicorn's master, its live workers and all the children they reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    pids = [master]
    with open(f"/proc/{master}/task/{master}/children") as children:
        pids += [int(pid) for pid in children.read().split()]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # a worker that just exited: the master's cutime has it once it is reaped
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / ticks


def machine_ticks() -> tuple[int, int]:
    """(busy, all) clock ticks of every core since boot, from /proc/stat: user to steal (guest time is in user
    already); idle and iowait are not busy, steal is (the core was wanted and the host ran something else)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (their own, not their children's)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            total += sum(int(value) for value in stat.read().rsplit(")", 1)[1].split()[11:13])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    journeys: int
    seconds: float
    cpu_seconds: float
    journey_latencies: list[float] = field(default_factory=list)
    post_latencies: list[float] = field(default_factory=list)
    # Diagnostics, never verdicts: how busy the machine's cores were, and the load generator's own CPU.
    machine_busy: float = float("nan")
    loadgen_cpu_seconds: float = float("nan")
    turn_held: float = float("nan")  # the writers' turn (bench.turns): share of the round it was held
    turn_waited: float = float("nan")  # and share of the round a writer stood blocked on it

    @property
    def rate(self) -> float:
        return self.journeys / self.seconds

    @property
    def cpu_per_journey(self) -> float:
        return self.cpu_seconds / self.journeys


def _generate(socket_path: Path, spec: JourneySpec, clients: int, count: int, first_circuit: int
              ) -> tuple[list[float], list[float], str]:  # fmt: skip
    """In a load-generator process: ``clients`` threads walk ``count`` journeys in all, each person on a
    fresh circuit (numbered from ``first_circuit``). Returns journey and POST latencies, and the first error."""
    journey = build_journey(spec)
    lock = threading.Lock()
    taken = itertools.count()
    journeys: list[float] = []
    posts: list[float] = []
    errors: list[str] = []

    def person() -> None:
        while not errors:
            with lock:
                n = next(taken)
            if n >= count:
                return
            try:
                stream = Stream(socket_path, first_circuit + n)
                try:
                    start = time.perf_counter()
                    post = journey(stream)
                    elapsed = time.perf_counter() - start
                finally:
                    stream.close()
            except Exception as error:  # reported after the round: a failed journey fails the benchmark
                errors.append(f"{type(error).__name__}: {error}")
                return
            with lock:
                journeys.append(elapsed)
                posts.append(post)

    threads = [threading.Thread(target=person) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return journeys, posts, errors[0] if errors else ""


class LoadGenerator:
    """Processes apart from the benchmark's own (spawned once, reused by every round) that run the people,
    so the load generator neither shares a GIL with the timing nor enters the server's CPU figure."""

    def __init__(self, processes: int = 2) -> None:
        self.processes = processes
        self.pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))

    def close(self) -> None:
        self.pool.shutdown()

    def round(self, socket_path: Path, master: int, spec: JourneySpec, clients: int, count: int,
              lock_file: Path | None = None) -> Round:  # fmt: skip
        """``count`` journeys by ``clients`` people (spread over the processes), each on a fresh circuit;
        ``lock_file``: the app's writers' turn file, sampled meanwhile (bench.turns)."""
        shares = [count // self.processes + (i < count % self.processes) for i in range(self.processes)]
        people = [max(1, clients // self.processes)] * self.processes
        bases = [fresh_circuits(share) for share in shares]
        workers = self._workers()
        ticks_before, loadgen_before = machine_ticks(), process_cpu_seconds(workers)
        with TurnSampler(lock_file) as turns:
            cpu_before, start = server_cpu_seconds(master), time.perf_counter()
            futures = [self.pool.submit(_generate, socket_path, spec, n, share, base)
                       for n, share, base in zip(people, shares, bases, strict=True) if share]  # fmt: skip
            results = [future.result() for future in futures]
            elapsed, cpu_after = time.perf_counter() - start, server_cpu_seconds(master)
        busy, ticks = (after - before for after, before in zip(machine_ticks(), ticks_before, strict=True))
        loadgen = process_cpu_seconds(workers) - loadgen_before
        failed = [error for _, _, error in results if error]
        if failed:
            raise RuntimeError(f"{len(failed)} load generators saw a failed journey: {failed[0]}")
        journeys = [x for lat, _, _ in results for x in lat]
        posts = [x for _, lat, _ in results for x in lat]
        return Round(len(journeys), elapsed, cpu_after - cpu_before, journeys, posts, busy / max(ticks, 1), loadgen,
                     turns.held, turns.waited)

    def _workers(self) -> list[int]:
        """The pids of the pool's processes, started now if they are not yet (spawned on first use)."""
        if len(self.pool._processes) < self.processes:  # the pool names its processes nowhere else
            for future in [self.pool.submit(os.getpid) for _ in range(self.processes * 4)]:
                future.result()
        return list(self.pool._processes)


def percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
