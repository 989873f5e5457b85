"""Group commit (intake.group_commit): submissions share a commit, yet each succeeds or fails on its own,
and none returns before the commit that holds it."""

from __future__ import annotations

import datetime
import secrets
import threading
import time
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
from intake.storage import AlreadySentError, OneTime, Storage, StorageFullError

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


def _none_returns(threads: list[threading.Thread], bound: float = 1.0) -> bool:
    """No thread finishes within ``bound``: a submission woken early returns at once, a correct one never does
    while its commit is held (a loaded machine can hide the bug for a run, never fail a correct product)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if any(not thread.is_alive() for thread in threads):
            return False
        threads[0].join(0.05)
    return True


def _wait_for(condition: Any, bound: float = 60) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.01)


def test_a_failed_commit_fails_every_submission_in_it_and_returns_none_early() -> None:
    entered = threading.Event()
    go = threading.Event()
    committing = threading.Event()
    fail = threading.Event()
    stored: list[Pending] = []

    @contextmanager
    def writing() -> Iterator[str]:
        entered.set()
        assert go.wait(60)
        yield "conn"
        # The commit (an fsync takes time): held open until the test says, then it fails.
        committing.set()
        assert fail.wait(60)
        raise OSError("the disk went away at commit")

    def store(conn: str, group: list[Pending]) -> None:
        for item in group:
            item.result = f"id-{item.work}"
        stored.extend(group)

    group = GroupCommit(writing, store)
    results: dict[int, Any] = {}

    def submit(n: int) -> None:
        try:
            results[n] = group.submit(n)
        except OSError as error:
            results[n] = error

    # Given a leader inside its write turn and four submissions queued behind it
    threads = [threading.Thread(target=submit, args=(n,)) for n in range(5)]
    threads[0].start()
    assert entered.wait(60)
    for thread in threads[1:]:
        thread.start()
    _wait_for(lambda: len(group._queue) == 5)
    # When all five are stored and their commit is still running
    go.set()
    assert committing.wait(60)
    assert sorted(item.work for item in stored) == [0, 1, 2, 3, 4]
    # Then none of them has been woken or has returned
    assert not any(item.finished or item.wake.is_set() for item in stored), "woken before COMMIT returned"
    assert _none_returns(threads) and not results, "a submission returned before its commit"
    # And when the commit fails, every one of them gets the error and none a result (none is receipted)
    fail.set()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == [0, 1, 2, 3, 4]
    assert all(isinstance(r, OSError) for r in results.values()), results


def test_on_sqlite_a_commit_held_open_returns_nothing_and_its_failure_fails_every_submission(
    storage: Storage,
) -> None:
    committing = threading.Event()
    fail = threading.Event()

    def hold_then_fail(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            return
        committing.set()
        assert fail.wait(60)
        raise OSError("the disk went away at commit")

    def gather(conn: Any) -> None:  # the first writer's BEGIN waits until all six are queued: one group
        if not conn.get_execution_options().get(READ_ONLY):
            _wait_for(lambda: group is not None and len(group._queue) == 6)

    # Given six submissions in one group, and SQLite's COMMIT held open (as a slow fsync would)
    group = storage._group
    event.listen(storage.engine, "begin", gather)
    event.listen(storage.engine, "commit", hold_then_fail)
    results: dict[int, Any] = {}

    def submit(n: int) -> None:
        try:
            results[n] = storage.store_submission(b"sealed", secrets.token_bytes(32), DAY, 1000)
        except OSError as error:
            results[n] = error

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    assert committing.wait(60)
    event.remove(storage.engine, "begin", gather)
    # Then while it is held no submission has returned
    assert _none_returns(threads) and not results, "a submission returned before its commit"
    # When it fails, every submission gets the error, and nothing is stored
    fail.set()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == list(range(6))
    assert all(isinstance(r, OSError) for r in results.values()), results
    event.remove(storage.engine, "commit", hold_then_fail)
    assert storage.pending_count() == 0


def _one_group(storage: Storage, works: list[Any]) -> list[Any]:
    """Each of ``works`` (a function of the storage) in a thread of its own, all of them in one group commit:
    the first writer's BEGIN waits until every one is queued. Each one's result or exception, in order."""
    group = storage._group
    assert group is not None

    def gather(conn: Any) -> None:
        if not conn.get_execution_options().get(READ_ONLY):
            _wait_for(lambda: len(group._queue) == len(works))

    event.listen(storage.engine, "begin", gather)
    results: dict[int, Any] = {}

    def submit(n: int) -> None:
        try:
            results[n] = works[n](storage)
        except Exception as error:
            results[n] = error

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    event.remove(storage.engine, "begin", gather)
    return [results[n] for n in range(len(works))]


def _with_token(digest: bytes, max_pending: int = 1000) -> Any:
    once = OneTime(digest, DAY + datetime.timedelta(days=3))
    return lambda storage: storage.seal_and_store(lambda _r: b"sealed", secrets.token_bytes(32), DAY, max_pending,
                                                  once)  # fmt: skip


def _stored_state(storage: Storage) -> tuple[set[bytes], set[bytes], int]:
    with storage.reading() as conn:
        envelope_ids = {bytes(row[0]) for row in conn.exec_driver_sql("SELECT id FROM envelopes")}
        receipt_ids = {bytes(row[0]) for row in conn.exec_driver_sql("SELECT envelope_id FROM receipts")}
        received = conn.exec_driver_sql("SELECT value FROM counters WHERE name = 'received'").scalar_one()
    assert receipt_ids == envelope_ids  # every envelope has its receipt row, and no receipt names another
    return envelope_ids, _used(storage), received


def _used(storage: Storage) -> set[bytes]:
    with storage.reading() as conn:
        return {bytes(row[0]) for row in conn.exec_driver_sql("SELECT digest FROM used_tokens")}


def test_one_group_stores_a_token_once_whether_it_was_used_before_or_twice_in_the_group(storage: Storage) -> None:
    # Given a token used by a submission stored before
    before, twice, fresh = (secrets.token_bytes(32) for _ in range(3))
    _with_token(before)(storage)
    # When one group holds that token again, another token twice, a fresh token and a submission without one
    without = lambda s: s.store_submission(b"sealed", secrets.token_bytes(32), DAY, 1000)  # noqa: E731
    results = _one_group(storage, [_with_token(before), _with_token(twice), _with_token(twice), _with_token(fresh),
                                   without])  # fmt: skip
    # Then the used token and one of the two posts of the repeated token store nothing; the rest are stored
    assert isinstance(results[0], AlreadySentError)
    assert sorted(isinstance(r, AlreadySentError) for r in results[1:3]) == [False, True]
    stored = {r for r in results if isinstance(r, bytes)}
    assert len(stored) == 3
    envelope_ids, used, received = _stored_state(storage)
    assert stored < envelope_ids and len(envelope_ids) == 4 and received == 4
    assert used == {before, twice, fresh}


def test_a_submission_the_cap_refuses_in_a_group_keeps_its_token_unused(storage: Storage) -> None:
    # Given room for two more envelopes
    tokens = [secrets.token_bytes(32) for _ in range(4)]
    # When one group of four submissions, each with its own token, arrives
    results = _one_group(storage, [_with_token(token, max_pending=2) for token in tokens])
    # Then two are stored and two refused; only the stored ones used their tokens
    stored = [t for t, r in zip(tokens, results, strict=True) if isinstance(r, bytes)]
    refused = [t for t, r in zip(tokens, results, strict=True) if isinstance(r, StorageFullError)]
    assert len(stored) == 2 and len(refused) == 2
    envelope_ids, used, received = _stored_state(storage)
    assert len(envelope_ids) == 2 and received == 2 and used == set(stored)
    # And a refused form, sent again once there is room, is stored
    assert all(isinstance(r, bytes) for r in _one_group(storage, [_with_token(t) for t in refused]))
    assert _used(storage) == set(tokens)
