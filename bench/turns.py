"""How much of a round the writers' turn was taken, and how much of it another writer stood waiting for it.

Intake, the baseline and the sealing floor write through ``intake.database.WriteQueue``: the threads of a
worker take turns on a mutex and the two workers on an ``flock`` of the file beside the database
(``<database>-writers``). A write's turn lasts from that lock to the end of its commit, fsync included; while
one worker holds it, the other's submissions wait. The kernel lists every flock in /proc/locks (its holder,
and each process blocked on it after "->"), so a thread of the benchmark samples that file during a round
and counts how often the turn was held and how often somebody waited for it. A diagnostic, never a verdict:
the apps are not changed or instrumented for it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

SAMPLE_SECONDS = 0.002


def lock_key(path: Path) -> str:
    """How /proc/locks names the file: device major and minor in hex, then the inode (fs/locks.c)."""
    st = os.stat(path)
    return f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"


def turn_states(locks_text: str, key: str) -> tuple[bool, bool]:
    """(held, waited for) of the flock on the file ``key`` names, from the text of /proc/locks."""
    held = waited = False
    for line in locks_text.splitlines():
        fields = line.split()
        if key not in fields or "FLOCK" not in fields:
            continue
        if "->" in fields:
            waited = True
        else:
            held = True
    return held, waited


class TurnSampler:
    """``with TurnSampler(lock_file) as turns: ...``, then ``turns.held`` and ``turns.waited``: the shares of
    the samples taken meanwhile in which the turn was held, and in which a writer was blocked on it (NaN if
    there is no such file: an app that does not write through the writers' turn)."""

    def __init__(self, lock_file: Path | None, every: float = SAMPLE_SECONDS) -> None:
        self.every = every
        self.key = lock_key(lock_file) if lock_file is not None and lock_file.exists() else None
        self.samples = self._held = self._waited = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TurnSampler:
        if self.key is not None:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self.key is not None:
            self._thread.join()

    def _run(self) -> None:
        assert self.key is not None
        while not self._stop.wait(self.every):
            with open("/proc/locks") as locks:
                held, waited = turn_states(locks.read(), self.key)
            self.samples += 1
            self._held += held
            self._waited += waited

    @property
    def held(self) -> float:
        return self._held / self.samples if self.samples else float("nan")

    @property
    def waited(self) -> float:
        return self._waited / self.samples if self.samples else float("nan")
