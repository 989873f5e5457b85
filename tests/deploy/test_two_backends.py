"""Scale-out: two app processes (two gunicorn backends, as behind Onionbalance) on one PostgreSQL database,
with concurrent submissions. One export then holds every receipted request exactly once.

And how the queue behaves across backends, each with its own copy of the instance folder (same server key and
receipt secret): bundle numbers and serials come from the shared database, so exports from either backend
continue one sequence; an acknowledgement applied on one backend is a replay on the other; per-circuit
limits live in each worker process, so a circuit id limited on one backend is not limited on another (a Tor
circuit reaches one backend only: circuit ids are per tor process). Through real Tor and Onionbalance:
tests/deploy/test_onionbalance.py."""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
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


def _export(folder: Path, env: dict[str, str], name: str) -> list[tuple[int, bytes, bytes]]:
    """`intake export` from this backend's folder; (bundle number, entry id, digest) of every entry."""
    import crypto
    from intake.config import IntakeConfig
    from intake.instance import Instance
    from tests.deploy.intake_helpers import run_intake

    out = folder.parent / name
    run_intake(["export", "--out", str(out)], env)
    server = Instance(IntakeConfig(instance_dir=folder, database_url=env["INTAKE_DATABASE_URL"])).server_key()
    bundle = crypto.read_bundle(out, expected_server=server.public)
    return [(bundle.header.sequence, e.entry_id, crypto.envelope_digest(e.envelope)) for e in bundle.entries()]


def test_bundle_numbers_replays_and_limits_across_backends(postgres_url: str, short_tmp: Path) -> None:
    import crypto
    from intake.config import IntakeConfig
    from intake.instance import Instance
    from tests.deploy.intake_helpers import INTAKE, Browser, run_intake, set_up_instance

    # Given two backends with their own copies of one instance folder, on one database, one submission per
    # circuit per minute
    folders = [short_tmp / "one" / "instance", short_tmp / "two" / "instance"]
    folders[0].parent.mkdir()
    folders[0].mkdir(mode=0o700)
    limits = {"INTAKE_DATABASE_URL": postgres_url, "INTAKE_CIRCUIT_PER_MINUTE": "1", "INTAKE_GLOBAL_PER_MINUTE": "600"}
    envs = [{**os.environ, **limits, "INTAKE_INSTANCE_DIR": str(folder)} for folder in folders]
    caseworker = crypto.Identity.generate("caseworker")
    set_up_instance(folders[0], envs[0], caseworker)
    shutil.copytree(folders[0].parent, folders[1].parent)
    sockets = [short_tmp / "b1.sock", short_tmp / "b2.sock"]

    def submit(backend: int, circuit: int, story: str) -> int:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(60)
            sock.connect(str(sockets[backend]))
            conn = Connection(sock)
            conn.send_raw(proxy_line(circuit))
            return Browser(conn, "intake.onion").submit(story).status

    with gunicorn("intake.wsgi:app", sockets[0], short_tmp, env=envs[0]), \
            gunicorn("intake.wsgi:app", sockets[1], short_tmp, env=envs[1]):
        # When circuit 7 submits twice on backend 1, then once on backend 2
        assert submit(0, 7, "first, marker lim-1") == 200
        assert submit(0, 7, "second on the same backend, marker lim-2") == 429
        # Then the limit held on backend 1 only: each worker process keeps its own buckets
        assert submit(1, 7, "on the other backend, marker lim-3") == 200

        # When backend 1 exports, a new request arrives on backend 2, and backend 2 exports
        first = _export(folders[0], envs[0], "first.evb")
        assert submit(1, 8, "after the first export, marker lim-4") == 200
    second = _export(folders[1], envs[1], "second.evb")

    # Then the bundle numbers continue one sequence across backends, and the second bundle holds the first's
    # entries again (still unacknowledged) plus the new one
    assert {n for n, _, _ in first} == {1} and {n for n, _, _ in second} == {2}
    assert len(first) == 2 and len(second) == 3
    assert {e for _, e, _ in first} < {e for _, e, _ in second}

    # When the caseworker's acknowledgement of bundle 1 is applied on backend 2, then again on backend 1
    server = Instance(IntakeConfig(instance_dir=folders[0], database_url=postgres_url)).server_key().public
    ack = short_tmp / "ack.eva"
    ack.write_bytes(crypto.make_ack([crypto.AckEntry(e, d) for _, e, d in first], identity=caseworker,
                                    server=server, bundle_sequence=1, created_on=datetime.date.today()))
    applied = run_intake(["apply-ack", str(ack)], envs[1])
    assert "for bundle 1: deleted 2 envelope(s)" in applied.stdout
    replayed = subprocess.run([INTAKE, "apply-ack", str(ack)], env=envs[0],
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    # Then the replay is refused on the other backend: the record of applied acknowledgements is shared
    assert replayed.returncode != 0
    assert "applied before" in replayed.stdout + replayed.stderr
    # and the next export, from either backend, holds only what was not acknowledged, under bundle 3
    third = _export(folders[0], envs[0], "third.evb")
    assert [(n, e) for n, e, _ in third] == [(3, e) for _, e, _ in second if e not in {x for _, x, _ in first}]
