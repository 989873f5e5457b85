"""Accepted submissions per second through gunicorn: intake (CSRF, seal, durable commit) against a minimal
Flask app that stores the same form as plaintext in the same kind of database (SQLite, WAL, synchronous=FULL).

    python -m bench.intake_bench [--quick]

Both apps run under gunicorn with the same number of sync workers on 127.0.0.1; 32 client threads send
a bounded number of POSTs each; rounds alternate between the two. Reported: the ratio of medians of
accepted submissions per second (target >= 0.8), the p99 latency of each at 32 clients, and the form
page's bytes and request count.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.common import Row, print_rows

CLIENTS = 32
WORKERS = 4
FORM = {
    "danger": "immediate", "threat_from": ["family", "authorities"], "detention": "recent", "location": "chechnya",
    "people": "3", "children": "1", "documents": ["internal_passport"], "health": "нужен инсулин",
    "contact_method": "signal", "contact": "@someone", "safe_times": "вечером", "alias": "Р.",
    "story": "Они пришли ночью и угрожали. " * 40, "consent": "y",
}  # fmt: skip


def make_baseline() -> Any:
    """The baseline: a minimal Flask app that stores the posted form as plaintext JSON in SQLite."""
    from flask import Flask, request

    path = os.environ["BENCH_BASELINE_DB"]
    app = Flask("baseline")
    local = threading.local()

    def db() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
                conn.execute(f"PRAGMA {pragma}")
            local.conn = conn
        return local.conn  # type: ignore[no-any-return]

    @app.post("/submit")
    def submit() -> tuple[str, int]:
        form = {k: request.form.getlist(k) for k in request.form}
        conn = db()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO requests (body, received_on) VALUES (?, ?)",
                     (json.dumps(form, ensure_ascii=False), datetime.date.today().isoformat()))  # fmt: skip
        conn.execute("COMMIT")
        return "stored", 200

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(target: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", "sync",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning", target]  # fmt: skip
    process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def _request(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def _session(port: int) -> tuple[dict[str, str], bytes]:
    """Cookie header and urlencoded body with a valid CSRF token for intake."""
    status, headers, body = _request(port, "GET", "/ru/request")
    assert status == 200
    cookie = next(v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body)
    assert token
    data = urllib.parse.urlencode({**FORM, "csrf_token": token.group(1).decode()}, doseq=True).encode()
    return {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}, data


def _load(port: int, path: str, sessions: list[tuple[dict[str, str], bytes]], per_client: int,
          accepted: bytes) -> tuple[float, list[float]]:  # fmt: skip
    latencies: list[list[float]] = [[] for _ in sessions]
    failures = []

    def client(n: int) -> None:
        headers, body = sessions[n]
        for _ in range(per_client):
            start = time.perf_counter()
            status, _headers, page = _request(port, "POST", path, body, headers)
            latencies[n].append(time.perf_counter() - start)
            if status != 200 or accepted not in page:
                failures.append(status)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(sessions))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} submissions were not accepted (e.g. {failures[0]})")
    flat = [x for per in latencies for x in per]
    return len(flat) / elapsed, flat


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def _form_weight(port: int) -> tuple[int, int]:
    status, headers, body = _request(port, "GET", "/ru/request")
    assert status == 200
    header_bytes = sum(len(k) + len(v) + 4 for k, v in headers)
    subresources = re.findall(rb'<(?:link|script|img)\b[^>]*(?:href|src)="', body)
    return len(body) + header_bytes, 1 + len(subresources)


def _prepare(work: Path) -> dict[str, str]:
    import crypto
    from intake.config import IntakeConfig
    from intake.instance import Instance
    from intake.storage import Storage

    config = IntakeConfig(instance_dir=work / "instance")
    Instance(config).initialize()
    storage = Storage(config.database_url)
    storage.add_recipient(crypto.Identity.generate("bench").public, datetime.date.today())
    storage.dispose()
    baseline_db = work / "baseline.db"
    with sqlite3.connect(baseline_db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, body TEXT NOT NULL, received_on TEXT NOT NULL)")
    return {"INTAKE_INSTANCE_DIR": str(config.instance_dir), "INTAKE_MAX_PENDING": "10000000",
            "INTAKE_GLOBAL_PER_MINUTE": "100000000", "INTAKE_CIRCUIT_PER_MINUTE": "100000000",
            "BENCH_BASELINE_DB": str(baseline_db)}  # fmt: skip


def collect(quick: bool = False) -> list[Row]:
    per_client, rounds = (5, 1) if quick else (25, 3)
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as folder:
        env = _prepare(Path(folder))
        intake, intake_port = _start("intake.wsgi:app", env)
        baseline, baseline_port = _start("bench.intake_bench:make_baseline()", env)
        try:
            sessions = [_session(intake_port) for _ in range(CLIENTS)]
            plain = [({"Content-Type": "application/x-www-form-urlencoded"}, sessions[0][1])] * CLIENTS
            _load(intake_port, "/ru/request", sessions, 2, b'id="receipt"')  # warm up both
            _load(baseline_port, "/submit", plain, 2, b"stored")
            ratios, intake_lat, base_lat = [], [], []
            for _ in range(rounds):
                rate, lat = _load(intake_port, "/ru/request", sessions, per_client, b'id="receipt"')
                base_rate, blat = _load(baseline_port, "/submit", plain, per_client, b"stored")
                ratios.append(rate / base_rate)
                intake_lat += lat
                base_lat += blat
            page_bytes, page_requests = _form_weight(intake_port)
        finally:
            for process in (intake, baseline):
                process.terminate()
                process.wait(timeout=30)
    ratio = statistics.median(ratios)
    return [
        Row("intake submissions/s vs plaintext Flask", f"{ratio:.2f}x", ">= 0.80x", ratio >= 0.8),
        Row(f"intake p99 at {CLIENTS} clients", f"{_p99(intake_lat) * 1000:.0f} ms", "report", None),
        Row(f"baseline p99 at {CLIENTS} clients", f"{_p99(base_lat) * 1000:.0f} ms", "report", None),
        Row("form page bytes (body + headers)", f"{page_bytes}", "<= 20000", page_bytes <= 20_000),
        Row("form page requests", f"{page_requests}", "<= 2", page_requests <= 2),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few requests and one round, for a smoke run")
    args = parser.parse_args(argv)
    print_rows("intake", collect(args.quick))


if __name__ == "__main__":
    main()
