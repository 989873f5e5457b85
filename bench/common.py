"""Shared by the benchmarks: interleaved timing rounds and the row format of the report.

Machines here are shared and noisy, so no benchmark states an absolute time as a verdict: each one
times the project against a baseline in the same process, alternating rounds, and reports the ratio of
medians.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    metric: str
    value: str
    target: str
    ok: bool | None  # None: reported, no target


def interleaved_rate(subject: Callable[[], None], baseline: Callable[[], None], n: int, rounds: int) -> float:
    """Median over ``rounds`` of (subject rate / baseline rate), each round timing n calls of both."""
    ratios = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            subject()
        subject_time = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(n):
            baseline()
        baseline_time = time.perf_counter() - start
        ratios.append(baseline_time / subject_time)
    return statistics.median(ratios)


def print_rows(title: str, rows: list[Row]) -> None:
    width = max(len(r.metric) for r in rows)
    print(title)
    for r in rows:
        verdict = "" if r.ok is None else ("ok" if r.ok else "MISSED")
        print(f"  {r.metric:<{width}}  {r.value:>14}  target {r.target:<12} {verdict}")
