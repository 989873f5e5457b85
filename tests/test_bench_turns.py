"""bench.turns reads the writers' turn from /proc/locks: the kernel's own lines, parsed for any text."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.turns import TurnSampler, lock_key, turn_states

KEY = "fe:00:2147061"


def test_a_holder_and_a_waiter_are_told_apart_and_other_locks_ignored() -> None:
    text = (f"1: POSIX  ADVISORY  WRITE 77 {KEY} 0 EOF\n"  # a POSIX lock on the same file: not the turn
            f"2: FLOCK  ADVISORY  WRITE 28409 fe:00:99 0 EOF\n"
            f"3: FLOCK  ADVISORY  WRITE 28410 {KEY} 0 EOF\n")  # fmt: skip
    assert turn_states(text, KEY) == (True, False)
    assert turn_states(text + f"3: -> FLOCK  ADVISORY  WRITE 28411 {KEY} 0 EOF\n", KEY) == (True, True)
    assert turn_states(text, "fe:00:2147") == (False, False)  # a prefix of the inode is another file
    assert turn_states("", KEY) == (False, False)


LINE = st.tuples(st.booleans(), st.sampled_from(["FLOCK", "POSIX", "OFDLCK"]),
                 st.sampled_from([KEY, "fe:00:2147", "fe:00:21470610", "08:01:5"]), st.integers(1, 99999))  # fmt: skip


@given(lines=st.lists(LINE, max_size=12))
def test_any_listing_gives_what_its_lines_say(lines: list[tuple[bool, str, str, int]]) -> None:
    text = "".join(f"{n}: {'-> ' if waiter else ''}{kind}  ADVISORY  WRITE {pid} {key} 0 EOF\n"
                   for n, (waiter, kind, key, pid) in enumerate(lines, 1))  # fmt: skip
    ours = [waiter for waiter, kind, key, _pid in lines if kind == "FLOCK" and key == KEY]
    assert turn_states(text, KEY) == (any(not w for w in ours), any(ours))


def _until(condition: object, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.005)


def test_the_kernel_lists_a_held_turn_and_its_waiter_as_the_sampler_reads_them(tmp_path: Path) -> None:
    # Given the writers' file of a database, locked as intake.database.WriteQueue locks it
    lock_file = tmp_path / "intake.db-writers"
    holder = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    waiter = os.open(lock_file, os.O_RDWR)  # another open file: its flock is another writer's
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with TurnSampler(lock_file, every=0.001) as turns:
            # Then the sampler sees it held, with nobody waiting
            _until(lambda: turns.samples >= 20, "the sampler took no samples")
            assert (turns.held, turns.waited) == (1.0, 0.0)
            # When a second writer blocks on it
            blocked = threading.Thread(target=fcntl.flock, args=(waiter, fcntl.LOCK_EX))
            blocked.start()

            def listed_waiting() -> bool:
                return turn_states(Path("/proc/locks").read_text(), lock_key(lock_file))[1]

            _until(listed_waiting, "the blocked writer never showed in /proc/locks")
            seen = turns.samples
            _until(lambda: turns.samples >= seen + 20, "the sampler stopped")
            # Then it counts the wait too, and once the turn is given up, the lock changes hands
            assert turns.waited > 0
            fcntl.flock(holder, fcntl.LOCK_UN)
            blocked.join(timeout=30)
            assert not blocked.is_alive()
    finally:
        os.close(holder)
        os.close(waiter)


def test_an_app_without_a_writers_file_reports_nothing(tmp_path: Path) -> None:
    with TurnSampler(tmp_path / "missing-writers") as turns:
        pass
    assert turns.samples == 0
    assert turns.held != turns.held and turns.waited != turns.waited  # NaN: not sampled, not zero
