"""Schema 2: requests that carry a reply key, follow-ups, and the reply keys themselves (FORMAT.md §3, §10)."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from crypto.envelope import envelope_size
from crypto.followup import FOLLOWUP_FIELDS
from tests.crypto.conftest import make_request

SECRET = bytes(range(32))
DIGITS = "123456789012345678901234567890"
REPLY_KEY = crypto.derive_reply_keypair(DIGITS, SECRET).public.to_b64()


def make_request_v2(**fields: object) -> dict[str, object]:
    return make_request(**{"schema": 2, "kind": "request", "reply_key": REPLY_KEY, **fields})


def make_followup(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "schema": 2, "kind": "followup", "locale": "ru", "submitted_on": "2026-11-23", "reply_key": REPLY_KEY,
        "message": "Да, я могу говорить после 22:00.",
    }  # fmt: skip
    base.update(fields)
    return base


def test_reply_keys_are_deterministic_and_depend_on_both_inputs() -> None:
    pair = crypto.derive_reply_keypair(DIGITS, SECRET)
    assert pair.public == crypto.derive_reply_keypair(DIGITS, SECRET).public
    assert pair.public != crypto.derive_reply_keypair(DIGITS[:-1] + "1", SECRET).public
    assert pair.public != crypto.derive_reply_keypair(DIGITS, bytes(range(1, 33))).public
    assert crypto.ReplyPublicKey.from_b64(pair.public.to_b64()) == pair.public
    assert len(pair.public.to_b64()) == 44
    assert "secret" not in repr(pair) and SECRET.hex() not in repr(pair)


def test_mailbox_id_is_a_labelled_hash_of_the_public_key() -> None:
    public = crypto.derive_reply_keypair(DIGITS, SECRET).public
    mailbox = crypto.mailbox_id(public)
    assert len(mailbox) == 32 and mailbox != public.raw
    assert mailbox == crypto.mailbox_id(crypto.ReplyPublicKey(public.raw))


@pytest.mark.parametrize("digits", ["", DIGITS[:-1], DIGITS + "0", "12345 67890 12345 67890 12345 6789", "١" * 30])
def test_reply_keys_need_exactly_thirty_ascii_digits(digits: str) -> None:
    with pytest.raises(crypto.MalformedError):
        crypto.derive_reply_keypair(digits, SECRET)


@pytest.mark.parametrize("secret", [b"", bytes(31), bytes(33)])
def test_reply_keys_need_a_32_byte_server_secret(secret: bytes) -> None:
    with pytest.raises(crypto.MalformedError):
        crypto.derive_reply_keypair(DIGITS, secret)


@pytest.mark.parametrize(
    "text",
    [
        "A" * 44,  # 44 characters without padding: 33 bytes
        "AAAA",
        "not base64 at all, and forty-four chars long",
        REPLY_KEY[:-2] + "B=",  # non-zero unused bits: not canonical
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # all zeros: small order
        "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=",  # order 8
    ],
)
def test_bad_reply_keys_are_refused(text: str) -> None:
    with pytest.raises(crypto.MalformedError):
        crypto.ReplyPublicKey.from_b64(text)


def test_schema_2_request_round_trip_and_shape() -> None:
    data = crypto.encode_request(make_request_v2())
    decoded = crypto.decode_request(data)
    assert decoded["schema"] == 2 and decoded["kind"] == "request" and decoded["reply_key"] == REPLY_KEY
    assert crypto.payload_kind(decoded) == "request"
    assert crypto.decode_payload(data) == decoded
    assert data == json.dumps(decoded, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def test_schema_1_request_is_a_request_without_reply_key() -> None:
    decoded = crypto.decode_payload(crypto.encode_request(make_request()))
    assert crypto.payload_kind(decoded) == "request" and "reply_key" not in decoded and "kind" not in decoded


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": None}, "kind"),
        ({"kind": "reply"}, "kind"),
        ({"reply_key": None}, "reply_key"),
        ({"reply_key": "AAAA"}, "reply_key"),
        ({"message": "hi"}, "message"),
    ],
)
def test_schema_2_request_field_errors(fields: dict[str, object], field: str) -> None:
    request = make_request_v2(**fields)
    if fields.get("kind", "") is None:
        del request["kind"]
    with pytest.raises(crypto.RequestInvalidError) as caught:
        crypto.encode_request(request)
    assert caught.value.field == field


def test_schema_1_may_not_carry_schema_2_fields() -> None:
    with pytest.raises(crypto.RequestInvalidError) as caught:
        crypto.encode_request(make_request(reply_key=REPLY_KEY))
    assert caught.value.reason == "unknown_field"


def test_followup_round_trip_and_every_field_required() -> None:
    data = crypto.encode_followup(make_followup())
    decoded = crypto.decode_payload(data)
    assert set(decoded) == set(FOLLOWUP_FIELDS)
    assert crypto.payload_kind(decoded) == "followup" and decoded["message"].startswith("Да")
    for field in ("locale", "submitted_on", "reply_key", "message"):
        incomplete = make_followup()
        del incomplete[field]
        with pytest.raises(crypto.MalformedError):
            crypto.encode_followup(incomplete)


@pytest.mark.parametrize(
    ("message", "reason"),
    [("", "required"), (" \n\t", "required"), ("я" * 4001, "too_long"), ("a\x00b", "control_character")],
)
def test_followup_message_rules(message: str, reason: str) -> None:
    with pytest.raises(crypto.RequestInvalidError) as caught:
        crypto.encode_followup(make_followup(message=message))
    assert (caught.value.field, caught.value.reason) == ("message", reason)


def test_a_followup_is_not_a_request_and_a_request_is_not_a_followup() -> None:
    followup = crypto.encode_followup(make_followup())
    with pytest.raises(crypto.MalformedError):
        crypto.decode_request(followup)
    with pytest.raises(crypto.MalformedError):
        crypto.encode_followup(make_request_v2())
    with pytest.raises(crypto.MalformedError):
        crypto.encode_followup(make_followup(schema=1))
    with pytest.raises(crypto.RequestInvalidError):
        crypto.encode_followup(make_followup(story="x"))


def test_followups_and_requests_seal_to_one_size(alice: crypto.Identity, bob: crypto.Identity) -> None:
    # Given the smallest and largest follow-ups and requests of each schema, for one and two recipients
    for recipients in ([alice.public], [alice.public, bob.public]):
        sealed = [
            crypto.seal_followup(make_followup(message="x"), for_recipients=recipients),
            crypto.seal_followup(make_followup(message="🏳️‍🌈" * 1000), for_recipients=recipients),
            crypto.seal_followup(make_followup(message='"\n' * 2000), for_recipients=recipients),
            crypto.seal_request(make_request(), for_recipients=recipients),
            crypto.seal_request(make_request_v2(story="ж" * 10000), for_recipients=recipients),
        ]
        # Then every one has the request envelope's size
        assert {len(e) for e in sealed} == {envelope_size(0, len(recipients))}


def test_open_envelope_returns_either_kind_and_open_request_refuses_a_followup(alice: crypto.Identity) -> None:
    followup = crypto.seal_followup(make_followup(), for_recipients=[alice.public])
    request = crypto.seal_request(make_request_v2(), for_recipients=[alice.public])
    assert crypto.payload_kind(crypto.open_envelope(followup, alice)) == "followup"
    assert crypto.open_envelope(request, alice) == crypto.open_request(request, alice)
    with pytest.raises(crypto.MalformedError, match="follow-up"):
        crypto.open_request(followup, alice)


@given(
    st.dictionaries(st.sampled_from([*FOLLOWUP_FIELDS, "story", "x"]), st.none() | st.integers() | st.text(max_size=60))
)
def test_followup_encoder_on_arbitrary_mappings(fields: dict[str, object]) -> None:
    try:
        data = crypto.encode_followup(fields)
    except crypto.CryptoError:
        return
    assert crypto.encode_followup(crypto.decode_payload(data)) == data


@given(st.binary(max_size=2000) | st.text(max_size=300).map(str.encode))
def test_payload_decoder_only_raises_typed_errors(data: bytes) -> None:
    with contextlib.suppress(crypto.CryptoError):
        payload = crypto.decode_payload(data)
        assert crypto.payload_kind(payload) in ("request", "followup")


@given(message=st.text(min_size=1, max_size=4000))
def test_every_valid_followup_fits_the_bucket(message: str) -> None:
    try:
        data = crypto.encode_followup(make_followup(message=message))
    except crypto.RequestInvalidError as error:
        assert error.reason in ("required", "control_character")
        return
    assert len(data) <= crypto.MAX_REQUEST_BYTES


@given(st.text(max_size=60) | st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()))
def test_reply_key_parser_only_accepts_canonical_keys(text: str) -> None:
    try:
        key = crypto.ReplyPublicKey.from_b64(text)
    except crypto.MalformedError:
        return
    assert key.to_b64() == text and len(key.raw) == 32
