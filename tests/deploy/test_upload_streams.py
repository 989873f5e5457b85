"""Uploads through real gunicorn with deploy/gunicorn.conf.py and the CircuitWorker (issue 24; issue 21 item 3).

A form with files is streamed to the app under a minimum rate and a total cap, one upload per circuit and a
few per worker: a flood of slow uploads from many circuits never stops text requests, a trickle is cut, a
body over the cap is refused unread. When the threads are all busy, a POST with a live CSRF token is served
before the requests waiting in front of it. The rules here are the deployed ones with a 1 MiB cap, and a 2 s
window where a test waits for a cut (the deployed 30 s where uploads must stay alive).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from intake import csrf
from tests.deploy.rawhttp import Connection, Response
from tests.deploy.servers import gunicorn, log_of
from tests.realparts import need_module

need_module("gunicorn")

APP = "tests.deploy.upload_app:app"
CAP = 1024 * 1024
RULES = {"INTAKE_UPLOAD_MIN_RATE": "4096", "INTAKE_UPLOAD_WINDOW": "2", "INTAKE_UPLOAD_MAX_BYTES": str(CAP),
         "INTAKE_UPLOADS_AT_ONCE": "4"}  # fmt: skip
ANSWERED_WITHIN = 15.0  # seconds: "is answered at all", on a loaded machine
BOUNDARY = "----evacformboundary7MA4YWxkTrZu0gW"
HOLDING = {"INTAKE_UPLOAD_WINDOW": "30"}  # the deployed window: uploads that must stay alive are never cut
# Circuit ids whose decimal form no timestamp or process id in the log could contain by chance
FLOODER, TRICKLER = 31_415_000, 27_182_818


def proxy_line(circuit: int) -> bytes:
    return f"PROXY TCP6 fc00:dead:beef:4dad::{circuit >> 16:x}:{circuit & 0xFFFF:x} ::1 1 0\r\n".encode()


def open_stream(path: Path, circuit: int, data: bytes = b"") -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(ANSWERED_WITHIN)
    sock.connect(str(path))
    sock.sendall(proxy_line(circuit) + data)
    return sock


# A body the worker streams as an upload: a form of at most INTAKE_MAX_BODY_BYTES (256 KiB), a file or not, is
# read whole like any text request and takes no upload slot (test_a_flood_of_slow_uploads_never_stops_text_requests).
STREAMED = 300_000


def upload_head(length: int | None, path: str = "/en/request", *, extra: str = "") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Type: multipart/form-data; boundary={BOUNDARY}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def part_start(name: str = "files", filename: str = "photo.jpg") -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()  # fmt: skip


def whole_body(size: int) -> bytes:
    start, end = part_start(), f"\r\n--{BOUNDARY}--\r\n".encode()
    return start + b"\xff" * (size - len(start) - len(end)) + end


def read_answer(sock: socket.socket, within: float = ANSWERED_WITHIN) -> Response:
    sock.settimeout(within)
    return Connection(sock).read_response()


def closed_by_server(sock: socket.socket, within: float = ANSWERED_WITHIN) -> bool:
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def get(path: Path, circuit: int, target: str = "/probe") -> Response:
    sock = open_stream(path, circuit)
    try:
        return Connection(sock).request("GET", target)
    finally:
        sock.close()


def wait_for(condition: Callable[[], bool], within: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within} s")
        time.sleep(0.02)


def stats(path: Path) -> dict[str, int]:
    answer: dict[str, int] = json.loads(get(path, 0xABCD, "/stats").body)
    return answer


class Sender:
    """Keeps sending ``step`` bytes every ``every`` seconds on each stream, until told to stop or refused."""

    def __init__(self, step: int, every: float) -> None:
        self.step, self.every = step, every
        self.streams: list[socket.socket] = []
        self.answers: dict[socket.socket, Response | None] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def add(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.streams.append(sock)

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            live = [s for s in self.streams if s not in self.answers]
            with contextlib.suppress(OSError, ValueError):
                readable, _, _ = select.select(live, [], [], 0)
                for sock in readable:  # an answer came: the upload was refused or cut
                    sock.setblocking(True)
                    try:
                        self.answers[sock] = read_answer(sock, 5.0)
                    except (OSError, ConnectionError):
                        self.answers[sock] = None
            for sock in live:
                if sock not in self.answers:
                    with contextlib.suppress(OSError):
                        sock.send(b"\xff" * self.step)

    def __enter__(self) -> Sender:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        for sock in self.streams:
            sock.close()

    def statuses(self) -> list[int]:
        return [a.status if a else 0 for a in list(self.answers.values())]


@pytest.fixture
def workdir(short_tmp: Path) -> Path:
    return short_tmp


def serve(workdir: Path, name: str, *, workers: int = 1, extra: list[str] | None = None,
          env: dict[str, str] | None = None) -> contextlib.AbstractContextManager[object]:  # fmt: skip
    return gunicorn(APP, workdir / f"{name}.sock", workdir, workers=workers, extra=extra,
                    env={**RULES, "EVAC_TEST_RELEASE": str(workdir / "release"), **(env or {})})  # fmt: skip


def test_a_flood_of_slow_uploads_never_stops_text_requests(workdir: Path) -> None:
    sock_path = workdir / "flood.sock"
    with serve(workdir, "flood", workers=2, env=HOLDING), Sender(step=1024, every=0.1) as flood:
        # Given forty circuits each sending a 1 MiB form with files at 10 KiB/s (above the minimum rate, so
        # each holds its upload for minutes), on the deployed two workers of eight threads, with the
        # deployed 30 s window (a stalled sender on a loaded machine does not get its uploads cut)
        for n in range(40):
            flood.add(open_stream(sock_path, FLOODER + n, upload_head(CAP) + part_start()))
        # Then at most four a worker are taken; the rest are refused at once with a page of their own
        wait_for(lambda: len(flood.answers) >= 40 - 2 * 4, what="uploads over the limit refused")
        assert set(flood.statuses()) == {503}, flood.statuses()
        assert all(b"Nothing was sent" in a.body for a in flood.answers.values() if a)
        # When people on fresh circuits ask for a page, and send a text form, meanwhile
        for n in range(6):
            answer = get(sock_path, 30_000 + n)
            assert answer.status == 200 and json.loads(answer.body)["circuit"] == str(30_000 + n)
        conn = Connection(open_stream(sock_path, 31_000))
        posted = conn.request("POST", "/en/request", headers={"Content-Type": "application/x-www-form-urlencoded"},
                              body=b"story=" + b"a" * 20_000)  # fmt: skip
        # Then each is answered (within the socket's generous timeout), and a fresh circuit gets through
        assert posted.status == 200 and json.loads(posted.body)["read"] == 20_006
        conn.sock.close()
        # And the form as a browser posts it (multipart, no file chosen) is read whole like text: no upload slot
        conn = Connection(open_stream(sock_path, 31_001))
        posted = conn.request("POST", "/en/request", body=whole_body(4_000),
                              headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})  # fmt: skip
        assert posted.status == 200 and json.loads(posted.body)["read"] == 4_000
        conn.sock.close()
        # And the flood's held uploads are still being read, not cut
        assert set(flood.statuses()) == {503}
    log = log_of(workdir, sock_path)
    assert "Traceback" not in log and "dead:beef" not in log
    assert not any(str(FLOODER + n) in log for n in range(40))


def test_a_trickle_below_the_rate_is_cut(workdir: Path) -> None:
    sock_path = workdir / "trickle.sock"
    with serve(workdir, "trickle", extra=["--log-level", "warning"]), Sender(step=50, every=0.1) as trickle:
        # Given an upload that sends 500 bytes a second (the minimum is 4 KiB/s over any 2 s here)
        trickle.add(open_stream(sock_path, TRICKLER, upload_head(512 * 1024) + part_start()))
        # Then it is cut with a page saying that nothing was sent, and the connection closes
        wait_for(lambda: len(trickle.answers) == 1, within=ANSWERED_WITHIN, what="the trickle cut")
        answer = trickle.statuses()
        assert answer == [408], answer
        assert b"too slow" in next(iter(trickle.answers.values())).body  # type: ignore[union-attr]
        assert get(sock_path, 42).status == 200  # the server is fine
    log = log_of(workdir, sock_path)
    assert "cut an upload: UploadTooSlow" in log
    assert "Traceback" not in log and str(TRICKLER) not in log


def test_a_part_with_no_end_is_cut_and_never_read_past_its_length(workdir: Path) -> None:
    sock_path = workdir / "noend.sock"
    with serve(workdir, "noend"):
        # Given a form whose file part never ends: 200 KiB of it arrive at once, then nothing more
        stalled = open_stream(sock_path, 51, upload_head(512 * 1024) + part_start() + b"\xff" * 200 * 1024)
        # Then the rate cuts it (a window without bytes)
        assert read_answer(stalled).status == 408
        assert closed_by_server(stalled)
        stalled.close()
        # Given a part with no end that keeps coming past the length its head announced
        length = 384 * 1024
        runaway = open_stream(sock_path, 52, upload_head(length) + part_start())
        with contextlib.suppress(OSError):
            runaway.sendall(b"\xff" * (length + 128 * 1024))
        # Then the app reads exactly the announced length, never more, and the connection closes
        answer = read_answer(runaway)
        assert answer.status == 200 and json.loads(answer.body) == {**json.loads(answer.body), "read": length}
        assert (answer.header("Connection") or "").lower() == "close"
        assert closed_by_server(runaway)
        runaway.close()


def test_one_upload_per_circuit_at_a_time(workdir: Path) -> None:
    sock_path = workdir / "one.sock"
    with serve(workdir, "one", env=HOLDING), Sender(step=1024, every=0.1) as first:
        # Given a circuit with an upload in progress (kept above the minimum rate)
        first.add(open_stream(sock_path, 61, upload_head(CAP) + part_start()))
        wait_for(lambda: stats(sock_path)["uploading"] == 1, what="the first upload in the app")
        # When the same circuit starts a second upload on another stream, and the first goes on
        second = open_stream(sock_path, 61, upload_head(STREAMED) + whole_body(STREAMED))
        # Then the second is refused (after a short wait for the first to end), unread, with its own page;
        # another circuit's upload goes through
        refused = read_answer(second)
        assert refused.status == 429 and b"still being sent" in refused.body
        second.close()
        other = open_stream(sock_path, 62, upload_head(STREAMED) + whole_body(STREAMED))
        answer = read_answer(other)
        assert answer.status == 200 and json.loads(answer.body)["read"] == STREAMED
        other.close()
        assert first.answers == {}
        # When the first upload's stream goes away, the circuit may upload again
        first.streams[0].close()
        first.answers[first.streams[0]] = None
        wait_for(lambda: stats(sock_path)["uploading"] == 0, what="the first upload gone")
        again = open_stream(sock_path, 61, upload_head(STREAMED, "/ru/status/message") + whole_body(STREAMED))
        answer = read_answer(again)
        assert answer.status == 200 and json.loads(answer.body)["read"] == STREAMED
        again.close()


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (upload_head(CAP + 1), 413),  # over the cap: answered before a byte of the body is sent
        (upload_head(None, extra="Transfer-Encoding: chunked\r\n"), 411),
        (upload_head(None), 411),  # no length at all
    ],
)
def test_an_upload_over_the_cap_or_without_a_length_is_refused_unread(workdir: Path, head: bytes,
                                                                      status: int) -> None:  # fmt: skip
    sock_path = workdir / "cap.sock"
    with serve(workdir, "cap"):
        before = stats(sock_path)["started"]
        # Given only the head of an upload (its body is never sent)
        sock = open_stream(sock_path, 71, head)
        # Then the worker answers at once, with the page saying nothing was sent, and closes the connection
        answer = read_answer(sock)
        assert answer.status == status and b"Nothing was sent" in answer.body
        assert closed_by_server(sock)
        sock.close()
        # And the app never saw it
        assert stats(sock_path)["started"] == before


def test_a_text_request_keeps_the_whole_body_reads(workdir: Path) -> None:
    sock_path = workdir / "text.sock"
    with serve(workdir, "text"):
        # A multipart body to an endpoint that takes no files, and an urlencoded one to the form, are read
        # whole by the event loop (with today's deadline) and never reach the app as an upload
        for path, kind in (("/en/urgent", "multipart/form-data; boundary=x"),
                           ("/en/request", "application/x-www-form-urlencoded")):  # fmt: skip
            conn = Connection(open_stream(sock_path, 81))
            answer = conn.request("POST", path, headers={"Content-Type": kind}, body=b"a=1")
            seen = json.loads(answer.body)
            assert answer.status == 200 and seen["read"] == 3 and "upload" not in seen
            conn.sock.close()


def test_a_post_with_a_live_token_is_served_before_waiting_requests(workdir: Path) -> None:
    queue = workdir / "queue"
    extra = ["--worker-class", "tests.deploy.observed_worker.ObservedWorker"]
    sock_path = workdir / "prio.sock"
    with serve(workdir, "prio", extra=extra, env={"EVAC_TEST_QUEUE": str(queue)}):

        def busy_and_queued() -> tuple[int, int]:
            with contextlib.suppress(OSError, ValueError):
                busy, queued = queue.read_text().split()
                return int(busy), int(queued)
            return -1, -1

        # Given every thread of the worker busy (four circuits, two requests each, held in the app)
        held = []
        for n in range(8):
            held.append(open_stream(sock_path, 90 + n // 2, f"GET /block/{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
        wait_for(lambda: busy_and_queued() == (8, 0), what="eight threads busy")
        # And six new visitors asking for pages, waiting for a thread
        gets = [open_stream(sock_path, 100 + n, b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n") for n in range(6)]
        wait_for(lambda: busy_and_queued() == (8, 6), what="six pages waiting")
        # When a person sends the form with a live token, after them; and someone posts a forged token
        cookie = csrf.new_cookie()
        token = csrf.make_token(csrf_key(), cookie, csrf.now_minute())
        headers = f"Cookie: intake_session={cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"

        def form(token_value: str) -> bytes:
            body = f"csrf_token={token_value}&story=help".encode()
            head = f"POST /en/request HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
            return head.encode() + body

        forged = open_stream(sock_path, 200, form(token[:-2] + "AA"))
        valid = open_stream(sock_path, 201, form(token))
        wait_for(lambda: busy_and_queued() == (8, 8), what="the two posts waiting")
        # And one thread becomes free (everything waiting then goes through it, one after the other)
        (workdir / "release-0").touch()
        waiting = [("valid", valid), ("forged", forged)] + [(f"get{n}", s) for n, s in enumerate(gets)]
        order = {name: json.loads(read_answer(sock).body)["seq"] for name, sock in waiting}
        # Then the form with the live token was served before the pages that were waiting before it, and the
        # forged one took its turn
        assert order["valid"] < min(order[f"get{n}"] for n in range(6)), order
        assert order["forged"] > max(order[f"get{n}"] for n in range(6)), order
        for n in range(1, 8):
            (workdir / f"release-{n}").touch()
        for sock in [*held, *gets, forged, valid]:
            sock.close()


def csrf_key() -> bytes:
    from tests.deploy.upload_app import CSRF_KEY

    return CSRF_KEY


@pytest.fixture(autouse=True)
def _no_proxy_env() -> Iterator[None]:
    # The app reads INTAKE_* from its own environment only (servers.gunicorn passes RULES)
    yield
    os.environ.pop("EVAC_TEST_QUEUE", None)


def test_the_real_intake_app_answers_an_upload_it_does_not_read(workdir: Path) -> None:
    import crypto
    from tests.deploy.intake_helpers import Browser, receipt_of, set_up_instance

    # Given the real intake app behind the production worker and config (a multipart body without the form's
    # token gets a page without the body being used: 415 before the app takes files, 400 after)
    folder = workdir / "instance"
    folder.mkdir(mode=0o700)
    env = {**os.environ, **RULES, "INTAKE_INSTANCE_DIR": str(folder), "INTAKE_CIRCUIT_PER_MINUTE": "1000"}
    set_up_instance(folder, env, crypto.Identity.generate("caseworker"))
    sock_path = workdir / "real.sock"
    with gunicorn("intake.wsgi:app", sock_path, workdir, env=env):
        # When a browser sends a form with 1 MiB of files, at full speed, without waiting for an answer
        sock = open_stream(sock_path, 301, upload_head(CAP - 1000) + part_start())
        stop = threading.Event()

        def send() -> None:
            with contextlib.suppress(OSError):
                while not stop.is_set():
                    sock.sendall(b"\xff" * 16384)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            # Then the browser reads the app's whole answer (not a reset), and the connection closes
            answer = read_answer(sock)
            assert answer.status in (400, 415) and b"</html>" in answer.body
            assert (answer.header("Connection") or "").lower() == "close"
        finally:
            stop.set()
            sock.close()
            sender.join(timeout=30)
        # And a person on a fresh circuit still sends a text request and gets a receipt
        conn = Connection(open_stream(sock_path, 302))
        receipt = receipt_of(Browser(conn, "intake.onion").submit("Please help, marker upload-worker").body)
        assert receipt
        conn.sock.close()
    assert "Traceback" not in log_of(workdir, sock_path)


def test_clients_that_never_close_do_not_stall_the_event_loop(workdir: Path) -> None:
    sock_path = workdir / "linger.sock"
    with serve(workdir, "linger"):
        # Given twenty streams that ask for a page with "Connection: close", read nothing and never close
        # their end (gunicorn's own close waited up to 2 s for each, in the event loop: 40 s for all)
        quiet = [open_stream(sock_path, 400 + n, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                 for n in range(20)]  # fmt: skip
        try:
            # Then a person on a fresh circuit is still answered, at all, within the socket's timeout
            assert get(sock_path, 500).status == 200
            # And each of the twenty got its answer, and is closed by the server
            for sock in quiet:
                assert read_answer(sock).status == 200
                assert closed_by_server(sock)
        finally:
            for sock in quiet:
                sock.close()


def test_a_second_tap_is_served_once_the_first_upload_goes_away(workdir: Path) -> None:
    sock_path = workdir / "tap.sock"
    with serve(workdir, "tap", env=HOLDING), Sender(step=1024, every=0.1) as first:
        # Given a circuit with an upload in progress
        first.add(open_stream(sock_path, 63, upload_head(CAP) + part_start()))
        wait_for(lambda: stats(sock_path)["uploading"] == 1, what="the first upload in the app")
        # When the person taps "send" again: the browser starts the same form on a new stream, and drops
        # the first one (the worker sees the new head before the old stream's end has been read)
        again = open_stream(sock_path, 63, upload_head(STREAMED))
        first.streams[0].close()
        first.answers[first.streams[0]] = None
        again.sendall(whole_body(STREAMED))  # (more than a socket buffer: sent once the old stream is gone)
        # Then the new one is served, not refused
        answer = read_answer(again)
        assert answer.status == 200 and json.loads(answer.body)["read"] == STREAMED
        again.close()
