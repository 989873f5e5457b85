"""The soft rate limiter: per-circuit and global token buckets with an injected clock."""

from __future__ import annotations

from intake.limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_per_circuit_limit_and_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 100, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b"), "another circuit has its own bucket"
    clock.now += 20  # one token per 20 s at 3 per minute
    assert limiter.allow("a") and not limiter.allow("a")


def test_global_limit_covers_everyone_including_unknown_circuits() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 4, clock=clock)
    assert [limiter.allow(None), limiter.allow("a"), limiter.allow("b"), limiter.allow(None)] == [True] * 4
    assert not limiter.allow("c") and not limiter.allow(None)
    clock.now += 15
    assert limiter.allow(None)


def test_refused_attempts_do_not_spend_tokens() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 100, clock=clock)
    assert limiter.allow("a")
    for _ in range(50):
        assert not limiter.allow("a")
    clock.now += 60
    assert limiter.allow("a")


def test_circuit_table_is_bounded() -> None:
    limiter = RateLimiter(1, 10**9, max_keys=100, clock=Clock())
    for n in range(1000):
        limiter.allow(f"circuit-{n}")
    assert len(limiter._keys) == 100
