"""A 10 MiB file posted with the request form through the production gunicorn configuration, against a
plaintext baseline streaming the same body through the same parser into the same database.

    python -m bench.upload_bench [--quick]

Both apps run under gunicorn with deploy/gunicorn.conf.py and deploy/systemd/intake.service's malloc setting
(``MALLOC_ARENA_MAX``, bench/intake_bench.py's ``PRODUCTION_ENV``) (the circuit worker, which streams the body of
``POST /<lang>/request`` with multipart to the app under the upload's rate and cap), reached as tor reaches
intake: a PROXY line naming a fresh circuit per upload (bench/intake_bench.py's ``serve``). Each upload is
what a browser does: GET the form page (cookie, CSRF token, one-time token), then POST multipart/form-data
with the text fields and the file part in the page's order.

* intake: the production app (intake.wsgi:app): the file sealed chunk by chunk as it arrives, staged in
  512 KiB chunk rows (intake.blobs.CHUNK_ROW), the envelope sealed and stored with its manifest, the receipt page;
* baseline (``make_baseline()``): a small WSGI app, no Flask, the same body through the same parser
  (python-multipart's MultipartParser driven by intake.multipart's reader, the same read size), the file
  kept as PLAINTEXT chunk rows of the same size in the same database engine (intake.database.Database:
  SQLite, WAL, synchronous=FULL, secure_delete, the write queue), each row committed in its own
  transaction as intake's BlobWriter does, then one commit storing the text fields as plaintext JSON and
  tying the file to them; its form page is a static copy of intake's.

Server CPU (master, workers and their reaped children, from /proc) over rounds of uploads, in an order that
rotates and reverses from round to round (the form page's GET included: it is small beside 10 MiB); the
ratio is the median of the per-round ratios, with its spread. Then memory: 8 uploads at once on 8 circuits,
each paced to about 1 MiB/s so that all are in progress together (as over Tor); the summed RSS of intake's
worker processes (VmRSS from /proc, sampled every 20 ms), peak above idle (after a small warm-up upload),
per upload; the baseline's the same way, for comparison. Refusals for the worker's uploads-at-once cap (503,
four per worker process) are retried and counted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import Row, print_rows
from bench.intake_bench import FORM, RECEIPT_SHOWN, Server, serve
from bench.loadgen import Stream, csrf_token, fresh_circuit, once_token, server_cpu_seconds

MiB = 1 << 20
FILE_BYTES = 10 * MiB
PATH = "/ru/request"
PACE = MiB  # bytes a second per upload in the memory run
AT_ONCE = 8


# --- the baseline app (runs in gunicorn's workers) ------------------------------------------------------


def make_baseline() -> Any:
    from python_multipart.multipart import MultipartParser

    from intake import multipart
    from intake.blobs import CHUNK_ROW
    from intake.database import Database

    database = Database(f"sqlite:///{os.environ['BENCH_UPLOAD_DB']}")
    with open(os.environ["BENCH_STATIC_PAGE"], "rb") as page_file:
        page = page_file.read()
    limits = multipart.FileLimits(max_files=5, max_file_bytes=25 * MiB, max_total_bytes=50 * MiB,
                                  max_text_bytes=64 * 1024, max_parts=64)  # fmt: skip

    class PlainRows:
        """A file kept as plaintext rows of CHUNK_ROW bytes, each committed in its own transaction."""

        def __init__(self) -> None:
            self.blob_id = os.urandom(16)
            self.buffer = bytearray()
            self.seq = 0

        def write(self, data: bytes) -> None:
            self.buffer += data
            while len(self.buffer) >= CHUNK_ROW:
                with memoryview(self.buffer) as view:  # as intake's BlobWriter: one copy of the row
                    row = bytes(view[:CHUNK_ROW])
                self._flush(row)
                del row
                del self.buffer[:CHUNK_ROW]

        def close(self) -> None:
            if self.buffer or not self.seq:
                self._flush(bytes(self.buffer))
                self.buffer.clear()

        def _flush(self, data: bytes) -> None:
            with database.writing() as conn:
                driver = conn.connection.driver_connection
                if not self.seq:
                    driver.execute("INSERT INTO files (id, request_id, size) VALUES (?, NULL, 0)", (self.blob_id,))
                driver.execute("INSERT INTO chunks (file_id, seq, data) VALUES (?, ?, ?)", (self.blob_id, self.seq,
                                                                                           data))  # fmt: skip
                driver.execute("UPDATE files SET size = size + ? WHERE id = ?", (len(data), self.blob_id))
            self.seq += 1

    class Plain:
        """In place of the FileSealer: the bytes as they came."""

        def write(self, data: bytes) -> bytes:
            return data

        def finish(self) -> tuple[bytes, Any]:
            return b"", None

    class PlainReader(multipart._Reader):
        def _start_file(self, name: str, claimed_type: str) -> None:
            super()._start_file(name, claimed_type)
            if self.kind == "file":
                self.sealer = Plain()  # type: ignore[assignment]

    def read(environ: dict[str, Any]) -> multipart.Upload:
        """intake.multipart.read_multipart's loop, with the plain reader."""
        length = int(environ["CONTENT_LENGTH"])
        reader = PlainReader(limits, PlainRows, lambda _fields: True)
        callbacks: Any = {name: getattr(reader, name) for name in (
            "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value", "on_header_end",
            "on_headers_finished", "on_end")}  # fmt: skip
        parser = MultipartParser(multipart.boundary_of(environ["CONTENT_TYPE"]), callbacks, max_header_count=8,
                                 max_header_size=8192)  # fmt: skip
        stream, remaining = environ["wsgi.input"], length
        while remaining > 0 and not reader.ended:
            data = stream.read(min(multipart.READ, remaining))
            if not data:
                break
            remaining -= len(data)
            parser.write(data)
        if not reader.ended:
            raise ValueError("the body ended early")
        return reader.upload

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))])
            return [page]
        upload = read(environ)
        fields = {key: upload.fields.getlist(key) for key in upload.fields}
        with database.writing() as conn:
            driver = conn.connection.driver_connection
            stored = driver.execute("INSERT INTO requests (body, received_on) VALUES (?, ?)",
                                    (json.dumps(fields, ensure_ascii=False), datetime.date.today().isoformat())
                                    ).lastrowid  # fmt: skip
            for received in upload.files:
                driver.execute("UPDATE files SET request_id = ? WHERE id = ?", (stored, received.blob_id))
        answer = f"stored {stored}: {len(upload.files)} file(s)".encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
        return [answer]

    return app


def prepare_baseline(path: Path) -> None:
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, body TEXT NOT NULL, received_on TEXT NOT NULL)")
        conn.execute("CREATE TABLE files (id BLOB PRIMARY KEY, request_id INTEGER, size INTEGER NOT NULL) "
                     "WITHOUT ROWID")  # fmt: skip
        conn.execute("CREATE TABLE chunks (file_id BLOB NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, "
                     "PRIMARY KEY (file_id, seq)) WITHOUT ROWID")  # fmt: skip


# --- the client: a browser posting the form with a file --------------------------------------------------


def multipart_body(page: bytes, content: bytes) -> tuple[bytes, str]:
    """The form as a browser posts it: its fields in the page's order, the file where its input is."""
    boundary = "----WebKitFormBoundary" + os.urandom(8).hex()
    values: dict[str, str | list[str]] = {**FORM, "csrf_token": csrf_token(page), **once_token(page)}
    order = list(dict.fromkeys(n.decode() for n in re.findall(rb'name="([^"]+)"', page)))
    order += [name for name in values if name not in order]
    out = bytearray()
    for name in order:
        if name == "files":
            out += (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="summons.jpg"\r\n'
                    "Content-Type: image/jpeg\r\n\r\n").encode() + content + b"\r\n"  # fmt: skip
            continue
        value = values.get(name)
        for one in [] if value is None else value if isinstance(value, list) else [value]:
            out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{one}\r\n'.encode()
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def upload(server: Server, content: bytes, accepted: bytes, pace: int = 0) -> int:
    """GET the form, POST it with the file (at ``pace`` bytes a second when given); the POST's status."""
    stream = Stream(server.socket, fresh_circuit(), timeout=120)
    try:
        status, page = stream.request("GET", PATH)
        if status != 200:
            raise RuntimeError(f"GET {PATH} gave {status}")
        body, content_type = multipart_body(page, content)
        head = [f"POST {PATH} HTTP/1.1", "Host: bench.onion", f"Content-Type: {content_type}",
                f"Content-Length: {len(body)}", "Origin: http://bench.onion", f"Referer: http://bench.onion{PATH}"]
        if stream.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in stream.cookies.items()))
        stream.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        start, piece = time.monotonic(), 64 * 1024
        try:
            for at in range(0, len(body), piece):
                stream.sock.sendall(body[at : at + piece])
                if pace:
                    time.sleep(max(0.0, start + (at + piece) / pace - time.monotonic()))
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the body was read (503): the answer is waiting
        status, answer = stream._response()
        if status == 200 and accepted not in answer:
            raise RuntimeError("the upload was not accepted")
        return status
    finally:
        stream.close()


def _round(server: Server, content: bytes, accepted: bytes, count: int) -> float:
    """Server CPU seconds for ``count`` uploads, one after the other."""
    before = server_cpu_seconds(server.master)
    for _ in range(count):
        status = upload(server, content, accepted)
        if status != 200:
            raise RuntimeError(f"an upload gave {status}")
    return server_cpu_seconds(server.master) - before


def workers_rss(master: int) -> int:
    """Summed VmRSS (bytes) of the master's children: the worker processes."""
    with open(f"/proc/{master}/task/{master}/children") as children:
        pids = [int(pid) for pid in children.read().split()]
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) * 1024
        except (FileNotFoundError, StopIteration):
            continue
    return total


def memory_at_once(server: Server, content: bytes, accepted: bytes) -> tuple[int, int, int]:
    """(idle RSS, peak RSS, uploads refused and retried) while AT_ONCE paced uploads run together."""
    upload(server, content[: 100 * 1024], accepted)  # warm-up: every code path of an upload, small
    time.sleep(0.5)
    idle = workers_rss(server.master)
    peak, done, retried, errors = idle, threading.Event(), [0], []

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, workers_rss(server.master))
            time.sleep(0.02)

    def person() -> None:
        try:
            for _ in range(50):
                status = upload(server, content, accepted, pace=PACE)
                if status == 200:
                    return
                if status != 503:
                    raise RuntimeError(f"an upload gave {status}")
                retried[0] += 1
                time.sleep(0.2)
            raise RuntimeError("an upload was refused 50 times")
        except Exception as error:
            errors.append(error)

    sampler = threading.Thread(target=sample)
    sampler.start()
    people = [threading.Thread(target=person) for _ in range(AT_ONCE)]
    for t in people:
        t.start()
    for t in people:
        t.join()
    done.set()
    sampler.join()
    if errors:
        raise errors[0]
    return idle, peak, retried[0]


def _prepare(work: Path) -> dict[str, str]:
    from bench.intake_bench import _prepare as prepare_intake

    env, _identity = prepare_intake(work)
    prepare_baseline(work / "upload-baseline.db")
    return {**env, "BENCH_UPLOAD_DB": str(work / "upload-baseline.db"), "BENCH_STATIC_PAGE": str(work / "form.html")}


def collect(quick: bool = False, *, rounds: int = 0, count: int = 0) -> list[Row]:
    rounds, count = rounds or (3 if quick else 6), count or (2 if quick else 4)
    content = os.urandom(FILE_BYTES)
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="evac-upbench-", dir="/tmp"))  # short: Unix socket paths
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        env = _prepare(work)
        intake = stack.enter_context(serve("intake.wsgi:app", work, "intake", env))
        stream = Stream(intake.socket, fresh_circuit())
        try:
            (work / "form.html").write_bytes(stream.request("GET", PATH)[1])
        finally:
            stream.close()
        baseline = stack.enter_context(serve("bench.upload_bench:make_baseline()", work, "baseline", env))
        servers = {"intake": (intake, RECEIPT_SHOWN), "baseline": (baseline, b"stored")}
        body_mib = len(multipart_body((work / "form.html").read_bytes(), content)[0]) / MiB
        for server, accepted in servers.values():  # warm up: imports, templates, connections, both workers
            _round(server, content, accepted, 2)
        loadavg = os.getloadavg()
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        names = list(servers)
        for n in range(rounds):
            order = names[n % len(names):] + names[: n % len(names)]
            for name in reversed(order) if n % 2 else order:
                server, accepted = servers[name]
                cpu[name].append(_round(server, content, accepted, count) / (count * FILE_BYTES / MiB))
        idle, peak, retried = memory_at_once(intake, content, RECEIPT_SHOWN)
        base_idle, base_peak, _ = memory_at_once(baseline, content, b"stored")
        loadavg_after = os.getloadavg()
    ratios = [i / b for i, b in zip(cpu["intake"], cpu["baseline"], strict=True)]
    ratio = statistics.median(ratios)
    per_upload = (peak - idle) / AT_ONCE / MiB
    ms = lambda name: statistics.median(cpu[name]) * 1000  # noqa: E731
    return [
        Row("10 MiB upload: server CPU per MiB vs plaintext baseline",
            f"{ratio:.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]", "<= 1.50x", ratio <= 1.5),
        Row("  server CPU ms per MiB intake / baseline", f"{ms('intake'):.1f} / {ms('baseline'):.1f}", "report", None),
        Row("  rounds x uploads per app, body MiB", f"{rounds} x {count}, {body_mib:.2f}", "report", None),
        Row(f"upload memory: worker RSS above idle per upload ({AT_ONCE} at once)", f"{per_upload:.2f} MiB",
            "<= 2 MiB", per_upload <= 2),
        Row("  worker RSS idle / peak; 503s retried", f"{idle / MiB:.0f} / {peak / MiB:.0f} MiB; {retried}", "report",
            None),
        Row(f"  baseline worker RSS above idle per upload ({AT_ONCE} at once)",
            f"{(base_peak - base_idle) / AT_ONCE / MiB:.2f} MiB", "report", None),
        Row("machine load (1-minute average, before/after)", f"{loadavg[0]:.1f}/{loadavg_after[0]:.1f}", "report",
            None),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three rounds of two uploads: a smoke run")
    parser.add_argument("--rounds", type=int, default=0, help="rounds (default 6; 3 with --quick)")
    parser.add_argument("--count", type=int, default=0, help="uploads per app per round (default 4; 2 with --quick)")
    args = parser.parse_args(argv)
    print_rows("upload (10 MiB file)" + (" (quick)" if args.quick else ""),
               collect(args.quick, rounds=args.rounds, count=args.count))  # fmt: skip


if __name__ == "__main__":
    main()
