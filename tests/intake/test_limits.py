"""The soft rate limiter: per-circuit and global token buckets with an injected clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

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
    assert not limiter.allow(None) and not limiter.allow("a")
    # A fresh circuit still has the newcomer reserve (one token here); once that is spent, nobody gets in
    assert limiter.allow("c") and not limiter.allow("d")
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


def test_a_flood_from_many_circuits_does_not_shut_out_a_fresh_circuit() -> None:
    # Given the deployed numbers (6 per circuit, 600 for everyone per minute and worker) and a flood from
    # 1,000 circuits, each sending as fast as its own bucket lets it, for ten minutes of frozen-clock time
    clock = Clock()
    limiter = RateLimiter(6, 600, clock=clock)
    flood_accepted = 0
    for second in range(600):
        clock.now += 1
        for n in range(1000):
            if (second + n) % 10 == 0:  # each circuit tries every 10 s: at its own limit
                flood_accepted += limiter.allow(f"flood-{n}")
        # When a person on a fresh circuit submits during the flood, now and then
        if second % 60 == 30:
            # Then they get through (from the newcomer reserve the flood cannot spend)
            assert limiter.allow(f"person-{second}"), second
    # And the flood got no more than the global budget plus the reserve while its circuits were new
    # (burst 120, refilling 2 per second, during their first 10 s)
    assert flood_accepted <= 600 + 600 * 10 + 120 + 2 * 10


def test_the_reserve_is_only_for_rested_circuits_and_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(6, 10, newcomer_share=0.2, clock=clock)  # reserve: 2 tokens, 2 per minute
    # Given the global bucket emptied by one circuit
    assert [limiter.allow("a") for _ in range(6)] == [True] * 6
    assert [limiter.allow("b") for _ in range(4)] == [True] * 4
    # Then a circuit that has tried within the last minute cannot use the reserve
    assert not limiter.allow("b")
    assert not limiter.allow("a")
    # But two fresh circuits can, and a third finds the reserve empty (a flooder making a fresh circuit
    # per request competes with newcomers for the reserve: tor's proof of work is the limit there)
    assert limiter.allow("fresh-1") and limiter.allow("fresh-2")
    assert not limiter.allow("fresh-3")
    # And retry_after says when: the reserve refills one token every 30 s, the global bucket one every 6 s
    assert limiter.retry_after("fresh-3") == 6
    clock.now += 6
    assert limiter.allow("fresh-3")


def test_retry_after_names_the_circuits_own_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 100, clock=clock)
    assert limiter.retry_after("a") == 1  # nothing to wait for: "at least one second" is the floor
    for _ in range(3):
        assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.retry_after("a") == 20  # one token per 20 s at 3 per minute
    clock.now += 19.5
    assert limiter.retry_after("a") == 1
    clock.now += 0.5
    assert limiter.allow("a")


@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0, 30)), max_size=200))
def test_allow_never_exceeds_either_budget(steps: list[tuple[int, float]]) -> None:
    # Over any sequence, a circuit never gets more than its burst plus its refill, and everyone together
    # never more than the global and reserve bursts plus their refills.
    clock = Clock()
    limiter = RateLimiter(3, 10, clock=clock)
    start = clock.now
    per_key: dict[int, int] = {}
    for key, wait in steps:
        clock.now += wait
        if limiter.allow(str(key)):
            per_key[key] = per_key.get(key, 0) + 1
    minutes = (clock.now - start) / 60
    assert all(count <= 3 + 3 * minutes + 1e-9 for count in per_key.values())
    assert sum(per_key.values()) <= 10 + 2 + 12 * minutes + 1e-9


def test_a_flood_starting_at_once_cannot_empty_the_global_bucket() -> None:
    # Given the submission limiter as intake builds it (burst 2 a circuit, 60 a minute for everyone, burst 600)
    clock = Clock()
    limiter = RateLimiter(6, 60, per_key_burst=2, global_burst=600, clock=clock)
    # A new worker starts with a minute's worth, and the bucket fills to 600 while nobody submits
    assert limiter._global.tokens == 60
    clock.now += 600
    # When 299 fresh circuits each spend their whole burst at the same instant
    spent = sum(limiter.allow(f"flood-{n}") for n in range(299) for _ in range(3))
    # Then each got its burst and the global bucket still holds a token for the next person, without the reserve
    assert spent == 598
    assert limiter._global.tokens >= 1 and limiter.allow("a-person")
