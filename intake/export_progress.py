"""What `intake export` shows while it writes a bundle: one line on the operator's terminal, updated in place.

A bundle with files may be gigabytes and take minutes; the line says how much is written of about how much.
Only on a terminal (standard error): the daily timer's journal and a pipe get nothing. It shows counts of
bytes only, never an id, a name or a size of one file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

import click
from sqlalchemy import func, select

from intake.database import Database
from intake.tables import blobs, envelopes

STEP = 16 << 20  # the line moves every 16 MiB written


def expected_bytes(db: Database) -> int:
    """About the size of the next bundle: the envelopes and the files of stored envelopes (not staged ones)."""
    with db.reading() as conn:
        files = conn.execute(select(func.coalesce(func.sum(blobs.c.size), 0))
                             .where(blobs.c.envelope_id.is_not(None))).scalar_one()  # fmt: skip
        sealed = conn.execute(select(func.coalesce(func.sum(func.length(envelopes.c.envelope)), 0))).scalar_one()
    return int(files) + int(sealed)


class Progress:
    """A writable stream that passes every byte on and calls ``show(line)`` each ``STEP`` bytes and at the end."""

    def __init__(self, out: BinaryIO, expected: int, show: Callable[[str], None]) -> None:
        self._out = out
        self._expected = max(expected, 1)
        self._show = show
        self.written = 0
        self._next = STEP

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.written += len(data)
        if self.written >= self._next:
            self._next = self.written + STEP
            self._show(self.line())
        return len(data)

    def line(self) -> str:
        total = max(self.written, self._expected)
        return (f"\rWriting the bundle: {self.written >> 20:,} MiB of about {total >> 20:,} MiB "
                f"({100 * self.written // total} %)")  # fmt: skip

    def stream(self) -> BinaryIO:
        return cast(BinaryIO, self)

    def done(self) -> None:
        if self.written >= STEP:
            self._show(self.line() + "\n")


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def shown(db: Database, out: BinaryIO) -> Iterator[BinaryIO]:
    """``out``, counted on the terminal while a bundle is written into it; ``out`` itself off a terminal."""
    if not stderr_is_terminal():
        yield out
        return
    progress = Progress(out, expected_bytes(db), lambda line: click.echo(line, err=True, nl=False))
    yield progress.stream()
    progress.done()
