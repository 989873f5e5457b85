"""SQLite writers queue on a lock file (intake.database.WriteQueue), not in SQLite's sleeping busy handler."""

from __future__ import annotations

import datetime
import inspect
import secrets
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import crypto
from intake.config import IntakeConfig
from intake.database import WriteQueue
from intake.instance import Instance
from intake.storage import Storage

DAY = datetime.date(2026, 11, 27)
TURN = WriteQueue.turn.__wrapped__.__code__  # type: ignore[attr-defined]


def _blocked_in_turn(thread: threading.Thread) -> bool:
    """``thread`` is asleep in the kernel inside WriteQueue.turn, on its mutex or its flock: it reached the
    lock and the lock holds it (a thread merely slow to start, on a loaded machine, is not yet there)."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None or frame.f_code is not TURN:
        return False
    line = inspect.getframeinfo(frame).code_context
    if not line or not any(blocking in line[0] for blocking in ("with self._mutex", "fcntl.LOCK_EX")):
        return False
    try:
        state = Path(f"/proc/self/task/{thread.native_id}/syscall").read_text()
    except OSError:  # no /proc (or not readable here): the frame alone says it is at the lock
        return True
    return not state.startswith("running")


def _until(condition: Callable[[], bool], bound: float = 60) -> bool:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _held_back(thread: threading.Thread, done: threading.Event) -> None:
    """The thread reaches the lock and sleeps there; given every chance to run on (the GIL released for a
    while), it still has not passed it."""
    assert _until(lambda: done.is_set() or _blocked_in_turn(thread)), "the second writer never reached the lock"
    assert not done.wait(0.2) and _blocked_in_turn(thread), "a second writer got its turn while the first held it"


def _waits_for(holder: WriteQueue, waiter: WriteQueue) -> None:
    entered = threading.Event()

    def write() -> None:
        with waiter.turn():
            entered.set()

    with holder.turn():
        thread = threading.Thread(target=write)
        thread.start()
        _held_back(thread, entered)
    assert entered.wait(60), "the second writer was not woken when the first was done"
    thread.join()


def test_another_process_waits_its_turn_and_is_woken(tmp_path: Path) -> None:
    # Two queues on one path each open the lock file themselves, as two gunicorn workers do.
    path = str(tmp_path / "intake.db-writers")
    one, two = WriteQueue(path), WriteQueue(path)
    _waits_for(one, two)
    _waits_for(two, one)
    one.close()
    two.close()
    assert Path(path).read_bytes() == b""  # nothing is ever written there


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    queue = WriteQueue(str(tmp_path / "intake.db-writers"))
    _waits_for(queue, queue)
    queue.close()


def test_a_write_transaction_holds_the_turn(sqlite_config: IntakeConfig, identity: crypto.Identity) -> None:
    Instance(sqlite_config).initialize()
    server, cli = Storage(sqlite_config.database_url), Storage(sqlite_config.database_url)
    server.add_recipient(identity.public, DAY)
    other = WriteQueue(str(sqlite_config.instance_dir / "intake.db") + "-writers")
    stored = threading.Event()

    def submit() -> None:
        cli.seal_and_store(lambda _keys: b"sealed", secrets.token_bytes(32), DAY, 10)
        stored.set()

    with other.turn():
        thread = threading.Thread(target=submit)
        thread.start()
        _held_back(thread, stored)
    thread.join(60)
    assert stored.is_set() and cli.pending_count() == 1
    for closing in (server, cli):
        closing.dispose()
    other.close()
