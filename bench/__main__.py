"""Run every benchmark and print one table: `python -m bench [--quick]`.

Each module in BENCHMARKS exposes ``collect(quick: bool) -> list[bench.common.Row]``.
"""

from __future__ import annotations

import argparse
import importlib
import traceback

from bench.common import Row, print_rows

BENCHMARKS = ["bench.crypto_bench", "bench.intake_bench", "bench.flood_bench", "bench.triage_bench", "bench.desk_bench",
              "bench.crash_bench", "bench.import_files_bench", "bench.upload_bench"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every benchmark and print one table of ratios.")
    parser.add_argument("--quick", action="store_true", help="small counts and few rounds: a smoke run")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
            rows.extend(module.collect(args.quick))
        except Exception as error:  # a failed benchmark is a row in the report, not a lost report
            traceback.print_exc()
            rows.append(Row(f"{name} failed", type(error).__name__, "runs", False))
    print_rows("benchmark report" + (" (quick)" if args.quick else ""), rows)
    return 1 if any(r.ok is False for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
