"""Group commit (intake.group_commit): submissions share a commit, yet each succeeds or fails on its own,
and none returns before the commit that holds it."""

from __future__ import annotations

import datetime
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

import crypto
from intake.config import IntakeConfig
from intake.database import READ_ONLY
from intake.group_commit import GroupCommit, Pending
from intake.instance import Instance
from intake.storage import Storage, StorageFullError

DAY = datetime.date(2026, 11, 27)


@pytest.fixture
def storage(sqlite_config: IntakeConfig, identity: crypto.Identity) -> Iterator[Storage]:
    Instance(sqlite_config).initialize()
    storage = Storage(sqlite_config.database_url)
    storage.add_recipient(identity.public, DAY)
    yield storage
    storage.dispose()


def _together(count: int, work: Any) -> list[Any]:
    """``work()`` in ``count`` threads started at once; each one's result or exception."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = work()
        except Exception as error:
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_submissions_share_commits_and_the_cap_holds_exactly(storage: Storage) -> None:
    commits: list[int] = []
    event.listen(storage.engine, "commit",
                 lambda conn: None if conn.get_execution_options().get(READ_ONLY) else commits.append(1))  # fmt: skip
    results = _together(48, lambda: storage.store_submission(b"sealed", secrets.token_bytes(32), DAY, 40))
    stored = [r for r in results if isinstance(r, bytes)]
    refused = [r for r in results if isinstance(r, StorageFullError)]
    assert len(stored) == 40 and len(refused) == 8 and len(set(stored)) == 40
    assert storage.pending_count() == 40
    with storage.reading() as conn:
        assert conn.exec_driver_sql("SELECT value FROM counters WHERE name = 'received'").scalar_one() == 40
        ids = {bytes(row[0]) for row in conn.exec_driver_sql("SELECT envelope_id FROM receipts")}
    assert ids == set(stored)  # every receipt returned names a stored envelope, and nothing else is stored
    assert len(commits) < 48, "no two submissions ever shared a commit"


def test_a_failed_commit_fails_every_submission_in_it_and_returns_none_early() -> None:
    committed: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    @contextmanager
    def writing() -> Iterator[str]:
        entered.set()
        release.wait(10)
        yield "conn"
        raise OSError("the disk went away at commit")

    def store(conn: str, group: list[Pending]) -> None:
        for item in group:
            item.result = f"id-{item.work}"
            committed.append(item.work)

    group = GroupCommit(writing, store)
    results: dict[int, Any] = {}

    def submit(n: int) -> None:
        try:
            results[n] = group.submit(n)
        except OSError as error:
            results[n] = error

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    entered.wait(10)
    others = [threading.Thread(target=submit, args=(n,)) for n in range(1, 5)]
    for thread in others:
        thread.start()
    assert not results, "a submission returned before its commit"
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert sorted(results) == [0, 1, 2, 3, 4]
    assert all(isinstance(r, OSError) for r in results.values()), results  # none is receipted
