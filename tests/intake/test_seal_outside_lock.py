"""Sealing before the write lock (intake.storage.seal_and_store) stores exactly what sealing under it did.

The server seals to the recipient set its previous submission found, then checks the set again inside the
write transaction; another process (the ``intake recipients`` CLI) may add or remove keys at any moment in
between. Whatever the sequence, every stored envelope must be sealed to exactly the set registered when its
transaction ran, and say so in ``sealed_to``.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from intake.config import IntakeConfig
from intake.instance import Instance
from intake.storage import NoRecipientError, Storage
from intake.tables import envelopes

DAY = datetime.date(2026, 11, 27)
KEYS = [crypto.Identity.generate(name).public for name in ("Ana", "Boris", "Vera")]
OPS = st.lists(st.one_of(st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, len(KEYS) - 1)),
                         st.just(("submit", 0))), min_size=1, max_size=12)  # fmt: skip


@pytest.fixture
def two_processes(sqlite_config: IntakeConfig) -> Iterator[tuple[Storage, Storage]]:
    Instance(sqlite_config).initialize()
    server, cli = Storage(sqlite_config.database_url), Storage(sqlite_config.database_url)
    yield server, cli
    server.dispose()
    cli.dispose()


def _label(recipients: list[crypto.PublicIdentity]) -> bytes:
    return ",".join(key.fingerprint for key in recipients).encode()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40, deadline=None)
@given(ops=OPS)
def test_every_envelope_is_sealed_to_the_set_its_transaction_saw(two_processes: tuple[Storage, Storage],
                                                                 ops: list[tuple[str, int]]) -> None:  # fmt: skip
    server, cli = two_processes
    for key in KEYS:
        cli.remove_recipient(key.fingerprint)
    for op, n in ops:
        if op == "add":
            cli.add_recipient(KEYS[n], DAY)
        elif op == "remove":
            cli.remove_recipient(KEYS[n].fingerprint)
        else:
            registered = [key.fingerprint for key in cli.registered()]
            try:
                entry = server.seal_and_store(_label, secrets.token_bytes(32), DAY, 10**6)
            except NoRecipientError:
                assert not registered
                continue
            with cli.reading() as conn:
                row = conn.execute(envelopes.select().where(envelopes.c.id == entry)).one()
            assert row.sealed_to == ",".join(registered)
            assert bytes(row.envelope) == ",".join(registered).encode()  # sealed to that very set


def test_a_key_added_between_two_submissions_is_sealed_to(two_processes: tuple[Storage, Storage]) -> None:
    server, cli = two_processes
    cli.add_recipient(KEYS[0], DAY)
    calls: list[bytes] = []

    def seal(recipients: list[crypto.PublicIdentity]) -> bytes:
        calls.append(_label(recipients))
        return calls[-1]

    server.seal_and_store(seal, secrets.token_bytes(32), DAY, 10**6)
    cli.add_recipient(KEYS[1], DAY)
    server.seal_and_store(seal, secrets.token_bytes(32), DAY, 10**6)
    server.seal_and_store(seal, secrets.token_bytes(32), DAY, 10**6)
    both = _label(list(cli.registered()))
    # First: read, seal. Second: sealed to the old set outside the lock, then again to the new set under it.
    # Third: once, outside the lock, to the set the second found.
    assert calls == [KEYS[0].fingerprint.encode(), KEYS[0].fingerprint.encode(), both, both]
