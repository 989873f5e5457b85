"""Soft rate limits: a token bucket per Tor circuit and one for everyone, per worker process.

Pure and clock-injected, so it is tested without sleeping. Circuit ids are kept in memory only, in a
bounded table (the oldest entries are forgotten first), and are never logged or stored.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """``allow(key)`` spends one token from the global bucket and, if ``key`` is given, from its own bucket."""

    def __init__(
        self,
        per_key_per_minute: int,
        global_per_minute: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_key_rate = per_key_per_minute / 60.0
        self.per_key_burst = float(per_key_per_minute)
        self.global_rate = global_per_minute / 60.0
        self.global_burst = float(global_per_minute)
        self.max_keys = max_keys
        self.clock = clock
        self._global = _Bucket(self.global_burst, clock())
        self._keys: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()  # the development server runs threads

    @staticmethod
    def _refill(bucket: _Bucket, rate: float, burst: float, now: float) -> None:
        bucket.tokens = min(burst, bucket.tokens + max(0.0, now - bucket.stamp) * rate)
        bucket.stamp = now

    def allow(self, key: str | None) -> bool:
        with self._lock:
            return self._allow(key)

    def _allow(self, key: str | None) -> bool:
        now = self.clock()
        self._refill(self._global, self.global_rate, self.global_burst, now)
        bucket = None
        if key is not None:
            bucket = self._keys.pop(key, None) or _Bucket(self.per_key_burst, now)
            self._refill(bucket, self.per_key_rate, self.per_key_burst, now)
            self._keys[key] = bucket
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        if self._global.tokens < 1 or (bucket is not None and bucket.tokens < 1):
            return False
        self._global.tokens -= 1
        if bucket is not None:
            bucket.tokens -= 1
        return True
