"""A real person inside a flood (issue 21 item 4): production limits, 200 circuits running journeys.

    python -m bench.flood_bench [--quick]

intake runs under gunicorn with deploy/gunicorn.conf.py and its default limits (6 submissions a circuit a
minute, burst 2; 60 a minute for everyone (burst 600) and a newcomer reserve, per worker; the pending cap). A flood of
200 circuits, each a simulated client that keeps walking the journey (GET the form, POST it) on its own
circuit as fast as the server answers, runs from load-generator processes of their own; beside it a real
person arrives every five seconds on a fresh circuit and walks the journey once. Every POST is what a browser
sends for the form (it has a file input): multipart/form-data, the page's hidden tokens first, the file input
left empty. Printed: the share
of the person's attempts that got a receipt, their journey time, how many flood journeys were stored a
minute and so how long the pending cap would last, and, in a separate measurement, the server CPU of a
refusal (429, the answers kept) against that of an acceptance. Ratios and shares, never absolute verdicts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from bench.common import Row, print_rows
from bench.intake_bench import FORM, RECEIPT_SHOWN, _prepare, serve
from bench.loadgen import MULTIPART, Stream, csrf_token, once_token, percentile, server_cpu_seconds

FLOOD_CIRCUITS = 200
PERSON_FIRST_CIRCUIT = 10_000_000
MAX_PENDING = 20_000  # intake's default


def _journey(stream: Stream) -> int:
    status, page = stream.request("GET", "/ru/request")
    if status != 200:
        return status
    # As a browser posts the form (it has a file input): multipart, the page's hidden tokens first.
    status, answer = stream.request("POST", "/ru/request", {"csrf_token": csrf_token(page), **once_token(page),
                                                            **FORM}, MULTIPART)  # fmt: skip
    return 200 if status == 200 and RECEIPT_SHOWN in answer else (status if status != 200 else 0)


def _flood(socket_path: Path, circuits: list[int], seconds: float) -> dict[int, int]:
    """In a load-generator process: each circuit walks journeys until ``seconds`` pass; counts answers."""
    stop = time.monotonic() + seconds
    counts: Counter[int] = Counter()
    lock = threading.Lock()

    def client(circuit: int) -> None:
        while time.monotonic() < stop:
            try:
                stream = Stream(socket_path, circuit, timeout=30)
                try:
                    status = _journey(stream)
                finally:
                    stream.close()
            except (OSError, ConnectionError, ValueError):
                status = -1  # the stream was closed or timed out: the flood's problem, counted
            with lock:
                counts[status] += 1

    threads = [threading.Thread(target=client, args=(c,)) for c in circuits]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict(counts)


def _person(socket_path: Path, attempts: int, every: float) -> list[tuple[int, float]]:
    """A real person: each attempt on a fresh circuit, one journey; (the answer, 200 for a receipt; seconds)."""
    results = []
    for n in range(attempts):
        start = time.monotonic()
        try:
            stream = Stream(socket_path, PERSON_FIRST_CIRCUIT + n, timeout=60)
            try:
                status = _journey(stream)
            finally:
                stream.close()
        except (OSError, ConnectionError, ValueError):
            status = -1
        elapsed = time.monotonic() - start
        results.append((status, elapsed))
        time.sleep(max(0.0, every - elapsed))
    return results


def _cost_per_post(socket_path: Path, master: int, circuit: int, count: int) -> float:
    """Server CPU per POST of ``count`` submissions on one circuit, one session (the GET is not counted)."""
    stream = Stream(socket_path, circuit)
    try:
        _status, page = stream.request("GET", "/ru/request")
        fields = {"csrf_token": csrf_token(page), **FORM}
        before = server_cpu_seconds(master)
        for _ in range(count):
            stream.request("POST", "/ru/request", fields, MULTIPART)
        return (server_cpu_seconds(master) - before) / count
    finally:
        stream.close()


def collect(quick: bool = False, *, seconds: float = 0.0) -> list[Row]:
    seconds = seconds or (40.0 if quick else 120.0)
    every = 5.0
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="evac-flood-", dir="/tmp"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        env, _identity = _prepare(work)
        production = {k: v for k, v in env.items() if not k.startswith("INTAKE_") or k == "INTAKE_INSTANCE_DIR"}
        intake = stack.enter_context(serve("intake.wsgi:app", work, "intake", production))
        pool = stack.enter_context(ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")))
        circuits = list(range(1, FLOOD_CIRCUITS + 1))
        cpu_before = server_cpu_seconds(intake.master)
        floods = [pool.submit(_flood, intake.socket, circuits[i::2], seconds) for i in range(2)]
        time.sleep(2.0)  # the flood is on before the person arrives
        person = _person(intake.socket, int((seconds - 4.0) / every), every)
        counts: Counter[int] = Counter()
        for flood in floods:
            counts.update(flood.result())
        cpu = server_cpu_seconds(intake.master) - cpu_before
        # The cost of a refusal against an acceptance, apart from the flood: on a server whose per-circuit
        # limit is high, acceptances; on one whose limit is spent, refusals (the answers kept).
        relaxed = {**production, "INTAKE_CIRCUIT_PER_MINUTE": "100000000", "INTAKE_GLOBAL_PER_MINUTE": "100000000",
                   "INTAKE_MAX_PENDING": "100000000"}  # fmt: skip
        n = 60 if quick else 200
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="evac-flood-", dir="/tmp"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        env, _identity = _prepare(work)
        relaxed["INTAKE_INSTANCE_DIR"] = env["INTAKE_INSTANCE_DIR"]
        server = stack.enter_context(serve("intake.wsgi:app", work, "accepting", relaxed))
        _cost_per_post(server.socket, server.master, 5, 10)  # warm up
        accept = _cost_per_post(server.socket, server.master, 6, n)
        strict = {**relaxed, "INTAKE_CIRCUIT_PER_MINUTE": "1"}
        refusing = stack.enter_context(serve("intake.wsgi:app", work, "refusing", strict))
        _cost_per_post(refusing.socket, refusing.master, 7, 10)  # warm up (and the circuit's budget spent)
        refuse = _cost_per_post(refusing.socket, refusing.master, 7, n)
    got = [status == 200 for status, _ in person]
    refused = Counter(status for status, _ in person if status != 200)
    times = [t for _, t in person]
    stored_per_minute = counts[200] / seconds * 60
    fill_minutes = MAX_PENDING / stored_per_minute if stored_per_minute else float("inf")
    flood_total = sum(counts.values())
    share = sum(got) / len(got)
    return [
        Row(f"flood: a real person's attempts with a receipt ({len(got)} attempts)", f"{share:.0%}", ">= 95%",
            share >= 0.95),
        Row("flood: the person's other answers (status: count; -1 a closed stream)",
            ", ".join(f"{k}: {v}" for k, v in sorted(refused.items())) or "none", "report", None),
        Row("flood: the person's journey p50 / p99", f"{statistics.median(times):.2f} / {percentile(times, 99):.2f} s",
            "report", None),
        Row(f"flood: {FLOOD_CIRCUITS} circuits' journeys (stored / 429 / other)",
            f"{counts[200]} / {counts[429]} / {flood_total - counts[200] - counts[429]}", "report", None),
        Row("flood: stored a minute, and minutes until the pending cap (20,000)",
            f"{stored_per_minute:.0f}/min, {fill_minutes:.0f} min", ">= 60 min", fill_minutes >= 60),
        Row("flood: server CPU per flood journey", f"{cpu / max(1, flood_total) * 1000:.1f} ms", "report", None),
        Row("refusal (429, answers kept) vs acceptance: server CPU each", f"{refuse / accept:.2f}x", "< 1.00x",
            refuse < accept),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 40-second flood instead of two minutes")
    parser.add_argument("--seconds", type=float, default=0.0, help="how long the flood lasts")
    args = parser.parse_args(argv)
    print_rows("flood", collect(args.quick, seconds=args.seconds))


if __name__ == "__main__":
    main()
