"""Group commit: submissions that arrive while another one is being written share its next commit.

On SQLite every submission was one transaction and one fsync, and the fsync (with the WAL frames of a
33 KB envelope) cost about as much CPU as the rest of the submission. Here the threads of a worker that
want to store at the same time form a queue; the first becomes the leader, takes its turn to write
(WriteQueue), takes every submission queued by then, stores them in one transaction and commits once; the
next waiting thread leads the next group. Nothing changes for durability: a thread returns (and its
receipt page is sent) only after the commit that holds its envelope has returned, and if that commit fails,
every submission in it fails and none is receipted. Each submission still succeeds or fails on its own
inside the group (the pending cap, a seal that fails): ``store`` records a result or an error per item.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Pending:
    """One submission waiting in the queue: ``work`` for ``store``, then its ``result`` or ``error``."""

    work: Any
    result: Any = None
    error: BaseException | None = None
    finished: bool = False
    lead: bool = False
    wake: threading.Event = field(default_factory=threading.Event)


class GroupCommit:
    def __init__(self, writing: Callable[[], AbstractContextManager[Any]],
                 store: Callable[[Any, list[Pending]], None]) -> None:  # fmt: skip
        """``writing()``: a write transaction (committed when it exits). ``store(conn, items)``: write the
        items in it, setting each item's ``result`` or ``error``."""
        self._writing = writing
        self._store = store
        self._lock = threading.Lock()
        self._queue: list[Pending] = []
        self._leading = False

    def submit(self, work: Any) -> Any:
        """Store ``work`` in the next group commit; its result once that commit is durable, or its error."""
        item = Pending(work)
        with self._lock:
            self._queue.append(item)
            if not self._leading:
                self._leading = item.lead = True
                item.wake.set()
        while not item.finished:
            item.wake.wait()
            item.wake.clear()
            if item.lead and not item.finished:
                item.lead = False
                self._lead()
        if item.error is not None:
            raise item.error
        return item.result

    def _lead(self) -> None:
        group: list[Pending] = []
        try:
            with self._writing() as conn:
                # Taken once the turn to write is ours: whoever queued while we waited for it comes along.
                with self._lock:
                    group, self._queue = self._queue, []
                self._store(conn, group)
        except BaseException as error:  # the transaction rolled back: nothing of this group is stored
            if not group:  # it failed before the group was taken (BEGIN): whoever waits would fail the same way
                with self._lock:
                    group, self._queue = self._queue, []
            for item in group:
                item.result, item.error = None, error
        finally:
            for item in group:
                item.finished = True
                item.wake.set()
            self._hand_over()

    def _hand_over(self) -> None:
        with self._lock:
            if self._queue:
                following = self._queue[0]
                following.lead = True
                following.wake.set()
            else:
                self._leading = False

