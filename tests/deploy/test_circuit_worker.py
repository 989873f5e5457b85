"""CircuitWorker under real gunicorn with deploy/gunicorn.conf.py: every request of a connection, keep-alive
included, carries tor's circuit; a connection without tor's PROXY line never reaches the app."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.rawhttp import Connection
from tests.deploy.servers import gunicorn, log_of
from tests.realparts import need_module

need_module("gunicorn")

TOR_LINE = b"PROXY TCP6 fc00:dead:beef:4dad::2a:1 ::1 1 0\r\n"  # circuit 0x2a0001
OTHER_LINE = b"PROXY TCP6 fc00:dead:beef:4dad::0:7 ::1 7 0\r\n"  # circuit 7


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    import shutil
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="evac-gw-", dir="/tmp"))
    sock = workdir / "app.sock"
    try:
        with gunicorn("tests.deploy.echo_app:app", sock, workdir):
            yield sock, workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def connect(path: Path) -> Connection:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(15)
    sock.connect(str(path))
    return Connection(sock)


def test_keep_alive_requests_all_carry_the_circuit(served: tuple[Path, Path]) -> None:
    sock_path, _ = served
    # Given one connection from tor, opened with the PROXY line
    conn = connect(sock_path)
    conn.send_raw(TOR_LINE)
    # When three requests go over it, one after the other (keep-alive)
    seen = []
    for path in ("/one", "/two", "/three"):
        response = conn.request("GET", path)
        assert response.status == 200
        assert (response.header("Connection") or "").lower() != "close"
        seen.append(json.loads(response.body))
    conn.sock.close()
    # Then every request saw the circuit, and none saw any address
    assert [s["path"] for s in seen] == ["/one", "/two", "/three"]
    assert [s["circuit"] for s in seen] == [str(0x2A0001)] * 3
    assert all(s["address_keys"] == [] for s in seen)


def test_two_connections_keep_their_own_circuits(served: tuple[Path, Path]) -> None:
    sock_path, _ = served
    first, second = connect(sock_path), connect(sock_path)
    first.send_raw(TOR_LINE)
    second.send_raw(OTHER_LINE)
    answers = []
    for conn in (first, second, first, second):
        answers.append(json.loads(conn.request("GET", "/").body)["circuit"])
    assert answers == [str(0x2A0001), "7", str(0x2A0001), "7"]


def test_a_forwarded_for_header_is_not_an_address(served: tuple[Path, Path]) -> None:
    sock_path, _ = served
    conn = connect(sock_path)
    conn.send_raw(TOR_LINE)
    response = conn.request("GET", "/", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    seen = json.loads(response.body)
    assert seen["circuit"] == str(0x2A0001)
    # The header arrives as a header (the app ignores it); gunicorn did not turn it into REMOTE_ADDR.
    assert "REMOTE_ADDR" not in seen["address_keys"]


@pytest.mark.parametrize(
    "opening",
    [
        b"",  # no PROXY line at all: a local process, not tor
        b"PROXY TCP4 203.0.113.9 127.0.0.1 5555 80\r\n",  # a real address: not tor's circuit export
        b"PROXY TCP6 fc00:dead:beef:4dad::0:0 ::1 1 0\r\n",  # circuit 0
    ],
)
def test_a_connection_not_from_tor_is_refused_before_the_app(served: tuple[Path, Path], opening: bytes) -> None:
    sock_path, workdir = served
    conn = connect(sock_path)
    conn.send_raw(opening)
    response = conn.request("GET", "/secret-path-marker")
    assert response.status == 400
    assert b"circuit" not in response.body and b"/secret-path-marker" not in response.body
    # Nothing of the request or the line went to the log
    log = log_of(workdir, sock_path)
    assert "203.0.113.9" not in log and "secret-path-marker" not in log and "dead:beef" not in log


def test_the_server_header_names_no_version(served: tuple[Path, Path]) -> None:
    sock_path, _ = served
    conn = connect(sock_path)
    conn.send_raw(TOR_LINE)
    response = conn.request("GET", "/")
    for value in response.all("Server"):
        assert not any(ch.isdigit() for ch in value)


def test_oversized_request_lines_and_headers_are_refused(served: tuple[Path, Path]) -> None:
    sock_path, _ = served
    conn = connect(sock_path)
    conn.send_raw(TOR_LINE)
    assert conn.request("GET", "/" + "a" * 3000).status in (400, 414)
    conn = connect(sock_path)
    conn.send_raw(TOR_LINE)
    assert conn.request("GET", "/", headers={"X-Big": "b" * 5000}).status in (400, 431)
    conn = connect(sock_path)
    conn.send_raw(TOR_LINE)
    many = {f"X-H{i}": "v" for i in range(60)}
    assert conn.request("GET", "/", headers=many).status in (400, 431)


def test_a_visitor_cannot_name_another_circuit(served: tuple[Path, Path]) -> None:
    sock_path, _ = served
    # Given tor's line for the visitor's circuit, the visitor's own bytes follow it: a second PROXY line
    # claiming circuit 7, before or between requests, is a malformed request, never a new circuit
    conn = connect(sock_path)
    conn.send_raw(TOR_LINE + OTHER_LINE)
    assert conn.request("GET", "/").status == 400
    conn = connect(sock_path)
    conn.send_raw(TOR_LINE)
    assert json.loads(conn.request("GET", "/").body)["circuit"] == str(0x2A0001)
    conn.send_raw(OTHER_LINE)
    answer = conn.request("GET", "/again")
    assert answer.status == 400 or json.loads(answer.body)["circuit"] == str(0x2A0001)
