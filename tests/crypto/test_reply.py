"""The reply container (FORMAT.md §11): one fixed size, one reader, every refusal typed."""

from __future__ import annotations

import contextlib
import datetime
import inspect
import json

import nacl.bindings
import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from crypto.reply import MAGIC, PLAINTEXT_BUCKET, SEALED_SIZE, check_container

DAY = datetime.date(2026, 11, 24)
PAIR = crypto.derive_reply_keypair("098765432109876543210987654321", bytes(range(32)))
OTHER = crypto.derive_reply_keypair("098765432109876543210987654322", bytes(range(32)))


def raw_reply(plaintext: bytes, to: crypto.ReplyPublicKey = PAIR.public, version: int = 1) -> bytes:
    """A container around any plaintext: lets a test carry a bad length, padding or JSON."""
    return MAGIC + bytes([version]) + nacl.bindings.crypto_box_seal(plaintext, to.raw)


def framed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data + bytes(PLAINTEXT_BUCKET - len(data))


def test_round_trip_keeps_the_exact_words_and_the_day() -> None:
    text = "Здравствуйте! Мы получили вашу заявку.\r\nОтветьте, пожалуйста: 🏳️‍🌈"
    container = crypto.seal_reply(text, written_on=DAY, seq=1, to=PAIR.public)
    assert crypto.open_reply(container, PAIR) == crypto.Reply(text, DAY, 1)
    assert container[4] == 2
    assert text not in repr(crypto.open_reply(container, PAIR))


@pytest.mark.parametrize("text", ["x", "я" * 4000, "🙂" * 4000, '"\\\n\t' * 1000])
def test_every_reply_has_one_size(text: str) -> None:
    container = crypto.seal_reply(text, written_on=DAY, seq=1, to=PAIR.public)
    assert len(container) == crypto.REPLY_SIZE == 16441
    check_container(container)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "required"),
        ("  \n", "required"),
        ("я" * 4001, "too_long"),
        ("a\x1bb", "control_character"),
        (5, "not_text"),
    ],
)
def test_bad_texts_are_refused_with_a_reason(text: object, reason: str) -> None:
    with pytest.raises(crypto.RequestInvalidError) as caught:
        crypto.seal_reply(text, written_on=DAY, seq=1, to=PAIR.public)  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.reason) == ("text", reason)


def test_another_key_cannot_open_it() -> None:
    container = crypto.seal_reply("только вам", written_on=DAY, seq=1, to=PAIR.public)
    with pytest.raises(crypto.NotRecipientError):
        crypto.open_reply(container, OTHER)


def test_every_changed_byte_is_refused() -> None:
    container = crypto.seal_reply("проверка", written_on=DAY, seq=1, to=PAIR.public)
    for position in [*range(0, 120), *range(120, len(container), 499), len(container) - 1]:
        changed = bytearray(container)
        changed[position] ^= 0x01
        with pytest.raises(crypto.CryptoError):
            crypto.open_reply(bytes(changed), PAIR)


@pytest.mark.parametrize(
    ("container", "error"),
    [
        (b"ITKX\x01" + bytes(SEALED_SIZE), crypto.MalformedError),
        (b"ITKR\x03" + bytes(SEALED_SIZE), crypto.UnsupportedVersionError),
        (b"ITKR\x00" + bytes(SEALED_SIZE), crypto.UnsupportedVersionError),
        (b"ITKR\x01" + bytes(SEALED_SIZE - 1), crypto.MalformedError),
        (b"ITKR", crypto.MalformedError),
        (raw_reply(framed(b'{"text":"hi","written_on":"2026-11-24"}')[:-1]), crypto.MalformedError),
        (raw_reply((PLAINTEXT_BUCKET + 1).to_bytes(4, "big") + bytes(PLAINTEXT_BUCKET)), crypto.MalformedError),
        (raw_reply(framed(b'{"text":"hi","written_on":"2026-11-24"}')[:-1] + b"\x01"), crypto.MalformedError),
        (raw_reply(framed(b'{"text":"hi","written_on":"2026-02-30"}')), crypto.MalformedError),
        (raw_reply(framed(b'{"text":"hi","written_on":"2026-11-24","from":"x"}')), crypto.MalformedError),
        (raw_reply(framed(b'{"text":"hi","text":"ho","written_on":"2026-11-24"}')), crypto.MalformedError),
        (raw_reply(framed(b'{"text":"hi"}')), crypto.MalformedError),
        # Version 2 needs its seq, a whole number from 1; version 1 knows no seq.
        (raw_reply(framed(b'{"text":"hi","written_on":"2026-11-24"}'), version=2), crypto.MalformedError),
        (raw_reply(framed(b'{"seq":0,"text":"hi","written_on":"2026-11-24"}'), version=2), crypto.MalformedError),
        (raw_reply(framed(b'{"seq":true,"text":"hi","written_on":"2026-11-24"}'), version=2), crypto.MalformedError),
        (raw_reply(framed(b'{"seq":1.5,"text":"hi","written_on":"2026-11-24"}'), version=2), crypto.MalformedError),
        (raw_reply(framed(b'{"seq":"2","text":"hi","written_on":"2026-11-24"}'), version=2), crypto.MalformedError),
        (raw_reply(framed(b'{"seq":1000001,"text":"hi","written_on":"2026-11-24"}'), version=2),
         crypto.MalformedError),
        (raw_reply(framed(b'{"seq":1,"text":"hi","written_on":"2026-11-24"}')), crypto.MalformedError),
    ],
)
def test_each_fault_has_its_class(container: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        crypto.open_reply(container, PAIR)
    assert not isinstance(caught.value, crypto.NotRecipientError)


def test_a_version_1_reply_still_opens_without_a_seq() -> None:
    container = raw_reply(framed(b'{"text":"hi","written_on":"2026-11-24"}'))
    check_container(container)
    assert crypto.open_reply(container, PAIR) == crypto.Reply("hi", DAY, None)


def test_the_seq_is_sealed_inside_and_orders_replies_of_one_day() -> None:
    # Given five replies of one day, sealed in the order 1..5
    containers = [crypto.seal_reply(f"ответ {n}", written_on=DAY, seq=n, to=PAIR.public) for n in range(1, 6)]
    # Then the containers say nothing of it (same size, same header), and opening gives the order back
    assert {len(c) for c in containers} == {crypto.REPLY_SIZE} and {c[:5] for c in containers} == {b"ITKR\x02"}
    opened = sorted((crypto.open_reply(c, PAIR) for c in reversed(containers)), key=lambda r: r.order)
    assert [r.text for r in opened] == [f"ответ {n}" for n in range(1, 6)]


@pytest.mark.parametrize("seq", [0, -1, 1_000_001, True, 2.0])
def test_a_bad_seq_is_refused_when_sealing(seq: object) -> None:
    with pytest.raises(crypto.MalformedError):
        crypto.seal_reply("hi", written_on=DAY, seq=seq, to=PAIR.public)  # type: ignore[arg-type]


def test_a_noncanonical_but_valid_reply_opens() -> None:
    container = raw_reply(framed(b'{ "written_on" : "2026-11-24", "text" : "hi" }'))
    assert crypto.open_reply(container, PAIR) == crypto.Reply("hi", DAY)


@given(st.text(min_size=1, max_size=4000))
def test_any_valid_text_round_trips_at_the_one_size(text: str) -> None:
    try:
        container = crypto.seal_reply(text, written_on=DAY, seq=1, to=PAIR.public)
    except crypto.RequestInvalidError as error:
        assert error.reason in ("required", "control_character")
        return
    assert len(container) == crypto.REPLY_SIZE
    assert crypto.open_reply(container, PAIR).text == text


@given(st.binary(max_size=64).map(lambda b: b"ITKR\x01" + b + bytes(SEALED_SIZE - len(b))) | st.binary(max_size=300))
def test_parser_only_raises_typed_errors(data: bytes) -> None:
    with contextlib.suppress(crypto.CryptoError):
        crypto.open_reply(data, PAIR)
        raise AssertionError("random bytes opened as a reply")


_REPLY_VALUES = st.none() | st.integers(-1, 5) | st.text(max_size=40) | st.sampled_from(
    ["2026-11-24", "2026-02-30", "  ", "я" * 4000, "я" * 4001, "a\x1bb"])  # fmt: skip
reply_plaintexts = st.one_of(
    st.binary(max_size=PLAINTEXT_BUCKET - 4),
    # JSON objects near a reply's shape: its keys with any values, sometimes another key, any separators
    st.tuples(st.dictionaries(st.sampled_from(["text", "written_on", "x"]), _REPLY_VALUES, max_size=3),
              st.sampled_from([None, 1])).map(lambda t: json.dumps(t[0], ensure_ascii=False, indent=t[1]).encode()),
    st.tuples(st.text(min_size=1, max_size=60), st.dates()).map(
        lambda t: json.dumps({"text": t[0], "written_on": t[1].isoformat()}, ensure_ascii=False).encode()),
)  # fmt: skip


@given(reply_plaintexts)
def test_any_authentic_plaintext_gives_a_reply_or_a_typed_error(data: bytes) -> None:
    if len(data) > PLAINTEXT_BUCKET - 4:
        data = data[: PLAINTEXT_BUCKET - 4]
    try:
        reply = crypto.open_reply(raw_reply(framed(data)), PAIR)
    except crypto.MalformedError:
        return
    # What it opens is a reply within the bounds, that seals again to one size and opens to itself
    assert isinstance(reply.text, str) and 1 <= len(reply.text) <= 4000 and reply.text.strip()
    assert isinstance(reply.written_on, datetime.date)
    seq = {"seq": 1} if "seq" in inspect.signature(crypto.seal_reply).parameters else {}  # FORMAT.md §11 v2
    again = crypto.seal_reply(reply.text, written_on=reply.written_on, to=PAIR.public, **seq)
    reopened = crypto.open_reply(again, PAIR)
    assert len(again) == crypto.REPLY_SIZE and (reopened.text, reopened.written_on) == (reply.text, reply.written_on)
