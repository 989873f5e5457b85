"""Known-answer files for bundle versions 2 and 3: the signed recipient set, who each entry is for, and
(version 3) the digests of the replies the server confirms it stored.

Called by ``make_vectors.main``. Faulty bundles are built byte by byte and validly signed, so that each
reaches the structural check it names (FORMAT.md §8.1).
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable

import crypto
from crypto.binary import encode_day, u8, u32, u64
from crypto.envelope import _seal_payload
from crypto.keys import ServerKey

DAY = datetime.date(2026, 11, 22)
Write = Callable[..., None]
Recipient = tuple[bytes, bytes, bytes]  # box_pk, sign_pk, name as stored


def _fp(identity: crypto.PublicIdentity) -> bytes:
    return bytes.fromhex(identity.fingerprint.replace("-", ""))


def _raw(server: ServerKey, recipients: list[Recipient], entries: list[tuple[int, list[bytes], bytes]],
         former: list[Recipient] | None = None) -> bytes:  # fmt: skip
    version = 2 if former is None else 4
    body = b"ITKB" + u8(version) + server.public.raw + u64(7) + u64(5) + encode_day(DAY) + u32(len(entries))
    body += u8(len(recipients)) + b"".join(box + sign + u8(len(name)) + name for box, sign, name in recipients)
    if former is not None:  # version 4: no confirmed reply (u32 0), then the former recipients
        body += u32(0) + u8(len(former))
        body += b"".join(box + sign + u8(len(name)) + name for box, sign, name in former)
    for serial, sealed_to, envelope in entries:
        body += bytes([serial]) * 16 + u64(serial) + u8(len(sealed_to)) + b"".join(sealed_to)
        body += u32(len(envelope)) + envelope
    return body


def bundles(
    write: Write,
    b2: Callable[[bytes], str],
    b64: Callable[[bytes], str],
    signed: Callable[[bytes, object], bytes],
    alice: crypto.Identity,
    bob: crypto.Identity,
    payload: bytes,
) -> None:
    server = ServerKey(bytes(range(32)))
    trusted = {"server": b64(server.public.raw)}
    a, b = alice.public, bob.public
    just_alice = _seal_payload(payload, [a])
    both = _seal_payload(payload, [b, a])
    entries = [
        crypto.BundleEntry(b"\x01" * 16, 1, just_alice, (a.fingerprint,)),
        crypto.BundleEntry(b"\x02" * 16, 3, both, (b.fingerprint, a.fingerprint)),
    ]
    out = io.BytesIO()
    crypto.write_bundle(out, entries, count=2, server_key=server, sequence=7, high_water=5, created_on=DAY,
                        recipients=[a, b])  # fmt: skip
    hashed = b"".join(r.box_public + r.sign_public + r.name.encode() for r in (a, b))
    hashed += _fp(a) + just_alice + _fp(b) + _fp(a) + both
    write("bundle-success-recipients", out.getvalue(), kind="bundle", expect="success", payload_blake2b=b2(hashed),
          comment="version 2: two recipients signed in; entries sealed to one and to both", **trusted)  # fmt: skip
    ra: Recipient = (a.box_public, a.sign_public, a.name.encode())
    rb: Recipient = (b.box_public, b.sign_public, b.name.encode())
    ok = [(1, [_fp(a)], just_alice)]
    order_8 = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
    faults: list[tuple[str, bytes, str]] = [
        ("no-recipients", _raw(server, [], []), "a version 2 bundle names at least one recipient"),
        ("recipient-twice", _raw(server, [ra, ra], ok), "the same key twice"),
        ("recipient-name-twice", _raw(server, [ra, (b.box_public, b.sign_public, ra[2])], ok), "two keys, one name"),
        ("recipient-name-not-normalised", _raw(server, [(ra[0], ra[1], b" Alice")], ok),
         "a stored name must already be trimmed and NFC"),
        ("recipient-name-control", _raw(server, [(ra[0], ra[1], b"Al\x1bce")], ok), "a name with ESC"),
        ("recipient-small-order", _raw(server, [(order_8, ra[1], ra[2])], ok), "an X25519 key of order 8"),
        ("recipients-cut", _raw(server, [ra, rb], [])[:-40], "the recipient set runs into the signature"),
        ("sealed-to-stranger", _raw(server, [rb], ok), "an entry sealed to a key outside the set"),
        ("sealed-to-none", _raw(server, [ra, rb], [(1, [], just_alice)]), "an entry sealed to nobody"),
        ("sealed-to-twice", _raw(server, [ra, rb], [(1, [_fp(a), _fp(a)], both)]), "one recipient named twice"),
        ("sealed-to-count", _raw(server, [ra, rb], [(1, [_fp(a)], both)]),
         "one recipient named, the envelope has two stanzas"),
    ]  # fmt: skip
    # Version 4: Bob's key was removed while an envelope sealed to him and Alice waited (issue 20).
    out = io.BytesIO()
    crypto.write_bundle(out, entries, count=2, server_key=server, sequence=7, high_water=5, created_on=DAY,
                        recipients=[a], former=[b])  # fmt: skip
    hashed = a.box_public + a.sign_public + a.name.encode() + b.box_public + b.sign_public + b.name.encode()
    hashed += _fp(a) + just_alice + _fp(b) + _fp(a) + both
    write("bundle-success-former-recipients", out.getvalue(), kind="bundle", expect="success",
          payload_blake2b=b2(hashed), comment="version 4: Alice in the set, Bob a former recipient; "
          "one entry sealed to Alice, one to both", **trusted)  # fmt: skip
    faults += [
        ("former-none", _raw(server, [ra], ok, former=[]), "a version 4 bundle names at least one former recipient"),
        ("former-also-current", _raw(server, [ra, rb], ok, former=[rb]), "a key both current and former"),
        ("former-twice", _raw(server, [ra], ok, former=[rb, rb]), "the same former key twice"),
        ("sealed-to-stranger-v4", _raw(server, [ra], [(1, [b"\xaa" * 16, _fp(a)], both)], former=[rb]),
         "an entry sealed to a key in neither set"),
    ]  # fmt: skip
    for name, body, comment in faults:
        write(f"bundle-malformed-{name}", signed(body, server.sign), kind="bundle", expect="malformed",
              comment=f"validly signed: {comment}", **trusted)  # fmt: skip


def _raw_v3(server: ServerKey, recipient: Recipient, digests: bytes, count: int, entry: bytes) -> bytes:
    box, sign, name = recipient
    body = b"ITKB" + u8(3) + server.public.raw + u64(7) + u64(5) + encode_day(DAY) + u32(1)
    return body + u8(1) + box + sign + u8(len(name)) + name + u32(count) + digests + entry


def confirmations(
    write: Write,
    b2: Callable[[bytes], str],
    b64: Callable[[bytes], str],
    signed: Callable[[bytes, object], bytes],
    alice: crypto.Identity,
    payload: bytes,
) -> None:
    """Version 3: the server signs the digests of the reply containers it stored (FORMAT.md §8.1)."""
    server = ServerKey(bytes(range(32)))
    trusted = {"server": b64(server.public.raw)}
    a = alice.public
    envelope = _seal_payload(payload, [a])
    digests = sorted(bytes([n]) * 32 for n in (0x9A, 0x11, 0x5C))
    out = io.BytesIO()
    crypto.write_bundle(out, [crypto.BundleEntry(b"\x01" * 16, 1, envelope, (a.fingerprint,))], count=1,
                        server_key=server, sequence=7, high_water=5, created_on=DAY, recipients=[a],
                        delivered=reversed(digests))  # fmt: skip
    hashed = a.box_public + a.sign_public + a.name.encode() + b"".join(digests) + _fp(a) + envelope
    write("bundle-success-confirms-replies", out.getvalue(), kind="bundle", expect="success",
          payload_blake2b=b2(hashed), comment="version 3: three stored replies confirmed, sorted; one entry",
          **trusted)  # fmt: skip
    empty = io.BytesIO()
    crypto.write_bundle(empty, [], count=0, server_key=server, sequence=7, high_water=5, created_on=DAY,
                        recipients=[a], delivered=[])  # fmt: skip
    write("bundle-success-confirms-none", empty.getvalue(), kind="bundle", expect="success",
          payload_blake2b=b2(a.box_public + a.sign_public + a.name.encode()),
          comment="version 3 with no reply to confirm (count 0)", **trusted)  # fmt: skip
    ra: Recipient = (a.box_public, a.sign_public, a.name.encode())
    entry = b"\x01" * 16 + u64(1) + u8(1) + _fp(a) + u32(len(envelope)) + envelope
    joined = b"".join(digests)
    for name, body, comment in [
        ("confirmed-unordered", _raw_v3(server, ra, digests[1] + digests[0], 2, entry), "digests not increasing"),
        ("confirmed-twice", _raw_v3(server, ra, digests[0] * 2, 2, entry), "one digest twice"),
        ("confirmed-count-over-limit", _raw_v3(server, ra, b"", 1_000_001, b""), "1,000,001 digests announced"),
        ("confirmed-cut", _raw_v3(server, ra, joined, 4, b""), "four digests announced, three before the signature"),
    ]:
        write(f"bundle-malformed-{name}", signed(body, server.sign), kind="bundle", expect="malformed",
              comment=f"validly signed: {comment}", **trusted)  # fmt: skip
