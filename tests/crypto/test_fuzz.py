"""Random and mutated bytes into every binary parser: only our typed errors ever come out."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

import crypto
from tests.vectors.vectorfile import all_vectors

_BY_NAME = {v.name: v for v in all_vectors()}
SEEDS = {
    "envelope": _BY_NAME["envelope-success-second-of-two"],
    "envelope-v1": _BY_NAME["envelope-success-version-1"],
    "bundle": _BY_NAME["bundle-success-recipients"],
    "bundle-v1": _BY_NAME["bundle-success"],
    "ack": _BY_NAME["ack-success-with-replies"],
    "reply": _BY_NAME["reply-success"],
}
REPLY_PAIR = crypto.derive_reply_keypair(
    SEEDS["reply"].header["receipt"], base64.b64decode(SEEDS["reply"].header["reply-secret"])
)
IDENTITY = crypto.unlock_identity(
    base64.b64decode(SEEDS["envelope"].header["identity"]),
    SEEDS["envelope"].header["passphrase"],
    min_kdf=crypto.KDF_FOR_TESTS_ONLY,
)
SERVER = crypto.ServerPublicKey(base64.b64decode(SEEDS["bundle"].header["server"]))
CASEWORKERS = [
    crypto.PublicIdentity("r", b"\x09" * 32, base64.b64decode(k)) for k in SEEDS["ack"].header["caseworkers"].split(",")
]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "set"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del data[position : position + draw(st.integers(1, 64))]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            data[position] = draw(st.sampled_from([0, 1, 2, 16, 0x7F, 0xFF]))
    return bytes(data)


def _parse(kind: str, data: bytes) -> None:
    if kind.startswith("envelope"):
        crypto.open_envelope(data, IDENTITY)
    elif kind == "reply":
        crypto.open_reply(data, REPLY_PAIR)
    elif kind.startswith("bundle"):
        for _ in crypto.read_bundle(data, expected_server=SERVER).entries():
            pass
    else:
        crypto.read_ack(data, server=SERVER, caseworkers=CASEWORKERS)


def _only_typed_errors(kind: str, data: bytes) -> None:
    try:
        _parse(kind, data)
    except crypto.CryptoError:
        return
    # A mutation that still parses must have been a no-op on the meaning (e.g. a flipped byte that was
    # restored by a later flip): it must equal the seed.
    assert data == SEEDS[kind].body


@given(st.data())
def test_mutated_envelopes(data: st.DataObject) -> None:
    _only_typed_errors("envelope", data.draw(mutated(SEEDS["envelope"].body)))


@given(st.data())
def test_mutated_version_1_envelopes(data: st.DataObject) -> None:
    _only_typed_errors("envelope-v1", data.draw(mutated(SEEDS["envelope-v1"].body)))


@given(st.data())
def test_mutated_bundles(data: st.DataObject) -> None:
    _only_typed_errors("bundle", data.draw(mutated(SEEDS["bundle"].body)))


@given(st.data())
def test_mutated_version_1_bundles(data: st.DataObject) -> None:
    _only_typed_errors("bundle-v1", data.draw(mutated(SEEDS["bundle-v1"].body)))


@given(st.data())
def test_mutated_replies(data: st.DataObject) -> None:
    _only_typed_errors("reply", data.draw(mutated(SEEDS["reply"].body)))


@given(st.data())
def test_mutated_acks(data: st.DataObject) -> None:
    _only_typed_errors("ack", data.draw(mutated(SEEDS["ack"].body)))


@given(st.binary(max_size=3000))
def test_random_bytes_everywhere(data: bytes) -> None:
    for kind in ("envelope", "bundle", "ack", "reply"):
        try:
            _parse(kind, data)
        except crypto.CryptoError:
            continue
        raise AssertionError(f"random bytes parsed as a {kind}")
