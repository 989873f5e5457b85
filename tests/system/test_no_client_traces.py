"""Invariant 2 through the production server: what a visitor's connection says about them reaches no log, no
file and no database row, and is not sealed into the request either.

tests/intake/test_privacy.py proves it for the app alone. Here the whole chain runs as deployed (gunicorn with
deploy/gunicorn.conf.py, tor's CircuitWorker, the fast paths, embedded SQLite): the connection starts with tor's
PROXY line naming a distinctive circuit, and every request carries a distinctive User-Agent and the headers a
proxy would add for an address. After a full journey (form, submission, status check, a refused post, a
missing page, a malformed request) and a clean stop, none of those values is in any file the server wrote.
Seeded with ``GUNICORN_CMD_ARGS=--access-logfile -`` (an operator turning the access log on), it fails.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.intake_helpers import Browser, csrf_token, export_and_open, receipt_of
from tests.deploy.rawhttp import Response
from tests.intake.test_privacy import files_under
from tests.system.running import HOST, Gunicorn, SystemInstance, proxy_line

CIRCUIT = 0x2A7B9C1D  # tor's global circuit id; the app sees it as "712743965"
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) TraceCanary-4e7q/1.0"
ADDRESS = "198.51.100.47"  # documentation range: what a proxy in front would claim the visitor's address is
VISITOR_HEADERS = {
    "User-Agent": AGENT,
    "X-Forwarded-For": ADDRESS,
    "X-Real-IP": ADDRESS,
    "Forwarded": f"for={ADDRESS};proto=http",
    "Accept-Language": "ru-RU,ru;q=0.9",
}
NEEDLES = (
    b"tracecanary-4e7q",  # needles are lower case: files are searched lowered
    ADDRESS.encode(),
    str(CIRCUIT).encode(),
    b"2a7b:9c1d",  # the circuit as it appears in tor's pseudo source address
    b"fc00:dead:beef:4dad",
)


class Visitor(Browser):
    """A browser that sends the identifying headers with every request."""

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**VISITOR_HEADERS, **super()._headers(extra)}


def traces(folders: list[tuple[Path, float | None]]) -> list[str]:
    found = []
    for folder, since in folders:
        for path in files_under(folder, since):
            with contextlib.suppress(OSError):
                data = path.read_bytes()
                found += [f"{needle.decode()} in {path}" for needle in NEEDLES if needle in data.lower()]
    return found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Gunicorn]:
    running = Gunicorn(SystemInstance.create(tmp_path))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def journey(server: Gunicorn) -> str:
    """Every kind of request a visitor makes, all on tor's circuit CIRCUIT; returns the receipt."""
    host = f"{HOST}:{server.port}"
    visitor = Visitor(server.connect(CIRCUIT), host)
    assert visitor.get("/").status == 302
    # Twice: the first submission in a language is Flask's (its page primes the fast path's cache), the second
    # is the fast path's.
    for _ in range(2):
        done = visitor.submit("They took my brother's phone and came back at night.", lang="ru")
        assert done.status == 200, done.status
        receipt = receipt_of(done.body)
    form = visitor.get("/ru/status")
    assert form.status == 200
    checked = visitor.post("/ru/status", {"csrf_token": csrf_token(form.body.decode()), "receipt": receipt})
    assert checked.status == 200, checked.status
    assert visitor.post("/ru/request", {"csrf_token": "not-a-token", "story": "x"}).status in (400, 403)
    assert visitor.get("/ru/nowhere").status == 404
    # A second stream of the same circuit, kept alive for two requests, then one tor refuses to frame.
    again = Visitor(server.connect(CIRCUIT), host)
    assert again.get("/en/request").status == 200
    assert again.get("/en/status").status == 200
    broken = server.connect(CIRCUIT)
    broken.send_raw(b"GET /en/request HTTP/1.1\r\nHost: " + host.encode() + b"\r\nUser-Agent: " + AGENT.encode()
                    + b"\r\nX-Forwarded-For: " + ADDRESS.encode() + b"\r\nBad Header Line\r\n\r\n")  # fmt: skip
    answer: Response = broken.read_response()
    assert answer.status == 400
    return receipt


def test_nothing_of_the_visitors_connection_is_written_anywhere(server: Gunicorn) -> None:
    start = time.time() - 1
    receipt = journey(server)
    server.stop()  # a clean stop: the logs are flushed, SQLite's WAL is checkpointed into the database
    instance = server.instance
    # The server did its work (the check below is not passing on an empty folder)...
    assert instance.counts()[0] == 2
    assert server.log.exists()
    # ...and no file it wrote (database, WAL, instance files, its log), nor any new file in /tmp, names the visitor.
    folders: list[tuple[Path, float | None]] = [(instance.root, None)]
    if Path("/tmp").is_dir():
        folders.append((Path("/tmp"), start))
    assert traces(folders) == []
    # The sealed request holds what the person wrote, and nothing of their connection.
    requests = export_and_open(instance.folder, instance.env, instance.caseworker())
    assert len(requests) == 2
    for request in requests:
        sealed = json.dumps(request, ensure_ascii=False).encode().lower()
        assert b"brother" in sealed
        assert [needle for needle in NEEDLES if needle in sealed] == []
    assert receipt.replace(" ", "").encode() not in server.log.read_bytes()


def test_the_check_sees_a_trace_when_there_is_one(tmp_path: Path) -> None:
    """The scan itself: the PROXY line's bytes and the agent, written where the scan looks, are found."""
    (tmp_path / "leak.txt").write_bytes(proxy_line(CIRCUIT) + AGENT.encode())
    found = traces([(tmp_path, None)])
    assert any("2a7b:9c1d" in item for item in found) and any("tracecanary" in item for item in found)
