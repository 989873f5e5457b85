"""What the running desk holds in memory: the unlocked key (or nothing, when locked) and its secrets.

One ``DeskState`` per ``triage desk`` process. The caseworker's identity lives only here, in this
process's memory; ``lock()`` drops it and the decrypted queue, after ``idle_seconds`` without a request
or when the caseworker asks. Each request opens the case store afresh with the identity
(``triage.operations.Session``), so nothing decrypted outlives the request except the queue cache,
which ``lock()`` drops too.

Three random values, each for one purpose and none derived from another:

- ``prefix``: the first segment of every desk path (``/<prefix>/…``) and the cookie's Path. A server on
  another loopback port never sees it, so the browser never hands it the cookie, and a page there cannot
  name a desk address.
- ``code``: the one-time code in the address the desk opens; the first use trades it for a session and
  kills it (``take_code``), so the copy that history keeps opens nothing.
- ``session``: the cookie's value, new on every trade and every unlock.

Filters and searches never go into a URL: ``view_token`` keeps them here behind a random token, and
``case_token`` stands in for a case id in every case address. Both are forgotten at the lock.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from triage.cases import Case
from triage.config import TriageConfig
from triage.desk.file_cache import FileViews
from triage.home import Home
from triage.policy import Policy

DEFAULT_IDLE_MINUTES = 10
MAX_TOKENS = 512  # filters and case addresses remembered at once; the oldest is forgotten first


def _token() -> str:
    return secrets.token_urlsafe(32)


class TokenTable:
    """Opaque random tokens for values the desk must not put into a URL, both ways, bounded in size."""

    def __init__(self) -> None:
        self._by_value: OrderedDict[Any, str] = OrderedDict()
        self._by_token: dict[str, Any] = {}
        self._lock = threading.Lock()

    def token(self, value: Any) -> str:
        with self._lock:
            found = self._by_value.get(value)
            if found is not None:
                self._by_value.move_to_end(value)
                return found
            made = secrets.token_urlsafe(12)
            self._by_value[value] = made
            self._by_token[made] = value
            while len(self._by_value) > MAX_TOKENS:
                _old, old_token = self._by_value.popitem(last=False)
                self._by_token.pop(old_token, None)
            return made

    def value(self, token: str) -> Any:
        with self._lock:
            return self._by_token.get(token)

    def clear(self) -> None:
        with self._lock:
            self._by_value.clear()
            self._by_token.clear()


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
    # Fresh for every process (see the module's docstring); the CSRF token of every form.
    prefix: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    code: str | None = field(default_factory=_token, repr=False)
    session: str = field(default_factory=_token, repr=False)
    csrf: str = field(default_factory=_token, repr=False)
    # Called once, when the one-time code is used (the desk command removes its redirect file then).
    on_code_used: Callable[[], None] | None = field(default=None, repr=False)
    # Host headers this desk answers to; set once the port is known (DNS rebinding defence).
    allowed_hosts: frozenset[str] = frozenset()
    identity: crypto.Identity | None = field(default=None, repr=False)
    queue: list[Case] | None = field(default=None, repr=False)
    last_seen: float = 0.0
    views: TokenTable = field(default_factory=TokenTable, repr=False)
    cases: TokenTable = field(default_factory=TokenTable, repr=False)
    files: FileViews = field(default_factory=FileViews, repr=False)  # the safe view's tokens and pictures
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def secret(self) -> str:
        """The one-time code while it is unused ("" after): the name the first tests of the desk use."""
        return self.code or ""

    @property
    def locked(self) -> bool:
        return self.identity is None

    def take_code(self, given: str | None) -> bool:
        """True once, for the right code; the code is dead from then on, whoever used it."""
        with self._guard:
            code = self.code
            if given is None or code is None:
                return False
            if not hmac.compare_digest(given.encode("utf-8", "replace"), code.encode("utf-8")):
                return False
            self.code = None
        if self.on_code_used is not None:
            self.on_code_used()
        return True

    def new_session(self) -> str:
        """A fresh session value (random, never derived from the code): every earlier cookie stops working."""
        with self._guard:
            self.session = _token()
            return self.session

    def is_session(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), self.session.encode())

    def unlock_with(self, identity: crypto.Identity) -> None:
        self.identity = identity
        self.queue = None
        self.last_seen = self.clock()

    def lock(self) -> None:
        """Forget the key and everything decrypted; the caseworker unlocks again with the passphrase."""
        self.identity = None
        self.queue = None
        self.views.clear()  # a remembered search is a word of a case
        self.cases.clear()
        self.files.clear()  # rebuilt pictures of a case's files

    def lock_if_idle(self) -> bool:
        """Lock if no request came for ``idle_seconds``; True if the desk is locked now."""
        if self.identity is not None and self.clock() - self.last_seen >= self.idle_seconds:
            self.lock()
        return self.locked

    def touch(self) -> None:
        self.last_seen = self.clock()
