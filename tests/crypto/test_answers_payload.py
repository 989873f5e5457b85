"""Reading a schema 3 payload (docs/FORMAT.md §12.4): its shape first, without the questionnaire it names.

The laptop opens an envelope before it looks up the questionnaire, so ``decode_request`` and
``open_envelope`` accept every schema 3 payload a questionnaire could produce, keep its bytes canonical, and
refuse anything else with ``MalformedError`` only.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from crypto.answers import encode_questionnaire_request, normalize_answers
from crypto.questionnaire import builtin_questionnaire
from crypto.request_schema import normalize_request

RELOCATION = builtin_questionnaire("relocation-lgbtqi")
ANSWERS = {"risk": "unsafe_soon", "harm": ["arrest", "outed"], "country": "Uganda", "household": 2,
           "passport": "expired", "situation": "Мне нужна помощь.", "contact_method": "signal",
           "contact": "@someone", "consent": True}  # fmt: skip


def reply_key() -> str:
    from crypto.reply_keys import ReplyPublicKey

    return ReplyPublicKey.from_b64("BxiCDz0P6tC+9vzWRc2oR0NNbOJVUw5a4IQpPJQ00is=").to_b64()


def encoded(**answers: Any) -> bytes:
    return encode_questionnaire_request(RELOCATION, {**ANSWERS, **answers}, locale="ru", submitted_on="2026-12-01",
                                        reply_key=reply_key())  # fmt: skip


def test_a_schema_3_request_decodes_to_its_own_canonical_bytes() -> None:
    data = encoded()
    decoded = crypto.decode_request(data)
    assert decoded["questionnaire"] == {"id": "relocation-lgbtqi", "version": 1, "sha256": RELOCATION.sha256}
    assert crypto.encode_request(decoded) == data  # what the store caches is the payload as sealed
    assert normalize_answers(RELOCATION, decoded["answers"]) == decoded["answers"]


def test_a_sealed_schema_3_request_opens_as_a_request() -> None:
    alice = crypto.Identity.generate("Alice")
    envelope = crypto.seal_request(json.loads(encoded()), for_recipients=[alice.public])
    payload = crypto.open_envelope(envelope, alice)
    assert crypto.payload_kind(payload) == "request"
    assert payload["answers"]["harm"] == ["arrest", "outed"]
    short = json.loads(encoded(risk="unsafe_now", situation=""))
    assert len(envelope) == len(crypto.seal_request(short, for_recipients=[alice.public]))


GOOD = json.loads(encoded())


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "followup"}, {"kind": None}, {"questionnaire": None}, {"questionnaire": {"id": "x", "version": 1}},
        {"questionnaire": {**GOOD["questionnaire"], "sha256": "A" * 64}},
        {"questionnaire": {**GOOD["questionnaire"], "version": 0}},
        {"questionnaire": {**GOOD["questionnaire"], "version": True}},
        {"questionnaire": {**GOOD["questionnaire"], "id": "Bad id"}},
        {"answers": []}, {"answers": {"csrf_token": "x"}}, {"answers": {"Risk": "x"}},
        {"answers": {"risk": False}}, {"answers": {"risk": 1.5}}, {"answers": {"harm": ["a", "a"]}},
        {"answers": {"harm": ["not an id"]}}, {"answers": {"story": "\x00"}}, {"answers": {"n": 10**7}},
        {"answers": {"x": {"nested": 1}}}, {"danger": "immediate"}, {"locale": "english"},
    ],
)  # fmt: skip
def test_a_payload_outside_the_shape_is_malformed(change: dict[str, Any]) -> None:
    with pytest.raises(crypto.MalformedError):
        crypto.decode_request(json.dumps({**GOOD, **change}).encode())


answer_values = st.none() | st.just(True) | st.integers(-(10**6), 10**6) | st.text(max_size=20) | st.lists(
    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), max_size=4, unique=True)  # fmt: skip
field_ids = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda k: k not in crypto.questionnaire.RESERVED_IDS)  # fmt: skip


@given(answers=st.dictionaries(field_ids, answer_values, max_size=12))
def test_any_answer_shaped_payload_round_trips(answers: dict[str, Any]) -> None:
    payload = {**GOOD, "answers": answers}
    try:
        decoded = normalize_request(payload)
    except crypto.RequestInvalidError:
        return  # a text with a control character, say: refused with the field's name
    assert json.loads(crypto.encode_request(decoded)) == json.loads(json.dumps(decoded))
    assert crypto.decode_request(crypto.encode_request(decoded)) == decoded


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@given(key=st.sampled_from([*GOOD, "answers", "extra"]), value=junk)
def test_a_schema_3_reader_raises_only_malformed(key: str, value: Any) -> None:
    # (or, for another schema number, UnsupportedVersionError: §3 step 3)
    with contextlib.suppress(crypto.MalformedError, crypto.UnsupportedVersionError):
        crypto.decode_request(json.dumps({**GOOD, key: value}).encode())


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["Он", "a" * 300, "Мне нужна помощь."]))
def test_a_reply_key_given_as_the_key_encodes_as_its_checked_text_does(seed: bytes, story: str) -> None:
    from crypto.answers import check_answers, encode_checked
    from crypto.reply_keys import ReplyKeyPair

    # Given a reply key made from a secret (it refused a low-order point when it was made)
    public = ReplyKeyPair(seed).public
    checked = check_answers(RELOCATION, {**ANSWERS, "situation": story})
    # Then the payload is byte for byte the one its text, decoded and checked again, gives
    by_text = encode_checked(RELOCATION, checked, locale="ru", submitted_on="2026-12-01", reply_key=public.to_b64())
    assert encode_checked(RELOCATION, checked, locale="ru", submitted_on="2026-12-01", reply_key=public) == by_text
    assert json.loads(by_text)["reply_key"] == public.to_b64()


def test_a_reply_key_text_is_still_checked() -> None:
    from crypto.answers import check_answers, encode_checked

    checked = check_answers(RELOCATION, ANSWERS)
    for bad in ("A" * 44, "AAAA", reply_key().rstrip("=")):  # all zeros (low order), too short, not canonical
        with pytest.raises(crypto.RequestInvalidError):
            encode_checked(RELOCATION, checked, locale="ru", submitted_on="2026-12-01", reply_key=bad)
