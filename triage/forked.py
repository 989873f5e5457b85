"""Work spread over forked processes, each result sent back as one message of bytes over an anonymous pipe.

Why not ``multiprocessing.Pool``: its worker-handler thread waits on the results pipe too, so while a result is
in the pipe and not yet read, it wakes, finds nothing to do and waits again, over and over, taking the GIL from
the thread that reads the results (measured over 100,000 cases: a second of the parent's CPU, more than half
of what the workers cost beyond the work itself); and every result is pickled, sent, read into a growing
buffer, copied out and unpickled. Here the parent has no thread: it waits on the result pipes itself, reads
each message once into a buffer of its size, and hands out the next piece of work as the last one comes back.

The work itself is never sent: the workers are forked after ``work`` exists, so each gets it by inheritance of
memory and only its index crosses a pipe. What a worker returns (bytes) crosses only the pipe it was forked
with: never a file.
"""

from __future__ import annotations

import contextlib
import os
import pickle  # only what this process's own forked children wrote
import selectors
import signal
import struct
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
_TASK = struct.Struct(">I")
_HEAD = struct.Struct(">IBQ")  # index of the work, failed (an exception pickled), length of the message
AHEAD = 2  # pieces of work a worker holds, so that it never waits for the parent between two


class WorkerDied(RuntimeError):
    """A worker process ended without sending back all its results (killed, or out of memory)."""


@dataclass
class _Child(Generic[T]):
    pid: int
    tasks: int  # the parent's end of the pipe of indices to the child (-1: closed, no more work)
    results: int  # the parent's end of the pipe of results from the child
    pending: list[int] = field(default_factory=list)


def fork_map(
    work: Sequence[T], run: Callable[[T], bytes], processes: int, start: Callable[[], None]
) -> Generator[tuple[int, bytes | bytearray], None, None]:
    """Yield ``(index, run(work[index]))`` for every piece of work, in the order they are done, each run in one of
    ``processes`` forked workers (``start`` is called first in each). An exception a worker raises is raised here;
    a worker that dies raises ``WorkerDied``. Closing the iterator early ends the workers."""
    children: list[_Child[T]] = []
    selector = selectors.DefaultSelector()
    try:
        for _ in range(min(processes, len(work))):
            children.append(_fork(work, run, start, [fd for c in children for fd in (c.tasks, c.results)]))
            selector.register(children[-1].results, selectors.EVENT_READ, children[-1])
        given = 0
        for child in children:
            for _ in range(AHEAD):
                given = _give(child, given, len(work))
        done = 0
        while done < len(work):
            for key, _ in selector.select():
                child = key.data
                index, failed, message = _receive(child)
                if failed:
                    raise pickle.loads(message)  # noqa: S301 - our own child's exception
                child.pending.remove(index)
                given = _give(child, given, len(work))
                if child.tasks < 0 and not child.pending:
                    selector.unregister(child.results)  # all done: its pipe's end, as it exits, is no news
                done += 1
                yield index, message
    finally:
        selector.close()
        _end(children)


def _fork(work: Sequence[T], run: Callable[[T], bytes], start: Callable[[], None], inherited: list[int]) -> _Child[T]:
    task_read, task_write = os.pipe()
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, so that nothing of the parent's (its atexit, its buffers) runs twice
        code = 1
        try:
            for fd in (*inherited, task_write, result_read):
                os.close(fd)  # a sibling's: holding its task pipe, it would see the end of the work only after us
            start()
            _serve(work, run, task_read, result_write)
            code = 0
        finally:
            os._exit(code)
    os.close(task_read)
    os.close(result_write)
    return _Child(pid, task_write, result_read)


def _serve(work: Sequence[T], run: Callable[[T], bytes], tasks: int, results: int) -> None:
    with os.fdopen(tasks, "rb", buffering=0) as incoming:
        while head := incoming.read(_TASK.size):  # empty: the parent has no more work
            (index,) = _TASK.unpack(head)
            try:
                message, failed = run(work[index]), 0
            except Exception as error:  # the parent raises it; a KeyboardInterrupt ends the worker
                message, failed = _pickled(error), 1
            _write_all(results, _HEAD.pack(index, failed, len(message)))
            _write_all(results, message)


def _pickled(error: Exception) -> bytes:
    try:
        return pickle.dumps(error)
    except Exception:  # an exception that cannot be pickled: its words only
        return pickle.dumps(RuntimeError(f"{error.__class__.__name__}: {error}"))


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _give(child: _Child[T], given: int, total: int) -> int:
    if child.tasks < 0:
        return given
    if given == total:
        os.close(child.tasks)  # the end of the work: the child leaves its loop and exits
        child.tasks = -1
        return given
    child.pending.append(given)
    try:
        os.write(child.tasks, _TASK.pack(given))
    except BrokenPipeError:
        raise WorkerDied(f"a worker process ended with {len(child.pending)} pieces of work not done") from None
    return given + 1


def _receive(child: _Child[T]) -> tuple[int, int, bytearray]:
    index, failed, length = _HEAD.unpack(_read_exactly(child, _HEAD.size))
    return index, failed, _read_exactly(child, length)


def _read_exactly(child: _Child[T], length: int) -> bytearray:
    buffer = bytearray(length)
    view, got = memoryview(buffer), 0
    while got < length:
        n = os.readv(child.results, [view[got:]])
        if n == 0:
            raise WorkerDied(f"a worker process ended with {len(child.pending)} pieces of work not done")
        got += n
    return buffer


def _end(children: list[_Child[T]]) -> None:
    for child in children:
        if child.tasks >= 0:
            os.close(child.tasks)
        os.close(child.results)  # a child still writing gets EPIPE (or SIGPIPE) and ends
        if child.pending:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child.pid, 0)
