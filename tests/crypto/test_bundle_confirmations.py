"""Bundle version 3: the server's signed list of the replies it stored (FORMAT.md §8.1)."""

from __future__ import annotations

import contextlib
import datetime
import io
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from crypto.binary import encode_day, u8, u32, u64
from crypto.keys import ServerKey
from tests.vectors.make_vectors import signed

DAY = datetime.date(2026, 12, 1)
SERVER = ServerKey(bytes(range(32)))
ALICE = crypto.Identity("Alice", bytes(range(10, 42)), bytes(range(50, 82))).public


def bundle(delivered: object) -> bytes:
    out = io.BytesIO()
    crypto.write_bundle(out, [], count=0, server_key=SERVER, sequence=1, high_water=0, created_on=DAY,
                        recipients=[ALICE], delivered=delivered)  # type: ignore[arg-type]  # fmt: skip
    return out.getvalue()


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=40))
def test_the_confirmed_digests_come_back_sorted_once_each(digests: list[bytes]) -> None:
    header = crypto.read_bundle(bundle(digests), expected_server=SERVER.public).header
    assert header.version == 3 and header.delivered == tuple(sorted(set(digests)))


def test_without_confirmations_the_bundle_stays_version_2_and_confirms_nothing() -> None:
    out = io.BytesIO()
    crypto.write_bundle(out, [], count=0, server_key=SERVER, sequence=1, high_water=0, created_on=DAY,
                        recipients=[ALICE])  # fmt: skip
    header = crypto.read_bundle(out.getvalue(), expected_server=SERVER.public).header
    assert (header.version, header.delivered) == (2, ())


@pytest.mark.parametrize("delivered", [[b"x" * 31], [b"x" * 33], ["a" * 32]])
def test_the_writer_refuses_what_is_not_a_digest(delivered: list[object]) -> None:
    with pytest.raises(crypto.MalformedError):
        bundle(delivered)


def test_the_writer_refuses_confirmations_without_a_recipient_set() -> None:
    with pytest.raises(crypto.MalformedError):
        crypto.write_bundle(io.BytesIO(), [], count=0, server_key=SERVER, sequence=1, high_water=0, created_on=DAY,
                            delivered=[bytes(32)])  # fmt: skip


@given(st.integers(0, 2**32 - 1), st.binary(max_size=200))
def test_any_signed_confirmation_block_parses_or_is_malformed(count: int, block: bytes) -> None:
    # Given a validly signed version 3 bundle whose confirmation block is anything at all
    name = ALICE.name.encode()
    body = (b"ITKB" + u8(3) + SERVER.public.raw + u64(1) + u64(0) + encode_day(DAY) + u32(0)
            + u8(1) + ALICE.box_public + ALICE.sign_public + u8(len(name)) + name + u32(count) + block)  # fmt: skip
    # Then it reads as strictly increasing digests, or it is refused as malformed: nothing else
    with contextlib.suppress(crypto.MalformedError):
        header = crypto.read_bundle(signed(body, SERVER.sign), expected_server=SERVER.public).header
        assert len(header.delivered) == count and list(header.delivered) == sorted(set(header.delivered))


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=8))
def test_confirmations_in_any_order_are_read_only_if_strictly_increasing(digests: list[bytes]) -> None:
    name = ALICE.name.encode()
    body = (b"ITKB" + u8(3) + SERVER.public.raw + u64(1) + u64(0) + encode_day(DAY) + u32(0)
            + u8(1) + ALICE.box_public + ALICE.sign_public + u8(len(name)) + name + u32(len(digests))
            + b"".join(digests))  # fmt: skip
    ordered = all(a < b for a, b in itertools.pairwise(digests))
    try:
        header = crypto.read_bundle(signed(body, SERVER.sign), expected_server=SERVER.public).header
    except crypto.MalformedError:
        assert not ordered
    else:
        assert ordered and header.delivered == tuple(digests)
