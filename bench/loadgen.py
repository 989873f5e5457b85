"""The load generator of the intake benchmark: simulated people on their own Tor circuits, and the server's
CPU read from /proc.

Each simulated person opens one stream to gunicorn's Unix socket, as tor does (the PROXY line naming a
fresh circuit), and walks a journey on it with keep-alive: GET a page, take the cookie and the CSRF token,
POST the form. The server's CPU is the sum of user and system time of the gunicorn master, its live
workers and every child they reaped (a GnuPG process, a worker replaced after max_requests), so the load
generator's own CPU never enters the figure.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_circuits = itertools.count(1)
_circuit_lock = threading.Lock()


def fresh_circuit() -> int:
    with _circuit_lock:
        return next(_circuits)


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

    def request(self, method: str, path: str, fields: dict[str, str | list[str]] | None = None) -> tuple[int, bytes]:
        if self.closing:  # the last answer said "Connection: close": a browser opens a new stream (same circuit)
            self.sock.close()
            self._open()
        head = [f"{method} {path} HTTP/1.1", "Host: bench.onion"]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        body = b""
        if fields is not None:
            body = urllib.parse.urlencode(fields, doseq=True).encode()
            head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}",
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


def csrf_token(page: bytes) -> str:
    match = TOKEN.search(page)
    if not match:
        raise RuntimeError("the page has no CSRF token")
    return (match.group(1) or match.group(2)).decode()


# A journey: (stream) -> seconds the POST took. It raises when the server did not accept.
Journey = Callable[[Stream], float]


def form_journey(form_path: str, fields: dict[str, str | list[str]], accepted: bytes, *, token: bool = True,
                 post_path: str | None = None) -> Journey:  # fmt: skip
    """GET the page, then POST ``fields`` (with the page's CSRF token when ``token``)."""

    def journey(stream: Stream) -> float:
        status, page = stream.request("GET", form_path)
        if status != 200:
            raise RuntimeError(f"GET {form_path} gave {status}")
        data = {**fields, "csrf_token": csrf_token(page)} if token else fields
        start = time.perf_counter()
        status, answer = stream.request("POST", post_path or form_path, data)
        if status != 200 or accepted not in answer:
            raise RuntimeError(f"POST {post_path or form_path} gave {status}")
        return time.perf_counter() - start

    return journey


def post_only_journey(form_path: str, fields: dict[str, str | list[str]], accepted: bytes, *, token: bool = True,
                      post_path: str | None = None) -> Journey:  # fmt: skip
    """POST ``fields`` again and again; each person GETs the page (cookie and token) on its first round only."""
    local = threading.local()

    def journey(stream: Stream) -> float:
        if not hasattr(local, "session"):
            status, page = stream.request("GET", form_path)
            local.session = (dict(stream.cookies), csrf_token(page) if token else "")
        cookies, csrf = local.session
        stream.cookies.update(cookies)
        start = time.perf_counter()
        status, answer = stream.request("POST", post_path or form_path, {**fields, "csrf_token": csrf} if token
                                        else fields)  # fmt: skip
        if status != 200 or accepted not in answer:
            raise RuntimeError(f"POST {post_path or form_path} gave {status}")
        return time.perf_counter() - start

    return journey


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


@dataclass
class Round:
    journeys: int
    seconds: float
    cpu_seconds: float
    journey_latencies: list[float] = field(default_factory=list)
    post_latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.journeys / self.seconds

    @property
    def cpu_per_journey(self) -> float:
        return self.cpu_seconds / self.journeys


def run_round(socket_path: Path, master: int, journey: Journey, clients: int, seconds: float) -> Round:
    """``clients`` people walk ``journey`` again and again, each on a fresh circuit, for ``seconds``."""
    stop = time.perf_counter() + seconds
    journey_lat: list[list[float]] = [[] for _ in range(clients)]
    post_lat: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def person(n: int) -> None:
        try:
            while time.perf_counter() < stop:
                stream = Stream(socket_path, fresh_circuit())
                try:
                    start = time.perf_counter()
                    post_lat[n].append(journey(stream))
                    journey_lat[n].append(time.perf_counter() - start)
                finally:
                    stream.close()
        except BaseException as error:  # reported after the round: a failed journey fails the benchmark
            errors.append(error)

    threads = [threading.Thread(target=person, args=(n,)) for n in range(clients)]
    cpu_before, start = server_cpu_seconds(master), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, cpu_after = time.perf_counter() - start, server_cpu_seconds(master)
    if errors:
        raise RuntimeError(f"{len(errors)} people could not finish a journey: {errors[0]}")
    flat = [x for per in journey_lat for x in per]
    return Round(len(flat), elapsed, cpu_after - cpu_before, flat, [x for per in post_lat for x in per])


def percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
