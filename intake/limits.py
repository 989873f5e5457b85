"""Soft rate limits per worker process: a token bucket per Tor circuit, one for everyone, and a reserve
that a flood cannot take from people who arrive on a fresh circuit.

``allow(key)`` takes one token from the circuit's own bucket and one from the global bucket. When a flood
from many circuits (each within its own limit) has emptied the global bucket, a circuit that is *rested*
(never seen, or silent for a whole refill period of its own bucket: one minute) may still take a token
from the newcomer reserve, a separate bucket holding ``newcomer_share`` of the global rate and burst. A
flood's circuits keep trying, so after their first attempt they are never rested and cannot touch the
reserve; a flooder who makes a fresh circuit for every attempt competes for it with everyone else, and
tor's proof of work is what makes that expensive.

Pure and clock-injected, so it is tested without sleeping. Circuit ids are kept in memory only, in a
bounded table (the oldest entries are forgotten first), and are never logged or stored.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    rate: float  # tokens per second
    burst: float
    seen: float = -math.inf  # last attempt (allowed or not) of the circuit this bucket belongs to

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until this bucket holds one token."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class RateLimiter:
    """``allow(key)`` spends one token from the global bucket (or, for a rested circuit, the newcomer
    reserve) and, if ``key`` is given, from its own bucket. ``retry_after(key)`` says when to try again."""

    def __init__(
        self,
        per_key_per_minute: int,
        global_per_minute: int,
        *,
        newcomer_share: float = 0.2,
        per_key_burst: int | None = None,
        global_burst: int | None = None,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < newcomer_share < 1:
            raise ValueError("newcomer_share is a fraction between 0 and 1")
        self.per_key_rate = per_key_per_minute / 60.0
        # A circuit's burst (default: a minute's worth). Kept small for submissions (app.py) so that a flood's
        # circuits, all starting at once, cannot empty the global bucket in one go (issue 21 item 3).
        self.per_key_burst = float(per_key_burst or per_key_per_minute)
        self.max_keys = max_keys
        self.clock = clock
        now = clock()
        # The global bucket may hold more than a minute's worth (app.py), filled while the server is quiet, so
        # that a flood's circuits all arriving at once are served from it, not from the newcomer reserve. A
        # new process starts with a minute's worth only: gunicorn replaces workers (max_requests), and a full
        # burst for every new worker let a flood store thousands more (bench/flood_bench.py).
        burst = float(global_burst or global_per_minute)
        self._global = _Bucket(float(global_per_minute), now, global_per_minute / 60.0, burst)
        reserve = max(1.0, global_per_minute * newcomer_share)
        self._reserve = _Bucket(reserve, now, reserve / 60.0, reserve)
        # Rested: silent for a full refill of a circuit's bucket, and at least a minute.
        self._rest_seconds = max(60.0, self.per_key_burst / self.per_key_rate)
        self._keys: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()  # the worker serves requests from several threads

    def _bucket(self, key: str, now: float) -> _Bucket:
        """The circuit's bucket, refilled to ``now`` (a new one for a circuit not in the table)."""
        bucket = self._keys.pop(key, None) or _Bucket(self.per_key_burst, now, self.per_key_rate, self.per_key_burst)
        bucket.refill(now)
        self._keys[key] = bucket
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)
        return bucket

    def allow(self, key: str | None) -> bool:
        with self._lock:
            now = self.clock()
            self._global.refill(now)
            self._reserve.refill(now)
            bucket = self._bucket(key, now) if key is not None else None
            rested = bucket is not None and now - bucket.seen >= self._rest_seconds
            if bucket is not None:
                bucket.seen = now
            if bucket is not None and bucket.tokens < 1:
                return False
            if self._global.tokens >= 1:
                shared = self._global
            elif rested and self._reserve.tokens >= 1:
                shared = self._reserve
            else:
                return False
            shared.tokens -= 1
            if bucket is not None:
                bucket.tokens -= 1
            return True

    def retry_after(self, key: str | None) -> int:
        """Whole seconds (at least 1) until ``allow(key)`` could succeed, if nobody else spends meanwhile."""
        with self._lock:
            now = self.clock()
            self._global.refill(now)
            self._reserve.refill(now)
            shared = self._global.wait()
            own = 0.0
            if key is not None and key in self._keys:
                bucket = self._keys[key]
                bucket.refill(now)
                own = bucket.wait()
                rested_in = max(0.0, bucket.seen + self._rest_seconds - now)
                shared = min(shared, max(rested_in, self._reserve.wait()))
            elif key is not None:  # an unknown circuit is rested: the reserve is open to it
                shared = min(shared, self._reserve.wait())
            return max(1, math.ceil(max(own, shared)))


class DailyCap:
    """At most ``per_day`` uses a day per key (a mailbox), counted in this process's memory only.

    A key is remembered as a keyed hash under a random key drawn when the process starts and never
    written anywhere, so the table in memory names no mailbox either; nothing of it is ever stored, so a
    seized database or disk holds nothing that links the follow-ups of one mailbox (issue 18 item 6). The
    table is bounded (the oldest entries are forgotten first) and starts over each day.
    """

    def __init__(self, per_day: int, *, max_keys: int = 100_000) -> None:
        if per_day < 1:
            raise ValueError("per_day is at least 1")
        self.per_day = per_day
        self.max_keys = max_keys
        self._key = secrets.token_bytes(32)
        self._day: object = None
        self._counts: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: bytes, day: object) -> bool:
        """Count one use of ``key`` on ``day``; False (counting nothing) once ``per_day`` were used."""
        name = hashlib.blake2b(key, key=self._key, digest_size=16).digest()
        with self._lock:
            if day != self._day:
                self._day, self._counts = day, OrderedDict()
            used = self._counts.pop(name, 0)
            self._counts[name] = used if used >= self.per_day else used + 1
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
            return used < self.per_day
