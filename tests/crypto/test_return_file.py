"""The return file (acknowledgement version 2, FORMAT.md §8.2): replies ride in the signed file."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto.ack import REPLY_ENTRY_SIZE

DAY = datetime.date(2026, 11, 24)
PAIR = crypto.derive_reply_keypair("271828182845904523536028747135", bytes(range(32)))
MAILBOX = crypto.mailbox_id(PAIR.public)


def _reply(text: str) -> crypto.AckReply:
    return crypto.AckReply(MAILBOX, crypto.seal_reply(text, written_on=DAY, seq=1, to=PAIR.public))


def _ack(identity: crypto.Identity, server: crypto.ServerKey, replies: list[crypto.AckReply]) -> bytes:
    entry = crypto.AckEntry(b"\x01" * 16, b"\x02" * 32)
    return crypto.make_ack(
        [entry], identity=identity, server=server.public, bundle_sequence=3, created_on=DAY, replies=replies
    )


def test_replies_come_back_in_order_and_open_for_the_requester(
    alice: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    # Given a return file with two replies to one requester
    data = _ack(alice, server_key, [_reply("Первый"), _reply("Второй")])
    # When the server reads it
    ack = crypto.read_ack(data, server=server_key.public, caseworkers=[alice.public])
    # Then it has both, in order, under the mailbox, and only the requester's key opens them
    assert ack.version == 2 and len(ack.entries) == 1
    assert [r.mailbox for r in ack.replies] == [MAILBOX, MAILBOX]
    assert [crypto.open_reply(r.container, PAIR).text for r in ack.replies] == ["Первый", "Второй"]
    assert "Первый".encode() not in data


def test_a_return_file_without_replies_is_version_2_and_has_none(
    alice: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    data = _ack(alice, server_key, [])
    assert data[4] == 2
    assert crypto.read_ack(data, server=server_key.public, caseworkers=[alice.public]).replies == ()


def test_every_byte_of_a_reply_is_signed(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    data = _ack(alice, server_key, [_reply("проверка")])
    for position in range(149, len(data) - 64, 1009):
        changed = bytearray(data)
        changed[position] ^= 0x01
        with pytest.raises(crypto.TamperedError):
            crypto.read_ack(bytes(changed), server=server_key.public, caseworkers=[alice.public])


def test_the_writer_refuses_bad_replies(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    good = _reply("x")
    for bad in (
        crypto.AckReply(MAILBOX[:31], good.container),
        crypto.AckReply(MAILBOX, good.container[:-1]),
        crypto.AckReply(MAILBOX, b"ITKX" + good.container[4:]),
        crypto.AckReply(MAILBOX, good.container[:4] + b"\x03" + good.container[5:]),
    ):
        with pytest.raises(crypto.MalformedError):
            _ack(alice, server_key, [bad])
    with pytest.raises(crypto.MalformedError, match="at most 1000"):
        _ack(alice, server_key, [good] * (crypto.MAX_REPLIES + 1))


def test_the_reply_bound_is_inclusive(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    data = _ack(alice, server_key, [_reply("x")] * crypto.MAX_REPLIES)
    assert len(data) == 105 + 48 + REPLY_ENTRY_SIZE * crypto.MAX_REPLIES + 64
    assert len(crypto.read_ack(data, server=server_key.public, caseworkers=[alice.public]).replies) == 1000


def test_a_stranger_cannot_deliver_replies(
    alice: crypto.Identity, bob: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    data = _ack(bob, server_key, [_reply("подделка")])
    with pytest.raises(crypto.UnknownSignerError):
        crypto.read_ack(data, server=server_key.public, caseworkers=[alice.public])


@settings(max_examples=60)
@given(cut=st.integers(0, 600), flip=st.integers(0, 10**6))
def test_mangled_return_files_give_only_typed_errors(cut: int, flip: int) -> None:
    alice = crypto.Identity("Alice", bytes(range(32)), bytes(range(32, 64)))
    server = crypto.ServerKey(bytes(range(64, 96)))
    data = bytearray(_ack(alice, server, [_reply("x")]))
    data[flip % len(data)] ^= 0x10
    with pytest.raises(crypto.CryptoError):
        crypto.read_ack(bytes(data[: len(data) - cut]), server=server.public, caseworkers=[alice.public])
