"""Known-answer files for the cases issue 15 found unspecified: each pins one settled rule of FORMAT.md.

Called by ``make_vectors.main``.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
from collections.abc import Callable

import nacl.bindings
import nacl.pwhash.argon2id
import nacl.utils

import crypto
from crypto.binary import encode_day, u8, u32, u64
from crypto.envelope import _seal_payload
from crypto.keys import ServerKey

DAY = datetime.date(2026, 11, 22)
PASSPHRASE = "correct horse battery staple"
TEST_FLOOR = "1 8192"
Write = Callable[..., None]
Hash = Callable[[bytes], str]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def requests(write: Write, b2: Hash, base: dict[str, object]) -> None:
    def canon(raw: bytes) -> str:
        return b2(crypto.encode_request(crypto.decode_request(raw)))

    def dump(value: dict[str, object]) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")

    successes = [
        ("sets-any-order", {**base, "threat_from": ["other", "family", "other"], "documents": ["none", "none"]},
         "any-of values in any order and repeated: normalised to table order without repeats"),
        ("empty-string-one-of", {**base, "detention": "", "location": ""}, '"" counts as absent for detention'),
        ("null-optionals", {**base, "threat_from": None, "health": None, "children": None, "alias": None},
         "null for an optional key is the same as absent"),
        ("escapes", {**base, "story": 'Он сказал: "\\ уходи"\t\r\n\u2028\u2029\u200d/'},
         "quote, backslash, tab, CR, LF escaped; U+2028, U+2029, U+200D and / written as themselves"),
    ]  # fmt: skip
    for name, value, comment in successes:
        data = dump(value)
        write(f"request-success-{name}", data, kind="request", expect="success", payload_blake2b=canon(data),
              comment=comment)  # fmt: skip
    write("request-malformed-minus-zero", dump(base)[:-1] + b',"children":-0}', kind="request",
          expect="malformed", comment="zero written as -0")  # fmt: skip
    faults = [
        ("people-empty-string", {**base, "people": ""}, '"" for a number'),
        ("danger-empty-string", {**base, "danger": ""}, '"" for a required one-of'),
        ("story-null", {**base, "story": None}, "null for a required text"),
        ("year-zero", {**base, "submitted_on": "0000-12-31"}, "years run from 0001 to 9999"),
        ("story-only-information-separators", {**base, "story": "\x1c\x1d"},
         "U+001C-U+001F are control characters, not white space"),
    ]  # fmt: skip
    for name, value, comment in faults:
        write(f"request-malformed-{name}", dump(value), kind="request", expect="malformed", comment=comment)


def envelope_payloads(write: Write, b2: Hash, alice: crypto.Identity, base: dict[str, object]) -> None:
    """§4.4 step 6: an authentic envelope whose payload is then decoded per §3."""
    key_file = _b64(crypto.lock_identity(alice, PASSPHRASE, kdf=crypto.KDF_FOR_TESTS_ONLY))
    who = {"identity": key_file, "passphrase": PASSPHRASE, "kdf_floor": TEST_FLOOR, "decode": "payload"}
    good = crypto.encode_request(base)
    write("envelope-payload-success", _seal_payload(good, [alice.public]), kind="envelope", expect="success",
          payload_blake2b=b2(good), comment="steps 1-6: the canonical payload", **who)  # fmt: skip
    for name, payload, comment in [
        ("not-json", b"\xff not json", "authentic, padded right, but not a JSON payload"),
        ("request-field", json.dumps({**base, "people": 0}).encode(), "authentic, but people = 0"),
        ("schema-4", json.dumps({**base, "schema": 4}).encode(), "authentic, but schema 4"),
    ]:
        expect = "unsupported-version" if name == "schema-4" else "malformed"
        write(f"envelope-payload-{expect}-{name}", _seal_payload(payload, [alice.public]), kind="envelope",
              expect=expect, comment=comment, **who)  # fmt: skip


def _locked(secret: bytes, *, passes: int = 1, memory_kib: int = 8192) -> bytes:
    """A private key file around any secret layout, at the test cost."""
    salt, nonce = nacl.utils.random(16), nacl.utils.random(24)
    header = b"ITKS" + u8(1) + u8(1) + u32(passes) + u32(memory_kib) + salt + nonce
    key = nacl.pwhash.argon2id.kdf(32, PASSPHRASE.encode(), salt, opslimit=passes, memlimit=memory_kib * 1024)
    return header + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(secret, header, nonce, key)


def private_keys(write: Write, b2: Hash, alice: crypto.Identity) -> None:
    who = {"passphrase": PASSPHRASE, "kdf_floor": TEST_FLOOR}
    box_sk, seed = alice.secret_bytes()
    locked = crypto.lock_identity(alice, PASSPHRASE, kdf=crypto.KDF_FOR_TESTS_ONLY)
    for name, secret, comment in [
        ("name-length", box_sk + seed + u8(6) + b"Alice", "the name length says 6, 5 bytes follow"),
        ("name-not-normalised", box_sk + seed + u8(6) + b" Alice", "a stored name must already be trimmed"),
        ("name-control", box_sk + seed + u8(6) + b"Al\x1cice", "U+001C in the name"),
    ]:
        write(f"private-key-malformed-{name}", _locked(secret), kind="private-key", expect="malformed",
              comment=f"authentic: {comment}", **who)  # fmt: skip
    for name, body, expect, comment in [
        ("unsupported-version-five-bytes", b"ITKS\x09", "unsupported-version", "5 bytes, version 9"),
        ("malformed-four-bytes", b"ITKS", "malformed", "the magic and nothing else"),
        ("malformed-no-kdf-id", b"ITKS\x01", "malformed", "version 1, then nothing"),
        ("malformed-cost-cut", locked[:12], "malformed", "cut inside m"),
        ("malformed-cut-after-cost", locked[:20], "malformed", "t and m readable, the rest of the header missing"),
        ("wrong-passphrase-empty", locked, "wrong-passphrase", "an empty passphrase: after every structural check"),
    ]:
        header = {**who, "passphrase": ""} if name == "wrong-passphrase-empty" else who
        write(f"private-key-{name}", body, kind="private-key", expect=expect, comment=comment, **header)
    write("private-key-weak-kdf-cut-after-cost", locked[:20], kind="private-key", expect="weak-kdf",
          passphrase=PASSPHRASE, kdf_floor="3 262144",
          comment="the floor is checked as soon as t and m are read, before the rest of the header")  # fmt: skip


def public_keys(write: Write, b2: Hash, alice: crypto.Identity) -> None:
    text = alice.public.to_text()
    lines = text.splitlines()
    keys = b2(alice.public.box_public + alice.public.sign_public)
    lenient = [*lines]
    lenient[4] = "fingerprint: " + alice.fingerprint.upper().replace("-", ": ")
    write("public-key-success-fingerprint-lenient", ("\n".join(lenient) + "\n").encode(), kind="public-key",
          expect="success", payload_blake2b=keys, comment="upper case, ': ' separators: any §2 form")  # fmt: skip
    mixed = "\r \t" + "\n".join(f"\t{ln} \r\t" for ln in lines)
    write("public-key-success-mixed-trim", mixed.encode(), kind="public-key", expect="success",
          payload_blake2b=keys, comment="CR, spaces and tabs in any mix at either end of a line")  # fmt: skip
    for name, changed, expect, comment in [
        ("label-case", (1, "Name: Alice"), "malformed", "labels are lower case, exactly"),
        ("space-before-colon", (1, "name : Alice"), "malformed", "no space between label and colon"),
        ("name-information-separator", (1, "name: \x1cAlice"), "malformed", "U+001C is not white space: refused"),
        ("title-case", (0, "Intake caseworker public key v1"), "malformed", "the title is lower case"),
        ("title-other-version", (0, "intake caseworker public key v1.1"), "unsupported-version",
         "starts with the title, is not exactly v1"),
    ]:  # fmt: skip
        edited = [*lines]
        edited[changed[0]] = changed[1]
        write(f"public-key-{expect}-{name}", ("\n".join(edited) + "\n").encode(), kind="public-key",
              expect=expect, comment=comment)  # fmt: skip
    write("public-key-malformed-too-long", (text + "#" * 4096).encode(), kind="public-key", expect="malformed",
          comment="over 4,096 bytes")  # fmt: skip
    write("public-key-malformed-not-utf8", text.encode()[:-1] + b"\xff\n", kind="public-key", expect="malformed",
          comment="not UTF-8")  # fmt: skip


def server_keys(write: Write, b2: Hash) -> None:
    seed = bytes(range(200, 232))
    key = ServerKey(seed)
    good = key.to_bytes()
    write("server-key-success", good, kind="server-key", expect="success", payload_blake2b=b2(key.public.raw),
          comment="hash: the Ed25519 public key of the seed")  # fmt: skip
    write("server-key-success-crlf", good.replace(b"\n", b"\r\n"), kind="server-key", expect="success",
          payload_blake2b=b2(key.public.raw), comment="CRLF: tokens split on ASCII white space")  # fmt: skip
    for name, body, expect in [
        ("version-2", good.replace(b"key v1", b"key v2"), "unsupported-version"),
        ("title", good.replace(b"server", b"servant"), "malformed"),
        ("extra-token", good + b"again\n", "malformed"),
        ("seed-size", b"intake server signing key v1\n" + _b64(seed[:31]).encode() + b"\n", "malformed"),
        ("not-ascii", good.replace(b"intake", b"\xc3\xafntake"), "malformed"),
        ("too-long", good + b" " * 4096, "malformed"),
    ]:
        write(f"server-key-{expect}-{name}", body, kind="server-key", expect=expect, comment=name.replace("-", " "))


def containers(write: Write, signed: Callable[[bytes, object], bytes], alice: crypto.Identity, payload: bytes) -> None:
    server = ServerKey(bytes(range(32)))
    trusted = {"server": _b64(server.public.raw)}
    envelope = _seal_payload(payload, [alice.public])
    entry = b"\x01" * 16 + u64(1) + u32(len(envelope)) + envelope

    def bundle(sequence: int = 7, day: bytes = encode_day(DAY), tail: bytes = b"") -> bytes:
        return signed(b"ITKB" + u8(1) + server.public.raw + u64(sequence) + u64(5) + day + u32(1) + entry + tail,
                      server.sign)  # fmt: skip

    for name, body, comment in [
        ("sequence-zero", bundle(sequence=0), "validly signed, sequence 0"),
        ("bad-day", bundle(day=u32(20260230)), "validly signed, created_on 2026-02-30"),
        ("trailing-bytes", bundle(tail=b"\x00"), "validly signed, one byte after the last entry"),
        ("short-unknown-version", b"ITKB\x09" + bytes(95), "100 bytes, version 9: the length check comes first"),
    ]:
        write(f"bundle-malformed-{name}", body, kind="bundle", expect="malformed", comment=comment, **trusted)
    # The identity point as signer, R = identity and S = 0: [S]B = R + [k]A holds for every message, so a
    # lenient verifier accepts it (and then reports an unknown signer); libsodium refuses a small-order A.
    identity_point = bytes([1]) + bytes(31)
    forged = b"ITKB" + u8(1) + identity_point + u64(7) + u64(5) + encode_day(DAY) + u32(1) + entry
    write("bundle-tampered-small-order-signer", forged + identity_point + bytes(32), kind="bundle",
          expect="tampered", comment="signer key of small order: libsodium's rules (§8) refuse the signature",
          **trusted)  # fmt: skip
    registered = {"caseworkers": _b64(alice.public.sign_public)}
    head = b"ITKA" + u8(1) + alice.public.sign_public + server.public.raw + u64(7) + bytes(16) + encode_day(DAY)
    write("ack-malformed-count-over-limit", signed(head + u32(1_000_001), alice.sign), kind="ack",
          expect="malformed", comment="version 1, count 1,000,001", **trusted, **registered)  # fmt: skip
    out = io.BytesIO()
    crypto.write_bundle(out, [], count=0, server_key=server, sequence=1, high_water=0, created_on=DAY)
    assert out.getvalue()[4] == 1
