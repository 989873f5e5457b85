"""SQLite writers queue on a lock file (intake.database.WriteQueue), not in SQLite's sleeping busy handler."""

from __future__ import annotations

import datetime
import secrets
import threading
import time
from pathlib import Path

import crypto
from intake.config import IntakeConfig
from intake.database import WriteQueue
from intake.instance import Instance
from intake.storage import Storage

DAY = datetime.date(2026, 11, 27)


def _waits_for(holder: WriteQueue, waiter: WriteQueue) -> None:
    entered = threading.Event()

    def write() -> None:
        with waiter.turn():
            entered.set()

    with holder.turn():
        thread = threading.Thread(target=write)
        thread.start()
        assert not entered.wait(0.3), "a second writer got its turn while the first held it"
    assert entered.wait(5), "the second writer was not woken when the first was done"
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
        time.sleep(0.3)
        assert not stored.is_set()
    thread.join(10)
    assert stored.is_set() and cli.pending_count() == 1
    for closing in (server, cli):
        closing.dispose()
    other.close()
