"""Schema 1 (schema 2 and follow-ups: test_payloads.py): the normalised shape, bounds, canonical encoding."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from crypto import request_schema as schema
from tests.crypto.conftest import make_request


def test_normalised_shape_has_every_key() -> None:
    decoded = crypto.decode_request(crypto.encode_request(make_request()))
    assert set(decoded) == set(schema.REQUEST_FIELDS) | set(schema.META_FIELDS)
    assert decoded["threat_from"] == [] and decoded["detention"] is None and decoded["health"] == ""
    assert decoded["submitted_on"] == "2026-11-22"


def test_encoding_is_canonical() -> None:
    data = crypto.encode_request(make_request(threat_from=["other", "family", "family"]))
    assert data == json.dumps(json.loads(data), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert json.loads(data)["threat_from"] == ["family", "other"]
    assert "Помогите".encode() in data  # not \u-escaped


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("danger", None, "required"),
        ("danger", "maybe", "not_a_choice"),
        ("people", 0, "out_of_range"),
        ("people", 21, "out_of_range"),
        ("people", True, "not_an_integer"),
        ("people", "3", "not_an_integer"),
        ("children", 4, "more_than_people"),
        ("children", -1, "out_of_range"),
        ("contact", "   ", "required"),
        ("contact", "x" * 201, "too_long"),
        ("alias", "x" * 101, "too_long"),
        ("story", "я" * 10001, "too_long"),
        ("safe_times", "a\x07b", "control_character"),
        ("story", "\x1c\x1d", "control_character"),  # not white space (FORMAT.md §1)
        ("story", "\u2028\u3000", "required"),
        ("documents", ["passport"], "not_a_choice"),
        ("documents", "none", "not_a_list"),
        ("consent", False, "required"),
        ("locale", "english!", "not_a_locale"),
        ("submitted_on", "2026-02-30", "not_a_day"),
    ],
)
def test_each_bound_names_its_field(field: str, value: object, reason: str) -> None:
    with pytest.raises(crypto.RequestInvalidError) as caught:
        crypto.encode_request(make_request(**{field: value}))
    assert (caught.value.field, caught.value.reason) == (field, reason)


def test_bounds_are_inclusive() -> None:
    request = make_request(people=20, children=20, story="я" * 10000, contact="c" * 200, alias="a" * 100)
    assert crypto.decode_request(crypto.encode_request(request))["story"] == "я" * 10000


def test_unknown_field_is_refused() -> None:
    with pytest.raises(crypto.RequestInvalidError):
        crypto.encode_request(make_request(ip_address="203.0.113.9"))


@pytest.mark.parametrize("version", [0, 4, 99])
def test_unknown_schema_is_unsupported(version: int) -> None:
    with pytest.raises(crypto.UnsupportedVersionError):
        crypto.encode_request(make_request(schema=version))


_VALID = json.loads(crypto.encode_request(make_request()))
_VALUES = st.none() | st.booleans() | st.integers(-3, 25) | st.text(max_size=30) | st.sampled_from(
    ["immediate", "serious", "family", "never", "chechnya", "email", "2026-02-30", "2026-11-22", "en", "x" * 201]
) | st.lists(st.sampled_from(["family", "other", "none", "confiscated", "x"]), max_size=3)  # fmt: skip

payload_bytes = st.one_of(
    st.binary(max_size=2000),
    # valid requests with a few keys changed, added or removed, written with any separators and key order
    st.tuples(
        st.dictionaries(st.sampled_from([*schema.REQUEST_FIELDS, *schema.META_FIELDS, "x"]), _VALUES, max_size=3),
        st.lists(st.sampled_from(sorted(_VALID)), max_size=2), st.booleans(), st.sampled_from([None, 1, "\t"]),
    ).map(lambda t: json.dumps({k: v for k, v in {**_VALID, **t[0]}.items() if k not in t[1]},
                               ensure_ascii=t[2], indent=t[3]).encode()),
)  # fmt: skip


@given(payload_bytes)
def test_decoder_only_raises_typed_errors(data: bytes) -> None:
    try:
        decoded = crypto.decode_request(data)
    except crypto.CryptoError:
        return
    # What it accepts is bounded, of a known schema, and has one canonical encoding that decodes to itself
    assert len(data) <= crypto.MAX_REQUEST_BYTES
    assert decoded["schema"] in (1, 2)
    canonical = crypto.encode_request(decoded)
    assert len(canonical) <= crypto.MAX_REQUEST_BYTES
    assert crypto.decode_request(canonical) == decoded
    assert crypto.encode_request(crypto.decode_request(canonical)) == canonical


@given(
    st.dictionaries(
        st.sampled_from([*schema.REQUEST_FIELDS, *schema.META_FIELDS, "x"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=50) | st.lists(st.text(max_size=20), max_size=4),
    )
)
def test_encoder_on_arbitrary_mappings(fields: dict[str, object]) -> None:
    try:
        data = crypto.encode_request(fields)
    except crypto.CryptoError:
        return
    assert crypto.encode_request(crypto.decode_request(data)) == data


@given(
    story=st.text(min_size=1, max_size=300).filter(str.strip),
    threat=st.lists(st.sampled_from(schema.THREAT_FROM)),
    people=st.integers(1, 20),
)
def test_valid_requests_round_trip(story: str, threat: list[str], people: int) -> None:
    try:
        data = crypto.encode_request(make_request(story=story, threat_from=threat, people=people))
    except crypto.RequestInvalidError as error:
        assert error.reason == "control_character"
        return
    decoded = crypto.decode_request(data)
    assert decoded["story"] == story and decoded["people"] == people
    assert decoded["threat_from"] == [t for t in schema.THREAT_FROM if t in threat]


def test_forbidden_characters_are_exactly_categories_cc_and_cs_less_tab_and_newlines() -> None:
    import sys
    import unicodedata

    from crypto.request_schema import FORBIDDEN_CHARACTERS

    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        expected = ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cs")
        assert bool(FORBIDDEN_CHARACTERS.search(ch)) is expected, hex(code)


def test_minus_zero_and_nulls_follow_the_settled_rules() -> None:
    data = crypto.encode_request(make_request())
    with pytest.raises(crypto.MalformedError):
        crypto.decode_request(data[:-1] + b',"children":-0}')
    loose = json.loads(data)
    loose.update(threat_from=None, health=None, detention="", children=None)
    assert crypto.decode_request(json.dumps(loose).encode()) == crypto.decode_request(data)
    for field, value in (("people", ""), ("danger", ""), ("story", None), ("submitted_on", "0000-01-01")):
        with pytest.raises(crypto.MalformedError):
            crypto.decode_request(json.dumps({**json.loads(data), field: value}).encode())
