"""Listing on every core (triage.forked, triage.parallel): each piece of work done once, failures raised in the
parent, and a worker's message read back as the very results it packed."""

from __future__ import annotations

import os
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.realparts import need
from triage import forked, parallel
from triage.cases import Skipped

need("os.fork (the workers are forked)", hasattr(os, "fork"), "a POSIX system")

_started: list[int] = []


def _square(n: int) -> bytes:
    return str(n * n).encode() * (n % 7) * 10_000  # some far larger than a pipe holds


def test_every_piece_of_work_is_done_once_by_the_workers() -> None:
    # When 50 pieces of work are spread over 3 workers
    done = dict(forked.fork_map(list(range(50)), _square, 3, lambda: _started.append(os.getpid())))
    # Then each comes back once, as it was made, and none was done in this process
    assert done == {n: _square(n) for n in range(50)}
    assert _started == []


def _fails_on_13(n: int) -> bytes:
    if n == 13:
        raise sqlite3.OperationalError("database is locked")
    return b"ok"


def test_an_exception_in_a_worker_is_raised_in_the_parent_with_its_type() -> None:
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        list(forked.fork_map(list(range(40)), _fails_on_13, 2, lambda: None))


def _dies_on_5(n: int) -> bytes:
    if n == 5:
        os._exit(3)
    return b"ok"


def test_a_worker_that_dies_is_not_waited_for_forever() -> None:
    with pytest.raises(forked.WorkerDied):
        list(forked.fork_map(list(range(20)), _dies_on_5, 2, lambda: None))


def test_a_worker_that_cannot_start_is_a_failure() -> None:
    def start() -> None:
        raise RuntimeError("no store")

    with pytest.raises(forked.WorkerDied):
        list(forked.fork_map([1, 2, 3], _square, 2, start))


def test_stopping_early_ends_every_worker() -> None:
    results = forked.fork_map(list(range(1000)), _square, 2, lambda: None)
    next(results)
    pids = _children()
    results.close()
    assert pids and not [pid for pid in pids if pid in _children()]


def _children() -> list[int]:
    try:
        with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as found:
            return [int(pid) for pid in found.read().split()]
    except OSError:
        need("/proc (to list this process's children)", False, "Linux")
        raise


KEYS = st.tuples(st.integers(0, 2), st.integers(-(2**70), 2**70), st.integers(-(2**31), 0), st.integers(0, 2**63))
SKIPPED = st.builds(Skipped, st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6))


@settings(max_examples=200, deadline=None)
@given(results=st.lists(st.tuples(KEYS, st.binary(max_size=300)), max_size=40), skipped=SKIPPED)
def test_a_workers_json_message_reads_back_as_the_cases_it_packed(
    results: list[tuple[tuple[int, int, int, int], bytes]], skipped: Skipped
) -> None:
    message = bytearray(parallel.packed(results, skipped, as_json=True))
    read, counts = parallel.unpacked(message, as_json=True)
    assert [(key, bytes(encoded)) for key, encoded in read] == results
    assert counts == skipped


OPENED = st.tuples(st.binary(min_size=16, max_size=16), st.integers(1, 2**40), st.just("2026-11-20"), st.binary(),
                   st.binary(), st.one_of(st.none(), st.binary()))  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(results=st.lists(OPENED, max_size=20), skipped=SKIPPED)
def test_a_workers_message_of_cases_to_be_reads_back_as_it_was(
    results: list[tuple[object, ...]], skipped: Skipped
) -> None:
    assert parallel.unpacked(parallel.packed(results, skipped, as_json=False), as_json=False) == (results, skipped)


def test_a_message_that_does_not_add_up_is_refused() -> None:
    message = parallel.packed([((0, 0, 0, 1), b"{}")], Skipped(), as_json=True)
    with pytest.raises(ValueError, match="add up"):
        parallel.unpacked(message + b"x", as_json=True)
