"""What the running desk holds in memory: the unlocked key (or nothing, when locked) and its secrets.

One ``DeskState`` per ``triage desk`` process. The caseworker's identity lives only here, in this
process's memory; ``lock()`` drops it and the decrypted queue, after ``idle_seconds`` without a request
or when the caseworker asks. Each request opens the case store afresh with the identity
(``triage.operations.Session``), so nothing decrypted outlives the request except the queue cache,
which ``lock()`` drops too.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import crypto
from triage.cases import Case
from triage.config import TriageConfig
from triage.home import Home
from triage.policy import Policy

DEFAULT_IDLE_MINUTES = 10


@dataclass
class DeskState:
    config: TriageConfig
    home: Home
    policy: Policy
    caseworker: str | None = None
    lang: str = "en"
    idle_seconds: float = DEFAULT_IDLE_MINUTES * 60
    usb_folder: Path | None = None
    clock: Callable[[], float] = time.monotonic
    jobs: int | None = None
    # Fresh for every process: the secret in the printed address, and the CSRF token of every form.
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Host headers this desk answers to; set once the port is known (DNS rebinding defence).
    allowed_hosts: frozenset[str] = frozenset()
    identity: crypto.Identity | None = field(default=None, repr=False)
    queue: list[Case] | None = field(default=None, repr=False)
    last_seen: float = 0.0

    @property
    def locked(self) -> bool:
        return self.identity is None

    def unlock_with(self, identity: crypto.Identity) -> None:
        self.identity = identity
        self.queue = None
        self.last_seen = self.clock()

    def lock(self) -> None:
        """Forget the key and everything decrypted; the caseworker unlocks again with the passphrase."""
        self.identity = None
        self.queue = None

    def lock_if_idle(self) -> bool:
        """Lock if no request came for ``idle_seconds``; True if the desk is locked now."""
        if self.identity is not None and self.clock() - self.last_seen >= self.idle_seconds:
            self.lock()
        return self.locked

    def touch(self) -> None:
        self.last_seen = self.clock()
