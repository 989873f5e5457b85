"""The desk's queue page over N cases against `triage list --json` over the same cases, in the same run.

    python -m bench.desk_bench [--count 10000] [--rounds 3]

One caseworker home with N imported requests (the same generator as bench/triage_bench.py). The desk
runs in this process on loopback, unlocked once, like `triage desk` after the passphrase; each page is
fetched over real HTTP with the desk's cookie. Timed, alternating, best of ``rounds``:

* ``list``: `triage list --json` as a subprocess (start, argon2id unlock, open every case, print);
* ``list_minus_unlock``: the same less `triage info` (start + unlock + count), its fixed cost;
* ``queue_cold``: GET / with the desk's in-memory queue dropped first (every case opened again);
* ``queue_warm``: GET / again (the queue kept in memory since the last change);
* ``case``: GET /case/ID, the median over 20 cases.

Targets: the cold queue page <= 1.5x `triage list --json` (PRODUCT.md, "Desk").
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import crypto
from bench import triage_bench
from bench.common import Row, print_rows
from bench.triage_bench import PASSPHRASE, TODAY
from triage.config import TriageConfig
from triage.home import Home
from triage.identities import Keygen
from triage.operations import Session, unlock
from triage.policy import load_policy

TARGET = 1.5


def build(workdir: Path, count: int) -> tuple[Path, Path]:
    """A caseworker home with ``count`` imported requests (bench/triage_bench.py's generator), imported
    with the server fingerprint given, as the first import now requires."""
    home, passphrase_file = workdir / "home", workdir / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    new = Keygen(Home(home), kdf=crypto.KDF_PRODUCTION).create("Bench", PASSPHRASE)
    triage_bench._recipients[:] = [new.public]
    server = crypto.ServerKey.generate()
    bundle = workdir / "export.bundle"
    with multiprocessing.get_context("fork").Pool() as pool, bundle.open("wb") as out:
        envelopes = pool.imap(triage_bench._seal, range(count), chunksize=64)
        entries = (crypto.BundleEntry(os.urandom(16), i + 1, env) for i, env in enumerate(envelopes))
        crypto.write_bundle(out, entries, count=count, server_key=server, sequence=1, high_water=count,
                            created_on=TODAY)  # fmt: skip
    command = [sys.executable, "-m", "triage.cli", "--home", str(home), "--passphrase-file", str(passphrase_file)]
    subprocess.run([*command, "import", "--fingerprint", server.public.fingerprint, str(bundle)], check=True,
                   capture_output=True)  # fmt: skip
    return home, passphrase_file


def _run(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def _fetch(opener: urllib.request.OpenerDirector, url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with opener.open(url, timeout=600) as response:
        body = response.read()
    return time.perf_counter() - start, body


def measure(count: int, workdir: Path, rounds: int) -> dict[str, float]:
    from triage.desk import DeskState, create_app
    from triage.desk.serve import start

    home, passphrase_file = build(workdir, count)
    config = TriageConfig()
    state = DeskState(config, Home(home), load_policy(None), lang="ru")
    state.unlock_with(unlock(Home(home), PASSPHRASE, min_kdf=config.kdf))
    with Session.open(config, Home(home), state.identity) as session:  # type: ignore[arg-type]
        case_ids = [c.entry_id.hex() for c in session.list_cases(state.policy).cases[:: max(1, count // 20)]][:20]
    running = start(create_app(state), state)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    # What a browser says of a page the person opens (the desk answers nothing else)
    opener.addheaders = [("Sec-Fetch-Site", "none"), ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "document")]
    _fetch(opener, running.address)  # the one-time code for the session cookie, as the browser does once
    triage = [sys.executable, "-m", "triage.cli", "--home", str(home), "--passphrase-file", str(passphrase_file)]
    times: dict[str, list[float]] = {"list": [], "info": [], "queue_cold": [], "queue_warm": [], "case": []}
    try:
        for _ in range(rounds):
            times["list"].append(_run([*triage, "list", "--json"]))
            times["info"].append(_run([*triage, "info"]))
            state.queue = None
            elapsed, body = _fetch(opener, f"{running.base}/")
            assert b'table class="queue"' in body, body[:200]
            times["queue_cold"].append(elapsed)
            times["queue_warm"].append(_fetch(opener, f"{running.base}/")[0])
            times["case"].append(statistics.median(_fetch(opener, f"{running.base}/case/{state.cases.token(i)}")[0]
                                                   for i in case_ids))
    finally:
        running.stop()
    best = {name: min(values) for name, values in times.items()}
    list_minus_unlock = max(best["list"] - best["info"], 1e-6)
    return {
        "count": count, **{f"{name}_seconds": value for name, value in best.items()},
        "list_minus_unlock_seconds": list_minus_unlock,
        "queue_cold_ratio": best["queue_cold"] / best["list"],
        "queue_cold_ratio_minus_unlock": best["queue_cold"] / list_minus_unlock,
        "queue_warm_ratio": best["queue_warm"] / best["list"],
    }  # fmt: skip


def rows(m: dict[str, float]) -> list[Row]:
    n = f"n={int(m['count'])}"
    return [
        Row(f"desk queue page (cold) / triage list --json ({n})", f"{m['queue_cold_ratio']:.2f}x", f"<= {TARGET}x",
            m["queue_cold_ratio"] <= TARGET),
        Row(f"  same, against list --json less its unlock ({n})", f"{m['queue_cold_ratio_minus_unlock']:.2f}x",
            "reported", None),
        Row(f"  queue page, warm (kept in memory) ({n})", f"{m['queue_warm_ratio']:.2f}x", "reported", None),
        Row(f"desk case page, median ({n})", f"{m['case_seconds'] * 1000:.0f} ms", "reported", None),
    ]  # fmt: skip


def collect(quick: bool) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="desk-bench-"))
    try:
        return rows(measure(1000 if quick else 10_000, workdir, rounds=1 if quick else 3))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000, help="requests to build and import")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (best is reported)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="desk-bench-"))
    try:
        m = measure(args.count, workdir, args.rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(m, indent=2))
    report = rows(m)
    print_rows("desk benchmark", report)
    return 0 if all(r.ok is not False for r in report) else 1


if __name__ == "__main__":
    raise SystemExit(main())
