"""Scale-out: two app processes (two gunicorn backends, as behind Onionbalance) on one PostgreSQL database,
with concurrent submissions. One export then holds every receipted request exactly once."""

from __future__ import annotations

import os
import socket
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.deploy.rawhttp import Connection
from tests.deploy.servers import gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SUBMISSIONS = 24


def proxy_line(circuit: int) -> bytes:
    return f"PROXY TCP6 fc00:dead:beef:4dad::{circuit >> 16:x}:{circuit & 0xFFFF:x} ::1 65535 0\r\n".encode()


def test_two_backends_on_one_database_lose_and_duplicate_nothing(postgres_url: str, short_tmp: Path) -> None:
    import crypto
    from tests.deploy.intake_helpers import Browser, export_and_open, receipt_of, set_up_instance

    # Given one instance (the backends share its key and receipt secret) on one PostgreSQL database
    folder = short_tmp / "instance"
    folder.mkdir(mode=0o700)
    env = {**os.environ, "INTAKE_INSTANCE_DIR": str(folder), "INTAKE_DATABASE_URL": postgres_url,
           "INTAKE_CIRCUIT_PER_MINUTE": "1000", "INTAKE_GLOBAL_PER_MINUTE": "100000"}
    caseworker = crypto.Identity.generate("caseworker")
    set_up_instance(folder, env, caseworker)
    sockets = [short_tmp / "backend1.sock", short_tmp / "backend2.sock"]

    def submit(n: int) -> tuple[str, str]:
        # every visitor on its own circuit, alternating between the two backends
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(60)
        sock.connect(str(sockets[n % 2]))
        conn = Connection(sock)
        conn.send_raw(proxy_line(1000 + n))
        story = f"Request number {n} of the scale-out test, marker {n:04d}-scale"
        try:
            response = Browser(conn, "intake.onion").submit(story)
        finally:
            sock.close()
        assert response.status == 200, response.body[:300]
        return story, receipt_of(response.body)

    # When both backends take submissions at the same time
    with gunicorn("intake.wsgi:app", sockets[0], short_tmp, env=env, extra=["--threads", "4"]), \
            gunicorn("intake.wsgi:app", sockets[1], short_tmp, env=env, extra=["--threads", "4"]), \
            ThreadPoolExecutor(max_workers=8) as pool:
        receipted = list(pool.map(submit, range(SUBMISSIONS)))

    # Then every visitor got a distinct receipt, and one export holds each receipted request exactly once
    assert len({receipt for _, receipt in receipted}) == SUBMISSIONS
    opened = export_and_open(folder, env, caseworker)
    counts = Counter(str(request["story"]) for request in opened)
    assert counts == Counter(story for story, _ in receipted)
