"""Every known-answer vector through the independent decoder (written from docs/FORMAT.md only)."""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.independent import decoder as d
from tests.independent.file_decoder import open_sealed_file
from tests.vectors.vectorfile import Vector, all_vectors

VECTORS = all_vectors()
SUCCESSES = [v for v in VECTORS if v.expect == "success"]

# Disagreements between FORMAT.md and a vector; each is explained in the helper's report. Strict, so
# the test turns red (XPASS) once the spec or the vector is fixed and the mark must go.
SPEC_CONFLICTS: dict[str, str] = {}


def _floor(vector: Vector) -> tuple[int, int]:
    passes, memory_kib = vector.header["kdf-floor"].split()
    return int(passes), int(memory_kib)


@functools.cache
def _identity(encoded: str, passphrase: str, floor: tuple[int, int]) -> bytes:
    return d.read_private_key(base64.b64decode(encoded), passphrase, floor=floor).box_sk


def decode(vector: Vector, body: bytes) -> bytes:
    """Decode `body` as `vector` describes; return the bytes whose BLAKE2b-32 §9 names."""
    header = vector.header
    kind = vector.kind
    if kind == "request":
        return d.canonical(d.decode_request(body))
    if kind == "envelope":
        # §9: envelope vectors test the envelope layer (§4.4 steps 1-4); step 5 is the request layer.
        payload = d.open_envelope(body, _identity(header["identity"], header["passphrase"], _floor(vector)))
        return d.canonical(d.decode_request(payload)) if header.get("decode") == "payload" else payload
    if kind == "reply-key":
        _, public, mailbox = d.reply_keys(body.decode("utf-8", "replace"), base64.b64decode(header["reply-secret"]))
        return public + mailbox
    if kind == "reply":
        secret, _, _ = d.reply_keys(header["receipt"], base64.b64decode(header["reply-secret"]))
        return d.canonical(d.open_reply(body, secret))
    if kind == "server-key":
        return d.read_server_key(body)
    if kind == "private-key":
        # A mutated header may legally ask for up to 1 GiB; keep the property test cheap.
        return d.read_private_key(body, header["passphrase"], floor=_floor(vector), max_memory_kib=16384).secret
    if kind == "public-key":
        key = d.read_public_key(body)
        return key.box_pk + key.sign_pk
    if kind == "file":
        return open_sealed_file(body, base64.b64decode(header["key"]), int(header["size"]), header["sha256"],
                                header["blob-sha256"])  # fmt: skip
    server = base64.b64decode(header["server"])
    if kind == "bundle":
        bundle = d.read_bundle(body, server)
        people = b"".join(box + sign + name.encode() for box, sign, name in bundle.recipients) + bundle.delivered
        people += b"".join(box + sign + name.encode() for box, sign, name in bundle.former)
        people += b"".join(entry.sealed_to + entry.envelope for entry in bundle.entries)
        return people + b"".join(bundle.questionnaires) + b"".join(i + blob for i, blob in bundle.blobs)
    if kind == "ack":
        caseworkers = [base64.b64decode(k) for k in header["caseworkers"].split(",")]
        ack = d.read_ack(body, server, caseworkers)
        return ack.entries + ack.replies
    raise AssertionError(f"unknown kind {kind}")


def blake2b_hex(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def _param(vector: Vector) -> object:
    marks = []
    if vector.name in SPEC_CONFLICTS:
        marks.append(pytest.mark.xfail(strict=True, reason=SPEC_CONFLICTS[vector.name]))
    return pytest.param(vector, id=vector.name, marks=marks)


def test_every_vector_file_is_covered() -> None:
    assert len(VECTORS) >= 50
    assert {v.kind for v in VECTORS} == {
        *("request", "envelope", "private-key", "public-key", "server-key", "bundle", "ack", "reply-key", "reply"),
        "file",
    }


@pytest.mark.parametrize("vector", [_param(v) for v in VECTORS])
def test_vector(vector: Vector) -> None:
    try:
        hashed = decode(vector, vector.body)
    except d.DecodeError as error:
        assert error.kind == vector.expect
    else:
        assert vector.expect == "success"
        assert blake2b_hex(hashed) == vector.header["payload-blake2b"]
        if vector.kind == "reply-key":
            assert base64.b64encode(hashed[:32]).decode() == vector.header["reply-public"]
            assert hashed[32:].hex() == vector.header["mailbox"]


@pytest.mark.parametrize(
    ("length", "padded"),
    [
        (0, 32768),
        (3, 32768),
        (32768, 32768),
        (32769, 34816),
        (40000, 40960),
        (40960, 40960),
        (65537, 67584),
        (100000, 100352),
        (1048576, 1048576),
    ],
)
def test_padded_size_examples_of_section_4_2(length: int, padded: int) -> None:
    assert d.padded_size(length) == padded


def test_padded_size_refuses_beyond_the_bound() -> None:
    with pytest.raises(d.Malformed):
        d.padded_size(1048577)


def test_day_example_of_section_1() -> None:
    assert bytes.fromhex("01352902") == (20261122).to_bytes(4, "big")
    assert d._day(bytes.fromhex("01352902"), 0) == datetime.date(2026, 11, 22)


Mutation = Callable[[bytes], bytes]


@st.composite
def mutations(draw: st.DrawFn, size: int) -> Mutation:
    choice = draw(st.sampled_from(["flip", "truncate", "insert"]))
    if choice == "flip":
        at, bit = draw(st.integers(0, size - 1)), draw(st.integers(0, 7))
        return lambda b: b[:at] + bytes([b[at] ^ (1 << bit)]) + b[at + 1 :]
    if choice == "truncate":
        keep = draw(st.integers(0, size - 1))
        return lambda b: b[:keep]
    at, extra = draw(st.integers(0, size)), draw(st.binary(min_size=1, max_size=8))
    return lambda b: b[:at] + extra + b[at:]


@pytest.mark.parametrize("vector", [pytest.param(v, id=v.name) for v in SUCCESSES])
def test_mutations_fail_cleanly(vector: Vector) -> None:
    expected = vector.header["payload-blake2b"]

    @settings(max_examples=40)
    @given(mutation=mutations(len(vector.body)))
    def check(mutation: Mutation) -> None:
        body = mutation(vector.body)
        try:
            hashed = decode(vector, body)
        except d.DecodeError:
            return
        if vector.kind in ("reply-key", "server-key"):
            return  # unauthenticated by design: other digits or another seed are simply another key
        if vector.kind == "request":
            # Plain JSON carries no authentication: a mutation may be another valid request,
            # but then it must be a normalised one that decodes to itself.
            assert d.canonical(d.decode_request(hashed)) == hashed
        else:
            assert blake2b_hex(hashed) == expected

    check()
