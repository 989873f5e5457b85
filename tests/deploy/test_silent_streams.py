"""Silent and slow Tor streams cannot stop the intake (issue 9, item 1), through real gunicorn with
deploy/gunicorn.conf.py (2 workers x 8 threads, the CircuitWorker).

Before the fix, 16 connections that sent tor's PROXY line and nothing else held every thread for as long as
they stayed open, and no other request was answered.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.rawhttp import Connection
from tests.deploy.servers import gunicorn, log_of
from tests.realparts import need_module

need_module("gunicorn")

THREADS = 2 * 8  # deploy/gunicorn.conf.py: workers x threads
ANSWER_WITHIN = 3.0  # seconds, for a request on a fresh circuit while the flood holds its streams open


def proxy_line(circuit: int) -> bytes:
    return f"PROXY TCP6 fc00:dead:beef:4dad::{circuit >> 16:x}:{circuit & 0xFFFF:x} ::1 1 0\r\n".encode()


def open_stream(path: Path, opening: bytes = b"") -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(15)
    sock.connect(str(path))
    if opening:
        sock.sendall(opening)
    return sock


def probe(path: Path, circuit: int) -> float:
    """Seconds until a fresh circuit's GET is answered (200, its own circuit)."""
    start = time.monotonic()
    conn = Connection(open_stream(path, proxy_line(circuit)))
    try:
        response = conn.request("GET", "/probe")
        assert response.status == 200
        assert json.loads(response.body)["circuit"] == str(circuit)
    finally:
        conn.sock.close()
    return time.monotonic() - start


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.fixture
def served() -> Iterator[tuple[Path, Path]]:
    workdir = Path(tempfile.mkdtemp(prefix="evac-ss-", dir="/tmp"))
    sock = workdir / "app.sock"
    try:
        with gunicorn("tests.deploy.echo_app:app", sock, workdir, workers=2):
            yield sock, workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_silent_streams_from_one_circuit_do_not_stop_the_intake(served: tuple[Path, Path]) -> None:
    sock_path, workdir = served
    # Given one circuit holding three times as many streams as there are threads: some send only tor's
    # PROXY line, some half a request head, some a head that announces a body that never comes
    flood = []
    for n in range(3 * THREADS):
        tail = [b"", b"GET / HTTP/1.1\r\nHost: x\r\n", b"POST / HTTP/1.1\r\nContent-Length: 900\r\n\r\nab"][n % 3]
        flood.append(open_stream(sock_path, proxy_line(0xF100D) + tail))
    time.sleep(0.5)
    try:
        # When people on fresh circuits ask for a page, one after the other
        waits = [probe(sock_path, 1000 + n) for n in range(6)]
        # Then each is answered within seconds
        assert max(waits) < ANSWER_WITHIN, waits
    finally:
        for sock in flood:
            sock.close()
    assert "dead:beef" not in log_of(workdir, sock_path) and str(0xF100D) not in log_of(workdir, sock_path)


def test_silent_streams_from_many_circuits_do_not_stop_the_intake(served: tuple[Path, Path]) -> None:
    sock_path, _ = served
    # Given forty circuits, each holding three silent or stalled streams (120 streams, 16 threads)
    flood = []
    for circuit in range(40):
        for tail in (b"", b"GET /slow HTTP/1.1\r\n", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n"):
            flood.append(open_stream(sock_path, proxy_line(5000 + circuit) + tail))
    time.sleep(0.5)
    try:
        # When people on fresh circuits ask for a page, several at once
        waits: list[float] = []
        threads = [threading.Thread(target=lambda n=n: waits.append(probe(sock_path, 9000 + n))) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        # Then every one is answered within seconds
        assert len(waits) == 6 and max(waits) < ANSWER_WITHIN, waits
    finally:
        for sock in flood:
            sock.close()


def test_a_circuit_gets_at_most_two_threads_and_six_streams_per_worker(short_tmp: Path) -> None:
    sock_path = short_tmp / "one.sock"
    with gunicorn("tests.deploy.echo_app:app", sock_path, short_tmp, workers=1):
        # Given one circuit with six streams, each asking for a page that holds its thread for 0.5 s
        conns = [Connection(open_stream(sock_path, proxy_line(77))) for _ in range(6)]
        peaks: list[int] = []

        def hold(conn: Connection) -> None:
            peaks.append(json.loads(conn.request("GET", "/hold").body)["peak"])

        threads = [threading.Thread(target=hold, args=(conn,)) for conn in conns]
        for t in threads:
            t.start()
        # When the same circuit opens a seventh stream meanwhile, and another circuit asks for a page
        seventh = open_stream(sock_path, proxy_line(77) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        other = probe(sock_path, 78)
        for t in threads:
            t.join(timeout=30)
        # Then all six are answered, never more than two of them in the app at once; the seventh stream is
        # closed unanswered; the other circuit did not wait for the six
        assert len(peaks) == 6 and max(peaks) == 2, peaks
        assert closed_by_server(seventh, 5.0)
        assert other < ANSWER_WITHIN
        for conn in conns:
            conn.sock.close()


def test_deadlines_close_silent_and_trickling_streams(short_tmp: Path) -> None:
    sock_path = short_tmp / "dl.sock"
    worker = ["--worker-class", "tests.deploy.short_deadlines.ShortDeadlineWorker"]
    with gunicorn("tests.deploy.echo_app:app", sock_path, short_tmp, workers=1, extra=worker):
        # Given a stream that sends nothing, one that sends only the PROXY line, and one that trickles
        # a request head a byte at a time (each byte well within any per-read timeout)
        silent = open_stream(sock_path)
        proxy_only = open_stream(sock_path, proxy_line(5))
        trickle = open_stream(sock_path, proxy_line(6))
        stop = threading.Event()

        def drip() -> None:
            for byte in b"GET /" + b"a" * 100:
                if stop.wait(0.2):
                    return
                try:
                    trickle.send(bytes([byte]))
                except OSError:
                    return

        dripper = threading.Thread(target=drip)
        dripper.start()
        try:
            # Then the server closes each of them at its deadline (1 s for the PROXY line, 2 s for the head)
            assert closed_by_server(silent, 4.0)
            assert closed_by_server(proxy_only, 4.0)
            assert closed_by_server(trickle, 4.0)
        finally:
            stop.set()
            dripper.join()
        # And a well-behaved request is still served
        assert probe(sock_path, 7) < ANSWER_WITHIN


def test_no_date_and_no_server_header(served: tuple[Path, Path]) -> None:
    sock_path, _ = served
    # The Date header gave the server's clock to the second (a fingerprint of the machine); Server named
    # the software. Neither is sent, on answers from the app or on the worker's own refusals.
    conn = Connection(open_stream(sock_path, proxy_line(9)))
    answer = conn.request("GET", "/")
    refused = Connection(open_stream(sock_path, b"PROXY TCP4 203.0.113.9 127.0.0.1 5555 80\r\n")).request("GET", "/")
    assert answer.status == 200 and refused.status == 400
    for response in (answer, refused):
        assert response.header("Date") is None and response.header("Server") is None
        assert response.header("Connection") is not None


def test_worker_restarts_lose_no_request(short_tmp: Path) -> None:
    # Given workers that restart every 20 requests (max_requests), as the deployment's do every ~5,000
    sock_path = short_tmp / "mr.sock"
    extra = ["--max-requests", "20", "--max-requests-jitter", "0"]
    with gunicorn("tests.deploy.echo_app:app", sock_path, short_tmp, workers=2, extra=extra):
        failures: list[BaseException] = []

        def person(n: int) -> None:
            # When people each open streams and send two requests on each (a page, then the form), as a
            # browser does: on a new stream when the answer said "Connection: close"
            for k in range(15):
                circuit = proxy_line(100 * n + k + 1)
                try:
                    conn = Connection(open_stream(sock_path, circuit))
                    page = conn.request("GET", "/form")
                    assert page.status == 200
                    if (page.header("Connection") or "").lower() == "close":
                        conn.sock.close()
                        conn = Connection(open_stream(sock_path, circuit))
                    assert conn.request("POST", "/form", body=b"a=1").status == 200
                    conn.sock.close()
                except (OSError, AssertionError) as error:
                    failures.append(error)

        threads = [threading.Thread(target=person, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    # Then every request was answered, across some dozen worker restarts
    assert failures == [], (len(failures), failures[:3])


def test_a_flood_does_not_flood_the_log(short_tmp: Path) -> None:
    # Given an operator who raised gunicorn's log level to warnings (the deploy config logs errors only)
    sock_path = short_tmp / "log.sock"
    with gunicorn("tests.deploy.echo_app:app", sock_path, short_tmp, workers=1, extra=["--log-level", "warning"]):
        # When one circuit opens 26 streams (20 over its cap) and 20 connections come without tor's line
        streams = [open_stream(sock_path, proxy_line(0xBEEF)) for _ in range(26)]
        for _ in range(20):
            Connection(open_stream(sock_path, b"GET / HTTP/1.1\r\n\r\n")).read_response()
        assert probe(sock_path, 3) < ANSWER_WITHIN
        for sock in streams:
            sock.close()
        log = log_of(short_tmp, sock_path)
    # Then each kind of refusal is logged once (a count follows at most every 10 s), without the circuit
    assert log.count("over the per-circuit cap") == 1 and log.count("refused a request before the app") == 1
    assert str(0xBEEF) not in log and "beef" not in log.lower()


def test_a_full_worker_makes_room_for_the_next_visitor(short_tmp: Path) -> None:
    # Given a worker with room for 40 connections, and 40 circuits each holding two streams that send half a
    # request head (each would hold its slot for the 20 s head deadline)
    sock_path = short_tmp / "full.sock"
    with gunicorn("tests.deploy.echo_app:app", sock_path, short_tmp, workers=1, extra=["--worker-connections", "40"]):
        flood = [open_stream(sock_path, proxy_line(3000 + n // 2) + b"GET / HTTP/1.1\r\n") for n in range(80)]
        time.sleep(0.5)
        try:
            # When a person on a fresh circuit asks for a page, then another
            waits = [probe(sock_path, 4000 + n) for n in range(2)]
            # Then both are answered within seconds: the oldest incomplete streams made room
            assert max(waits) < ANSWER_WITHIN, waits
        finally:
            for sock in flood:
                sock.close()
