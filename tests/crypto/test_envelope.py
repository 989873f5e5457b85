"""Envelopes: round trips, every failure class, and the padding invariant (invariant 11)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from crypto.envelope import FIXED_BUCKET, MAX_PAYLOAD, _open_payload, _seal_payload, envelope_size, padded_size
from crypto.request_schema import TEXT_LIMITS
from tests.crypto.conftest import make_request
from tests.vectors.make_vectors import raw_envelope


def test_round_trip_returns_the_exact_words(alice: crypto.Identity, bob: crypto.Identity) -> None:
    story = "Меня задержали 3 мая.\r\nТеперь прячусь у друзей. 🏳️‍🌈"
    envelope = crypto.seal_request(make_request(story=story), for_recipients=[alice.public, bob.public])
    for identity in (alice, bob):
        opened = crypto.open_request(envelope, identity)
        assert opened["story"] == story
        assert opened["people"] == 3 and opened["danger"] == "serious"


def test_stranger_gets_not_recipient(alice: crypto.Identity, bob: crypto.Identity) -> None:
    envelope = crypto.seal_request(make_request(), for_recipients=[alice.public])
    with pytest.raises(crypto.NotRecipientError):
        crypto.open_request(envelope, bob)


def test_two_seals_of_one_request_differ(alice: crypto.Identity) -> None:
    first = crypto.seal_request(make_request(), for_recipients=[alice.public])
    second = crypto.seal_request(make_request(), for_recipients=[alice.public])
    assert first != second and len(first) == len(second)


@pytest.mark.parametrize("count", [0, 17])
def test_recipient_count_is_bounded(count: int) -> None:
    recipients = [crypto.Identity.generate(f"c{i}").public for i in range(count)]
    with pytest.raises(crypto.MalformedError):
        crypto.seal_request(make_request(), for_recipients=recipients)


def test_sixteen_recipients_each_open(alice: crypto.Identity) -> None:
    others = [crypto.Identity.generate(f"c{i}") for i in range(15)]
    envelope = crypto.seal_request(make_request(), for_recipients=[o.public for o in others] + [alice.public])
    assert crypto.open_request(envelope, alice)["contact"] == "@someone"
    assert crypto.open_request(envelope, others[7])["contact"] == "@someone"


def test_duplicate_recipient_is_refused(alice: crypto.Identity) -> None:
    with pytest.raises(crypto.MalformedError):
        crypto.seal_request(make_request(), for_recipients=[alice.public, alice.public])


def test_every_byte_of_an_envelope_is_authenticated(alice: crypto.Identity, bob: crypto.Identity) -> None:
    envelope = crypto.seal_request(make_request(), for_recipients=[bob.public, alice.public])
    # Every header byte and a sample of the body: no single change may open to anything.
    positions = [*range(0, 200), *range(200, len(envelope), 997), len(envelope) - 1]
    for position in positions:
        changed = bytearray(envelope)
        changed[position] ^= 0x01
        with pytest.raises(crypto.CryptoError):
            crypto.open_request(bytes(changed), alice)


def _largest_text(ch: str) -> dict[str, object]:
    return {field: ch * limit for field, limit in TEXT_LIMITS.items()}


def test_every_request_the_form_accepts_seals_to_one_size(alice: crypto.Identity) -> None:
    # Given the smallest request and the largest that still encodes within the bucket
    small = crypto.seal_request(make_request(story="x", contact="x"), for_recipients=[alice.public])
    cyrillic = {**_largest_text("ж"), "health": "ж" * 1000}
    large = crypto.seal_request(make_request(**cyrillic), for_recipients=[alice.public])
    # Then both are the same size, the size FORMAT.md states
    assert len(small) == len(large) == envelope_size(0, 1) == 32934
    two = crypto.seal_request(make_request(), for_recipients=[alice.public, crypto.Identity.generate("B").public])
    assert len(two) == envelope_size(0, 2) == 33014
    assert envelope_size(0, 1, version=1) == 32902 and envelope_size(0, 2, version=1) == 32982


# Characters of every UTF-8 width, and the ones the canonical encoding writes as two bytes (\" \\ \t \n \r).
_WIDTHS = st.sampled_from(["a", "ж", "中", "🙂", '"', "\\", "\n", "\t", " ", "\u200d"])


@st.composite
def bounded_text(draw: st.DrawFn, limit: int, required: bool) -> str:
    """A text at, just under or just over its bound (or anywhere below it), of characters of any width."""
    length = draw(st.sampled_from([limit - 1, limit, limit + 1]) | st.integers(1 if required else 0, limit))
    alphabet = draw(st.lists(_WIDTHS, min_size=1, max_size=3, unique=True))
    text = "".join(draw(st.sampled_from(alphabet)) for _ in range(min(length, 64)))
    text = (text * (length // max(len(text), 1) + 1))[:length] if text else ""
    return ("x" + text[1:]) if required and text and not text.strip() else text


@st.composite
def requests_near_the_bounds(draw: st.DrawFn) -> dict[str, object]:
    fields: dict[str, object] = {
        name: draw(bounded_text(limit, name in ("contact", "story"))) for name, limit in TEXT_LIMITS.items()
    }
    people = draw(st.integers(1, 20))
    fields.update(
        danger=draw(st.sampled_from(["immediate", "serious", "not_immediate"])), people=people,
        children=draw(st.none() | st.integers(0, people)),
        threat_from=draw(st.lists(st.sampled_from(["authorities", "family", "community", "partner", "other"]),
                                  unique=True)),
        documents=draw(st.lists(st.sampled_from(["internal_passport", "international_passport", "none",
                                                 "confiscated"]), unique=True)),
        locale=draw(st.sampled_from(["ru", "en", "ce", "ru-RU", "abc-Latn123"])),
        schema=draw(st.sampled_from([1, 2])),
    )  # fmt: skip
    if fields["schema"] == 2:
        fields.update(kind="request", reply_key=crypto.derive_reply_keypair("1" * 30, bytes(32)).public.to_b64())
    return make_request(**fields)


_FIXED_IDENTITY = crypto.Identity("fixed", bytes(range(32)), bytes(range(32, 64)))
_FIXED = _FIXED_IDENTITY.public  # keeps the property cheap


@given(requests_near_the_bounds())
def test_padding_invariant_over_random_requests(request: dict[str, object]) -> None:
    over = [name for name, limit in TEXT_LIMITS.items() if len(str(request[name])) > limit]
    try:
        envelope = crypto.seal_request(request, for_recipients=[_FIXED])
    except crypto.RequestTooLargeError as error:
        # Refused by bytes only when its encoding really is over the bucket
        assert not over and error.size > FIXED_BUCKET == error.limit
        return
    except crypto.RequestInvalidError as error:
        assert over and error.reason == "too_long", (error.field, error.reason)  # refused only past a bound
        return
    # Everything within the bounds that fits the bucket seals to the one size
    assert not over
    assert len(envelope) == envelope_size(0, 1) == 32934


def test_an_emoji_story_at_the_character_bound_is_refused_by_bytes(alice: crypto.Identity) -> None:
    with pytest.raises(crypto.RequestTooLargeError) as caught:
        crypto.seal_request(make_request(story="🙂" * 10000), for_recipients=[alice.public])
    assert caught.value.limit == crypto.MAX_REQUEST_BYTES


@given(st.integers(min_value=0, max_value=MAX_PAYLOAD))
def test_padded_size_bounds(length: int) -> None:
    padded = crypto.padded_size(length)
    assert padded >= length
    if length <= FIXED_BUCKET:
        assert padded == FIXED_BUCKET
    else:
        assert padded <= length * 1.12 + 1  # PADMÉ wastes at most 12 %
        assert crypto.padded_size(padded) == padded


@given(st.integers(min_value=FIXED_BUCKET + 1, max_value=MAX_PAYLOAD))
def test_padme_leaves_few_distinct_sizes(length: int) -> None:
    padded = crypto.padded_size(length)
    exponent = length.bit_length() - 1
    # Only the top floor(log2 E)+1 bits of the length may survive.
    assert padded % (1 << (exponent - exponent.bit_length())) == 0


def test_large_payload_round_trip(alice: crypto.Identity) -> None:
    payload = bytes(range(256)) * 300
    envelope = _seal_payload(payload, [alice.public])
    assert _open_payload(envelope, alice) == payload
    assert len(envelope) == envelope_size(len(payload), 1)


def test_digest_names_the_exact_bytes(alice: crypto.Identity) -> None:
    envelope = crypto.seal_request(make_request(), for_recipients=[alice.public])
    assert len(crypto.envelope_digest(envelope)) == 32
    assert crypto.envelope_digest(envelope) != crypto.envelope_digest(envelope[:-1] + b"\x00")


def test_new_envelopes_are_version_2(alice: crypto.Identity) -> None:
    assert crypto.seal_request(make_request(), for_recipients=[alice.public])[4] == 2


def test_a_version_1_envelope_still_opens(alice: crypto.Identity) -> None:
    payload = crypto.encode_request(make_request(story="старый конверт"))
    plaintext = len(payload).to_bytes(4, "big") + payload + bytes(FIXED_BUCKET - len(payload))
    old = raw_envelope([alice.public], plaintext, FIXED_BUCKET, version=1)
    assert len(old) == envelope_size(0, 1, version=1)
    assert crypto.open_request(old, alice)["story"] == "старый конверт"


def test_a_stanza_holding_another_key_than_the_commitment_is_tampered(
    alice: crypto.Identity, bob: crypto.Identity
) -> None:
    # Given an envelope whose second stanza seals a different payload key than the one committed to
    # (a sender trying to show two recipients two different plaintexts)
    payload = crypto.encode_request(make_request())
    plaintext = len(payload).to_bytes(4, "big") + payload + bytes(FIXED_BUCKET - len(payload))
    split = raw_envelope([alice.public, bob.public], plaintext, FIXED_BUCKET, stanza_keys=[None, bytes(32)])
    # Then the first recipient reads it, and the second is told it was tampered with, before any AEAD
    assert crypto.open_request(split, alice)["story"] == make_request()["story"]
    with pytest.raises(crypto.TamperedError, match="commitment"):
        crypto.open_request(split, bob)


@given(length=st.integers(0, 200) | st.integers(FIXED_BUCKET - 3, FIXED_BUCKET + 5000), at=st.integers(0, 10**6),
       value=st.integers(1, 255))  # fmt: skip
def test_an_authentic_envelope_with_any_padding_byte_set_is_refused(length: int, at: int, value: int) -> None:
    # Given an authentic envelope whose payload is followed by zeros, except one byte anywhere in the padding
    padded = padded_size(length)
    zeros = padded - length
    if not zeros:
        return  # a payload that fills its bucket exactly has no padding
    # (the first and the last byte of the padding among the positions tried, whatever hypothesis draws)
    where = (0, zeros - 1, at % zeros)[at % 3]
    clean = length.to_bytes(4, "big") + b"x" * length + bytes(zeros)
    dirty = bytearray(clean)
    dirty[4 + length + where] = value
    # Then the clean one opens to its payload and the dirty one is refused, as malformed
    assert _open_payload(raw_envelope([_FIXED], clean, padded), _FIXED_IDENTITY) == b"x" * length
    with pytest.raises(crypto.MalformedError, match="padding is not zero"):
        _open_payload(raw_envelope([_FIXED], bytes(dirty), padded), _FIXED_IDENTITY)
