"""Crash safety: SIGKILL the whole gunicorn process group under concurrent load, restart, and count what a
receipt promised but the database lost.

    python -m bench.crash_bench [--quick] [--kills N]

The loop is tests/system/crashloop.py (the same one tests/system/test_crash_safety.py runs): gunicorn with
deploy/gunicorn.conf.py on 127.0.0.1, the embedded SQLite default, 6 visitor threads submitting through
real HTTP, every other submission with a file (issue 24); 5 kills with --quick, 20 otherwise. Target: 0 receipted
submissions lost, 0 of their files lost, 0 staged blobs left after the next start, 0 corrupt.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.common import Row, print_rows

QUICK_KILLS = 5
FULL_KILLS = 20


def collect(quick: bool = False, kills: int | None = None) -> list[Row]:
    from tests.system.crashloop import run_crash_loop

    count = kills if kills is not None else (QUICK_KILLS if quick else FULL_KILLS)
    workdir = Path(tempfile.mkdtemp(prefix="crash-bench-"))
    try:
        result = run_crash_loop(workdir, kills=count)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    receipted = len(result.receipted)
    not_found = len(set(result.lost) | set(result.unreachable))
    server_errors = sum(n for status, n in result.answers.items() if status >= 500)
    return [
        Row("crash: kill -9 of gunicorn under load", f"{count} kills", f"{FULL_KILLS} kills", count >= FULL_KILLS
            or None),
        Row("crash: receipted submissions", str(receipted), "reported", None),
        Row("crash: requests cut off by a kill", str(result.interrupted), "reported", None),
        Row("crash: receipted submissions lost", f"{not_found} of {receipted}", "0", not_found == 0 and receipted > 0),
        Row("crash: receipted submissions with a file; their files lost",
            f"{len(result.files)}; {len(result.lost_files)} of {len(result.files)}", "0 lost",
            not result.lost_files and bool(result.files)),
        Row("crash: staged blobs left after the next start", str(result.staged_left), "0", result.staged_left == 0),
        Row("crash: corrupt envelopes", f"{result.corrupt} of {result.stored}", "0", result.corrupt == 0),
        Row("crash: integrity_check, export", f"{result.integrity}, {result.exported}/{result.stored}", "ok, all",
            result.integrity == "ok" and result.exported == result.stored),
        Row("crash: 5xx answers under kills", str(server_errors), "0", server_errors == 0),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_KILLS} kills instead of {FULL_KILLS}")
    parser.add_argument("--kills", type=int, default=None, help="number of kills (overrides --quick)")
    args = parser.parse_args(argv)
    rows = collect(args.quick, args.kills)
    print_rows("crash benchmark" + (" (quick)" if args.quick else ""), rows)
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
