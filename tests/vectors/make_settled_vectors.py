"""Known-answer files for the last guesses of docs/FORMAT.md (issue 22): each pins one rule two honest readers
could have read two ways. Called by ``make_vectors.main``; ``python -m tests.vectors.make_settled_vectors``
writes only these files.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable

import nacl.bindings
import nacl.pwhash.argon2id
import nacl.utils

import crypto
from crypto.binary import u8, u32

PASSPHRASE = "correct horse battery staple"
# "ёлка" and "й" composed (NFC): the passphrase as a key file is locked with it ...
NFC_PASSPHRASE = "ёлка йод вьюга щука эхо июль"
# ... and as a keyboard may deliver it, decomposed (е + U+0308, и + U+0306)
NFD_PASSPHRASE = unicodedata.normalize("NFD", NFC_PASSPHRASE)
TEST_FLOOR = "1 8192"
Write = Callable[..., None]
Hash = Callable[[bytes], str]


def _locked(secret: bytes, passphrase: str = PASSPHRASE) -> bytes:
    """A private key file around any secret layout, at the test cost, locked with NFC(passphrase)."""
    salt, nonce = nacl.utils.random(16), nacl.utils.random(24)
    header = b"ITKS" + u8(1) + u8(1) + u32(1) + u32(8192) + salt + nonce
    password = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    key = nacl.pwhash.argon2id.kdf(32, password, salt, opslimit=1, memlimit=8192 * 1024)
    return header + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(secret, header, nonce, key)


def requests(write: Write, b2: Hash, base: dict[str, object]) -> None:
    def dump(value: dict[str, object]) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")

    def escaped_story(escape: str) -> bytes:  # a JSON \u escape written as is, not as the character
        return dump({**base, "story": "STORY"}).replace(b'"STORY"', f'"a{escape}b"'.encode())

    pair = escaped_story("\\ud83d\\ude00")
    write("request-success-surrogate-pair-escape", pair, kind="request", expect="success",
          payload_blake2b=b2(crypto.encode_request(crypto.decode_request(pair))),
          comment="an escaped surrogate pair is the one character it encodes (U+1F600), written as itself")  # fmt: skip
    faults = [
        ("lone-surrogate-escape", escaped_story("\\ud800"), "a lone surrogate escape is a Cs character: refused"),
        ("lone-low-surrogate-escape", escaped_story("\\udc00"), "a lone low surrogate escape: refused"),
        ("del-in-text", dump({**base, "story": "a\x7fb"}), "DEL (U+007F) is a control character (Cc): refused"),
        ("c1-control-in-text", dump({**base, "contact": "a\x80b"}), "U+0080 is a control character (Cc): refused"),
        ("c1-last-in-text", dump({**base, "alias": "a\x9fb"}), "U+009F is a control character (Cc): refused"),
        ("next-line-in-text", dump({**base, "story": "a\x85b"}),
         "U+0085 is white space and a control character (Cc): refused inside text too"),
        ("reply-key-null-schema-1", dump({**base, "reply_key": None}),
         "schema 1 never has reply_key: null is not absent for a key outside the table"),
    ]  # fmt: skip
    for name, data, comment in faults:
        write(f"request-malformed-{name}", data, kind="request", expect="malformed", comment=comment)


def private_keys(write: Write, b2: Hash, alice: crypto.Identity) -> None:
    box_sk, seed = alice.secret_bytes()
    secret = box_sk + seed + u8(5) + b"Alice"
    write("private-key-success-passphrase-decomposed", _locked(secret, NFC_PASSPHRASE), kind="private-key",
          expect="success", passphrase=NFD_PASSPHRASE, kdf_floor=TEST_FLOOR, payload_blake2b=b2(secret),
          comment="locked with the NFC passphrase, opened with it typed decomposed (NFD): NFC first")  # fmt: skip
    write("private-key-malformed-name-empty", _locked(box_sk + seed + u8(0) + b"A"), kind="private-key",
          expect="malformed", passphrase=PASSPHRASE, kdf_floor=TEST_FLOOR,
          comment="authentic, 66 bytes (past step 5): the name length byte says 0; a name has one or more")  # fmt: skip
    write("private-key-malformed-sealed-part-short", _locked(box_sk + seed[:31]), kind="private-key",
          expect="malformed", passphrase=PASSPHRASE + "!", kdf_floor=TEST_FLOOR,
          comment="a sealed part of 79 bytes, under 16 + 66: step 5 refuses it before the passphrase (wrong "
          "here on purpose) is tried")  # fmt: skip


def public_keys(write: Write, b2: Hash) -> None:
    amelie = crypto.Identity("Amélie", bytes(range(90, 122)), bytes(range(130, 162)))
    assert amelie.public.name == unicodedata.normalize("NFC", "Amélie")
    lines = amelie.public.to_text().splitlines()
    assert lines[1] == "name: Amélie"
    lines[1] = "name: \u3000" + unicodedata.normalize("NFD", "Amélie") + "\u00a0"
    write("public-key-success-name-trim-nfc", ("\n".join(lines) + "\n").encode(), kind="public-key",
          expect="success", payload_blake2b=b2(amelie.public.box_public + amelie.public.sign_public),
          comment="the name written with U+3000 before, U+00A0 after and decomposed: trimmed and NFC-normalised "
          "before the self-signature is checked")  # fmt: skip


def envelopes(write: Write, b2: Hash, b64: Callable[[bytes], str], alice: crypto.Identity,
              raw_envelope: Callable[..., bytes], payload: bytes) -> None:  # fmt: skip
    locked = crypto.lock_identity(alice, PASSPHRASE, kdf=crypto.KDF_FOR_TESTS_ONLY)
    plaintext = u32(len(payload)) + payload + bytes(32768 - len(payload))
    twice = raw_envelope([alice.public, alice.public], plaintext, 32768)
    write("envelope-success-two-stanzas-one-key", twice, kind="envelope", expect="success",
          identity=b64(locked), passphrase=PASSPHRASE, kdf_floor=TEST_FLOOR, payload_blake2b=b2(payload),
          comment="two stanzas to one encryption key (no encoder writes it, §4.3): the first opens")  # fmt: skip


def settled(write: Write, b2: Hash, b64: Callable[[bytes], str], alice: crypto.Identity,
            raw_envelope: Callable[..., bytes], base: dict[str, object]) -> None:  # fmt: skip
    requests(write, b2, base)
    private_keys(write, b2, alice)
    public_keys(write, b2)
    envelopes(write, b2, b64, alice, raw_envelope, crypto.encode_request(base))


if __name__ == "__main__":
    from tests.vectors import make_vectors as m

    alice = crypto.Identity("Alice", bytes(range(10, 42)), bytes(range(50, 82)))
    settled(m.write, m.b2, m.b64, alice, m.raw_envelope, m.request())
