"""Regenerate the known-answer files in tests/vectors/ (docs/FORMAT.md §9).

    python -m tests.vectors.make_vectors

Valid vectors come from the real encoders; hostile ones are built byte by byte here, often validly
authenticated around a structural fault, so that each one reaches exactly the check it names.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
from pathlib import Path

import nacl.bindings
import nacl.utils

import crypto
from crypto.binary import encode_day, u8, u32, u64
from crypto.envelope import _seal_payload, key_commitment
from crypto.keys import ServerKey
from crypto.signed import body_hasher, signed_message
from tests.vectors import make_bundle_vectors, make_file_vectors, make_manifest_vectors, make_v5_vectors
from tests.vectors import make_conversation_vectors as conversation
from tests.vectors import make_questionnaire_vectors as questionnaire
from tests.vectors import make_settled_vectors as settled
from tests.vectors import make_spec_vectors as spec

HERE = Path(__file__).parent
DAY = datetime.date(2026, 11, 22)
PASSPHRASE = "correct horse battery staple"
TEST_FLOOR = "1 8192"  # the cheapest argon2id cost a reader accepts, "t m_KiB": the test cost


def b2(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write(name: str, body: bytes, **header: str) -> None:
    lines = [f"{key.replace('_', '-')}: {value}" for key, value in header.items()]
    (HERE / f"{name}.vec").write_bytes("\n".join(lines).encode("utf-8") + b"\n\n" + body)


def request(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "schema": 1, "locale": "ru", "submitted_on": DAY.isoformat(), "danger": "immediate",
        "people": 2, "contact_method": "signal", "contact": "@vector", "story": "Нужна помощь.",
        "consent": True,
    }  # fmt: skip
    base.update(fields)
    return base


def raw_envelope(
    recipients: list[crypto.PublicIdentity],
    plaintext: bytes,
    padded: int,
    *,
    version: int = 2,
    stanza_keys: list[bytes | None] | None = None,
) -> bytes:
    """An envelope around an arbitrary padded plaintext: lets a vector carry a bad length or padding,
    an old version, or a stanza that seals another key than the one the commitment names."""
    key = nacl.utils.random(32)
    nonce = nacl.utils.random(24)
    keys = stanza_keys or [None] * len(recipients)
    pairs = zip(keys, recipients, strict=True)
    stanzas = b"".join(nacl.bindings.crypto_box_seal(k or key, r.box_public) for k, r in pairs)
    commitment = key_commitment(key) if version >= 2 else b""
    header = b"ITKE" + u8(version) + u8(len(recipients)) + u32(padded) + stanzas + commitment + nonce
    return header + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, header, nonce, key)


def signed(body: bytes, sign: object) -> bytes:
    hasher = body_hasher()
    hasher.update(body)
    return body + sign(signed_message(hasher.digest()))  # type: ignore[operator]


def envelopes(alice: crypto.Identity, bob: crypto.Identity, carol: crypto.Identity) -> None:
    key_file = b64(crypto.lock_identity(alice, PASSPHRASE, kdf=crypto.KDF_FOR_TESTS_ONLY))
    who = {"identity": key_file, "passphrase": PASSPHRASE, "kdf_floor": TEST_FLOOR}
    payload = crypto.encode_request(request(story="Меня ищут. 🏳️‍🌈 Please help."))
    one = _seal_payload(payload, [alice.public])
    write(
        "envelope-success-one-recipient",
        one,
        kind="envelope",
        expect="success",
        payload_blake2b=b2(payload),
        comment="one recipient, a request in Russian",
        **who,
    )
    two = _seal_payload(payload, [bob.public, alice.public])
    write(
        "envelope-success-second-of-two",
        two,
        kind="envelope",
        expect="success",
        payload_blake2b=b2(payload),
        comment="the identity's stanza is the second of two",
        **who,
    )
    big = bytes(range(256)) * 160
    write(
        "envelope-success-padme",
        _seal_payload(big, [alice.public]),
        kind="envelope",
        expect="success",
        payload_blake2b=b2(big),
        comment="a 40,960-byte payload pads with PADME to 40,960",
        **who,
    )
    write(
        "envelope-not-recipient",
        _seal_payload(payload, [bob.public, carol.public]),
        kind="envelope",
        expect="not-recipient",
        comment="sealed to two other keys",
        **who,
    )
    flipped = bytearray(one)
    flipped[-40] ^= 0x01
    write(
        "envelope-tampered-ciphertext",
        bytes(flipped),
        kind="envelope",
        expect="tampered",
        comment="one bit of the ciphertext flipped",
        **who,
    )
    stripped = bytearray(two[:10] + two[90:])
    stripped[5] = 1
    write(
        "envelope-tampered-stripped-recipient",
        bytes(stripped),
        kind="envelope",
        expect="tampered",
        comment="the first of two stanzas removed and the count fixed up",
        **who,
    )
    other_stanza = bytearray(two)
    other_stanza[20] ^= 0x80
    write(
        "envelope-tampered-other-stanza",
        bytes(other_stanza),
        kind="envelope",
        expect="tampered",
        comment="a byte changed in another recipient's stanza",
        **who,
    )
    newer = bytearray(one)
    newer[4] = 3
    write(
        "envelope-unsupported-version",
        bytes(newer),
        kind="envelope",
        expect="unsupported-version",
        comment="version byte 3",
        **who,
    )
    framed = u32(len(payload)) + payload + bytes(32768 - len(payload))
    write(
        "envelope-success-version-1",
        raw_envelope([bob.public, alice.public], framed, 32768, version=1),
        kind="envelope",
        expect="success",
        payload_blake2b=b2(payload),
        comment="a version 1 envelope (no key commitment) still opens",
        **who,
    )
    write(
        "envelope-tampered-key-commitment",
        raw_envelope([bob.public, alice.public], framed, 32768, stanza_keys=[None, bytes(range(32))]),
        kind="envelope",
        expect="tampered",
        comment="the identity's stanza seals another payload key than the commitment names",
        **who,
    )
    committed = bytearray(one)
    committed[10 + 80 + 5] ^= 0x01
    write(
        "envelope-tampered-commitment-byte",
        bytes(committed),
        kind="envelope",
        expect="tampered",
        comment="one bit of the key commitment flipped",
        **who,
    )
    write(
        "envelope-malformed-truncated",
        one[:-1],
        kind="envelope",
        expect="malformed",
        comment="last byte missing: length disagrees with header",
        **who,
    )
    write(
        "envelope-malformed-magic",
        b"ITKX" + one[4:],
        kind="envelope",
        expect="malformed",
        comment="wrong magic",
        **who,
    )
    no_recipients = bytearray(one[:10] + one[90:])
    no_recipients[5] = 0
    write(
        "envelope-malformed-zero-recipients",
        bytes(no_recipients),
        kind="envelope",
        expect="malformed",
        comment="recipient count 0",
        **who,
    )
    many = bytearray(one)
    many[5] = 17
    write(
        "envelope-malformed-seventeen-recipients",
        bytes(many),
        kind="envelope",
        expect="malformed",
        comment="recipient count 17",
        **who,
    )
    small = bytearray(one)
    small[6:10] = u32(32767)
    write(
        "envelope-malformed-padded-below-bucket",
        bytes(small),
        kind="envelope",
        expect="malformed",
        comment="P = 32,767 is below the fixed bucket",
        **who,
    )
    huge = bytearray(one)
    huge[6:10] = u32(1048577)
    write(
        "envelope-malformed-padded-above-limit",
        bytes(huge),
        kind="envelope",
        expect="malformed",
        comment="P = 1,048,577 is above the limit",
        **who,
    )
    dirty = u32(3) + b"abc" + b"\x00" * 100 + b"\x01" + b"\x00" * (32768 - 104)
    write(
        "envelope-malformed-nonzero-padding",
        raw_envelope([alice.public], dirty, 32768),
        kind="envelope",
        expect="malformed",
        comment="authentic, but a padding byte is 1",
        **who,
    )
    loose = u32(3) + b"abc" + bytes(34816 - 3)
    write(
        "envelope-malformed-padding-length",
        raw_envelope([alice.public], loose, 34816),
        kind="envelope",
        expect="malformed",
        comment="authentic, but P=34816 is not padded_size(3)",
        **who,
    )
    liar = u32(40000) + b"abc" + bytes(32768 - 3)
    write(
        "envelope-malformed-length-prefix",
        raw_envelope([alice.public], liar, 32768),
        kind="envelope",
        expect="malformed",
        comment="authentic, but L=40000 exceeds P",
        **who,
    )


def requests() -> None:
    def canon(raw: bytes) -> str:
        return b2(crypto.encode_request(crypto.decode_request(raw)))

    minimal = crypto.encode_request(request())
    write(
        "request-success-minimal",
        minimal,
        kind="request",
        expect="success",
        payload_blake2b=canon(minimal),
        comment="only required fields, canonical",
    )
    full = crypto.encode_request(request(
        threat_from=["family", "authorities"], detention="recent", location="chechnya", children=1,
        documents=["confiscated"], health="Астма, нужен ингалятор.", safe_times="после 22:00",
        alias="Саша", story="Меня задержали в мае.\r\nСейчас прячусь.",
    ))  # fmt: skip
    write(
        "request-success-full",
        full,
        kind="request",
        expect="success",
        payload_blake2b=canon(full),
        comment="every field; any-of lists in schema order",
    )
    loose = json.dumps(request(), indent=2).encode("utf-8")
    write(
        "request-success-noncanonical",
        loose,
        kind="request",
        expect="success",
        payload_blake2b=canon(loose),
        comment="valid JSON with whitespace and missing optional keys",
    )
    write(
        "request-malformed-duplicate-key",
        minimal[:-1] + b',"story":"x"}',
        kind="request",
        expect="malformed",
        comment="story appears twice",
    )
    write(
        "request-malformed-unknown-field",
        json.dumps(request(ip="1.2.3.4")).encode(),
        kind="request",
        expect="malformed",
        comment="a field schema v1 does not have",
    )
    long_story = json.dumps(request(story="я" * 10001), ensure_ascii=False).encode("utf-8")
    write(
        "request-malformed-story-too-long",
        long_story,
        kind="request",
        expect="malformed",
        comment="10,001 Cyrillic characters: about 20 KB, under the byte bound, over the character bound",
    )
    oversized = json.dumps(request(story="x" * 9000, padding=" " * 30000)).encode()
    write(
        "request-malformed-too-many-bytes",
        oversized,
        kind="request",
        expect="malformed",
        comment="over 32,768 bytes: refused before parsing",
    )
    write(
        "request-malformed-children-exceed-people",
        json.dumps(request(people=1, children=2)).encode(),
        kind="request",
        expect="malformed",
        comment="children count among people",
    )
    write(
        "request-malformed-people-out-of-range",
        json.dumps(request(people=21)).encode(),
        kind="request",
        expect="malformed",
        comment="people is 1 to 20",
    )
    write(
        "request-malformed-schema-not-integer",
        json.dumps(request(schema="1")).encode(),
        kind="request",
        expect="malformed",
        comment="schema is the number 1, not a string",
    )
    write(
        "request-malformed-control-character",
        json.dumps(request(contact="a\u0000b")).encode(),
        kind="request",
        expect="malformed",
        comment="a NUL inside contact",
    )
    write(
        "request-malformed-not-utf8",
        b'{"story":"\xff"}',
        kind="request",
        expect="malformed",
        comment="invalid UTF-8",
    )
    write(
        "request-malformed-nan",
        minimal[:-1] + b',"children":NaN}',
        kind="request",
        expect="malformed",
        comment="NaN is not JSON",
    )


def keys(alice: crypto.Identity) -> None:
    locked = crypto.lock_identity(alice, PASSPHRASE, kdf=crypto.KDF_FOR_TESTS_ONLY)
    box_sk, seed = alice.secret_bytes()
    secret = box_sk + seed + u8(len(alice.name.encode())) + alice.name.encode()
    write(
        "private-key-success",
        locked,
        kind="private-key",
        kdf_floor=TEST_FLOOR,
        expect="success",
        passphrase=PASSPHRASE,
        payload_blake2b=b2(secret),
        comment="test KDF cost: t=1, m=8192 KiB",
    )
    write(
        "private-key-wrong-passphrase",
        locked,
        kind="private-key",
        kdf_floor=TEST_FLOOR,
        expect="wrong-passphrase",
        passphrase="correct horse battery stapler",
        comment="one letter more",
    )
    greedy = bytearray(locked)
    greedy[10:14] = u32(2 * 1024 * 1024)
    write(
        "private-key-malformed-memory",
        bytes(greedy),
        kind="private-key",
        kdf_floor=TEST_FLOOR,
        expect="malformed",
        passphrase=PASSPHRASE,
        comment="asks for 2 GiB: refused before any derivation",
    )
    lowered = bytearray(locked)
    lowered[13] ^= 0x01
    write(
        "private-key-wrong-passphrase-header-changed",
        bytes(lowered),
        kind="private-key",
        kdf_floor=TEST_FLOOR,
        expect="wrong-passphrase",
        passphrase=PASSPHRASE,
        comment="memory cost changed: AEAD fails",
    )
    for passes in (0, 17):
        costly = bytearray(locked)
        costly[6:10] = u32(passes)
        write(
            f"private-key-malformed-passes-{passes}",
            bytes(costly),
            kind="private-key",
            kdf_floor=TEST_FLOOR,
            expect="malformed",
            passphrase=PASSPHRASE,
            comment=f"t = {passes} is outside 1 to 16",
        )
    write(
        "private-key-weak-kdf",
        locked,
        kind="private-key",
        kdf_floor="3 262144",
        expect="weak-kdf",
        passphrase=PASSPHRASE,
        comment="a t=1, 8 MiB file read with the production floor: refused before any derivation",
    )
    write(
        "private-key-unsupported-kdf",
        locked[:5] + b"\x02" + locked[6:],
        kind="private-key",
        kdf_floor=TEST_FLOOR,
        expect="unsupported-version",
        passphrase=PASSPHRASE,
        comment="KDF id 2 is unknown",
    )
    write(
        "private-key-unsupported-version",
        locked[:4] + b"\x02" + locked[5:],
        kind="private-key",
        kdf_floor=TEST_FLOOR,
        expect="unsupported-version",
        passphrase=PASSPHRASE,
        comment="version 2",
    )
    write(
        "private-key-malformed-truncated",
        locked[:40],
        kind="private-key",
        kdf_floor=TEST_FLOOR,
        expect="malformed",
        passphrase=PASSPHRASE,
        comment="cut inside the header",
    )
    text = alice.public.to_text()
    write(
        "public-key-success",
        text.encode(),
        kind="public-key",
        expect="success",
        payload_blake2b=b2(alice.public.box_public + alice.public.sign_public),
        comment="as keygen writes it",
    )
    write(
        "public-key-success-crlf-comments",
        ("# from Alice\r\n" + text.replace("\n", "\r\n")).encode(),
        kind="public-key",
        expect="success",
        payload_blake2b=b2(alice.public.box_public + alice.public.sign_public),
        comment="CRLF and a comment",
    )
    write(
        "public-key-tampered-name",
        text.replace("name: Alice", "name: Alicia").encode(),
        kind="public-key",
        expect="tampered",
        comment="name changed after signing",
    )
    lines = text.splitlines()
    lines[4] = "fingerprint: 0000-0000-0000-0000-0000-0000-0000-0000"
    write(
        "public-key-tampered-fingerprint",
        ("\n".join(lines) + "\n").encode(),
        kind="public-key",
        expect="tampered",
        comment="fingerprint line does not match the keys",
    )
    lines = text.splitlines()
    lines[2] = "encryption: not base64!"
    write(
        "public-key-malformed-base64",
        ("\n".join(lines) + "\n").encode(),
        kind="public-key",
        expect="malformed",
        comment="encryption key is not base64",
    )
    lines = text.splitlines()
    lines[2] = "encryption: " + b64(bytes(32))
    write(
        "public-key-malformed-zero-key",
        ("\n".join(lines) + "\n").encode(),
        kind="public-key",
        expect="malformed",
        comment="an all-zero X25519 key is refused before the signature is checked",
    )
    lines = text.splitlines()
    order_8 = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
    lines[2] = "encryption: " + b64(order_8[:31] + b"\x80")
    write(
        "public-key-malformed-low-order-key",
        ("\n".join(lines) + "\n").encode(),
        kind="public-key",
        expect="malformed",
        comment="an X25519 key of order 8 (non-canonical: top bit set) is refused like the zero key",
    )
    write(
        "public-key-malformed-line-count",
        ("\n".join(text.splitlines()[:5]) + "\n").encode(),
        kind="public-key",
        expect="malformed",
        comment="the self-signature line is missing",
    )
    write(
        "public-key-unsupported-version",
        text.replace("key v1", "key v2").encode(),
        kind="public-key",
        expect="unsupported-version",
        comment="a v2 title line",
    )


def containers(alice: crypto.Identity, bob: crypto.Identity) -> None:
    server, stranger = ServerKey(bytes(range(32))), ServerKey(bytes(range(1, 33)))
    trusted = {"server": b64(server.public.raw)}
    envs = [_seal_payload(crypto.encode_request(request(story=f"story {i}")), [alice.public]) for i in (1, 2)]
    entries = [crypto.BundleEntry(bytes([i]) * 16, s, e) for i, s, e in ((1, 1, envs[0]), (2, 4, envs[1]))]

    def bundle(key: ServerKey, items: list[crypto.BundleEntry], sequence: int = 7) -> bytes:
        out = io.BytesIO()
        crypto.write_bundle(
            out, items, count=len(items), server_key=key, sequence=sequence, high_water=5, created_on=DAY
        )
        return out.getvalue()

    good = bundle(server, entries)
    joined = b2(b"".join(envs))
    write(
        "bundle-success",
        good,
        kind="bundle",
        expect="success",
        payload_blake2b=joined,
        comment="version 1 (no recipient set): serials 1 and 4 of high-water 5: 2, 3 and 5 are gaps",
        **trusted,
    )
    write(
        "bundle-success-empty",
        bundle(server, []),
        kind="bundle",
        expect="success",
        payload_blake2b=b2(b""),
        comment="nothing pending",
        **trusted,
    )
    write(
        "bundle-tampered-truncated",
        good[:-100],
        kind="bundle",
        expect="tampered",
        comment="last 100 bytes missing",
        **trusted,
    )
    flipped = bytearray(good)
    flipped[61 + 28 + 500] ^= 0x04
    write(
        "bundle-tampered-envelope-byte",
        bytes(flipped),
        kind="bundle",
        expect="tampered",
        comment="one bit flipped inside the first envelope",
        **trusted,
    )
    write(
        "bundle-unknown-signer",
        bundle(stranger, entries),
        kind="bundle",
        expect="unknown-signer",
        comment="validly signed by a server key nobody pinned",
        **trusted,
    )
    write(
        "bundle-unsupported-version",
        good[:4] + b"\x06" + good[5:],
        kind="bundle",
        expect="unsupported-version",
        comment="version 6",
        **trusted,
    )
    write(
        "bundle-tampered-appended",
        good + b"\x00",
        kind="bundle",
        expect="tampered",
        comment="one byte appended: the last 64 bytes are no longer the signature",
        **trusted,
    )
    write(
        "bundle-malformed-short",
        good[:100],
        kind="bundle",
        expect="malformed",
        comment="shorter than a header and a signature",
        **trusted,
    )
    head = b"ITKB" + u8(1) + server.public.raw + u64(7) + u64(5) + encode_day(DAY) + u32(2)

    def swapped_by(key: ServerKey) -> bytes:
        top = b"ITKB" + u8(1) + key.public.raw + u64(7) + u64(5) + encode_day(DAY) + u32(2)
        return top + b"".join(e.entry_id + u64(e.serial) + u32(len(e.envelope)) + e.envelope for e in reversed(entries))

    swapped = head + b"".join(e.entry_id + u64(e.serial) + u32(len(e.envelope)) + e.envelope for e in reversed(entries))
    write(
        "bundle-malformed-reordered",
        signed(swapped, server.sign),
        kind="bundle",
        expect="malformed",
        comment="validly signed, but serials go 4 then 1",
        **trusted,
    )
    above = (
        b"ITKB"
        + u8(1)
        + server.public.raw
        + u64(7)
        + u64(3)
        + encode_day(DAY)
        + u32(2)
        + b"".join(e.entry_id + u64(e.serial) + u32(len(e.envelope)) + e.envelope for e in entries)
    )
    write(
        "bundle-malformed-serial-above-high-water",
        signed(above, server.sign),
        kind="bundle",
        expect="malformed",
        comment="validly signed, serial 4 above high-water 3",
        **trusted,
    )
    empty_entry = (
        b"ITKB"
        + u8(1)
        + server.public.raw
        + u64(7)
        + u64(5)
        + encode_day(DAY)
        + u32(1)
        + entries[0].entry_id
        + u64(1)
        + u32(0)
    )
    write(
        "bundle-malformed-empty-entry",
        signed(empty_entry, server.sign),
        kind="bundle",
        expect="malformed",
        comment="validly signed, an entry of length 0",
        **trusted,
    )
    write(
        "bundle-unknown-signer-and-malformed",
        signed(swapped_by(stranger), stranger.sign),
        kind="bundle",
        expect="unknown-signer",
        comment="an untrusted signer is reported before any structural fault",
        **trusted,
    )
    doubled = head + b"".join(entries[0].entry_id + u64(s) + u32(len(envs[0])) + envs[0] for s in (1, 2))
    write(
        "bundle-malformed-duplicate-id",
        signed(doubled, server.sign),
        kind="bundle",
        expect="malformed",
        comment="validly signed, but the same entry id twice",
        **trusted,
    )

    ack_entries = [crypto.AckEntry(e.entry_id, crypto.envelope_digest(e.envelope)) for e in entries]
    ack_joined = b2(b"".join(a.entry_id + a.digest for a in ack_entries))
    registered = {"caseworkers": b64(alice.public.sign_public) + "," + b64(bob.public.sign_public)}
    ack = crypto.make_ack(ack_entries, identity=alice, server=server.public, bundle_sequence=7, created_on=DAY)
    write(
        "ack-success",
        ack,
        kind="ack",
        expect="success",
        payload_blake2b=ack_joined,
        comment="signed by a registered caseworker",
        **trusted,
        **registered,
    )
    write(
        "ack-tampered-entry",
        ack[:110] + bytes([ack[110] ^ 1]) + ack[111:],
        kind="ack",
        expect="tampered",
        comment="a bit of an entry id flipped",
        **trusted,
        **registered,
    )
    write(
        "ack-tampered-truncated",
        ack[:-1],
        kind="ack",
        expect="tampered",
        comment="one byte short: the last 64 bytes are no longer the signature",
        **trusted,
        **registered,
    )
    mallory = crypto.Identity("Mallory", bytes(range(32)), bytes(range(100, 132)))
    foreign = crypto.make_ack(ack_entries, identity=mallory, server=server.public, bundle_sequence=7, created_on=DAY)
    write(
        "ack-unknown-signer",
        foreign,
        kind="ack",
        expect="unknown-signer",
        comment="validly signed by someone who is not a registered caseworker",
        **trusted,
        **registered,
    )
    elsewhere = crypto.make_ack(ack_entries, identity=alice, server=stranger.public, bundle_sequence=7, created_on=DAY)
    write(
        "ack-wrong-server",
        elsewhere,
        kind="ack",
        expect="wrong-server",
        comment="a registered caseworker's ack for another server",
        **trusted,
        **registered,
    )
    body = (
        b"ITKA"
        + u8(1)
        + alice.public.sign_public
        + server.public.raw
        + u64(7)
        + bytes(16)
        + encode_day(DAY)
        + u32(2)
        + b"".join(a.entry_id + a.digest for a in reversed(ack_entries))
    )
    write(
        "ack-malformed-unordered",
        signed(body, alice.sign),
        kind="ack",
        expect="malformed",
        comment="version 1, validly signed, entries not in increasing id order",
        **trusted,
        **registered,
    )
    lying = (
        b"ITKA"
        + u8(1)
        + alice.public.sign_public
        + server.public.raw
        + u64(7)
        + bytes(16)
        + encode_day(DAY)
        + u32(3)
        + b"".join(a.entry_id + a.digest for a in ack_entries)
    )
    write(
        "ack-malformed-count",
        signed(lying, alice.sign),
        kind="ack",
        expect="malformed",
        comment="version 1, validly signed, but the count says 3 and 2 entries follow",
        **trusted,
        **registered,
    )
    write(
        "ack-malformed-short",
        ack[:120],
        kind="ack",
        expect="malformed",
        comment="shorter than a header and a signature",
        **trusted,
        **registered,
    )
    write(
        "ack-unsupported-version",
        ack[:4] + b"\x03" + ack[5:],
        kind="ack",
        expect="unsupported-version",
        comment="version 3",
        **trusted,
        **registered,
    )
    conversation.return_files(write, b2, alice, server, ack_entries, signed, trusted | registered)


def main() -> None:
    for old in HERE.glob("*.vec"):
        old.unlink()
    alice = crypto.Identity("Alice", bytes(range(10, 42)), bytes(range(50, 82)))
    bob = crypto.Identity("Борис", bytes(range(20, 52)), bytes(range(60, 92)))
    carol = crypto.Identity("Carol", bytes(range(30, 62)), bytes(range(70, 102)))
    envelopes(alice, bob, carol)
    requests()
    keys(alice)
    containers(alice, bob)
    conversation.payloads(write, b2, request())
    questionnaire.payloads(write, b2)
    make_bundle_vectors.bundles(write, b2, b64, signed, alice, bob, crypto.encode_request(request()))
    make_bundle_vectors.confirmations(write, b2, b64, signed, alice, crypto.encode_request(request()))
    spec.requests(write, b2, request())
    spec.envelope_payloads(write, b2, alice, request())
    spec.private_keys(write, b2, alice)
    spec.public_keys(write, b2, alice)
    spec.server_keys(write, b2)
    settled.settled(write, b2, b64, alice, raw_envelope, request())
    spec.containers(write, signed, alice, crypto.encode_request(request()))
    conversation.reply_keys(write, b2, b64)
    conversation.replies(write, b2, b64)
    make_file_vectors.files(write, b2)
    make_v5_vectors.v5_bundles(write, b2, b64, signed, alice)
    make_manifest_vectors.manifests(write, b2, request())
    print(f"wrote {len(list(HERE.glob('*.vec')))} vectors to {HERE}")


if __name__ == "__main__":
    main()
