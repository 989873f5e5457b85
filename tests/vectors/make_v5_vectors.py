"""Known-answer files for bundle version 5: questionnaires and sealed files under the one signature.

Called by ``make_vectors.main``, or alone (``python -m tests.vectors.make_v5_vectors``: it writes only the
``bundle-*v5*`` vectors). Faulty bundles are built byte by byte and validly signed, so that each reaches
the structural check it names (FORMAT.md §8.1, "Version 5"); the tampered ones are changed after signing.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable

import crypto
from crypto.binary import encode_day, u8, u16, u32, u64
from crypto.envelope import _seal_payload
from crypto.filestream import seal_bytes
from crypto.keys import ServerKey
from crypto.manifest import manifest_entry
from crypto.questionnaire import builtin_questionnaire
from crypto.signed import body_hasher, signed_message

DAY = datetime.date(2026, 12, 2)
Write = Callable[..., None]


def _fp(identity: crypto.PublicIdentity) -> bytes:
    return bytes.fromhex(identity.fingerprint.replace("-", ""))


def raw_v5(server: ServerKey, recipient: crypto.PublicIdentity, questionnaires: list[bytes],
           entries: list[tuple[int, bytes]], blobs: list[tuple[bytes, bytes]], *, blob_sizes: list[int] | None = None,
           after: bytes = b"", digests: list[bytes] | None = None) -> bytes:  # fmt: skip
    """A signed version 5 bundle, exactly as listed (no sorting): the signature covers the entries' part and the
    blob table, not the blob records between them (FORMAT.md §8.1, version 5)."""
    name = recipient.name.encode()
    body = b"ITKB" + u8(5) + server.public.raw + u64(9) + u64(max([s for s, _ in entries], default=0))
    body += encode_day(DAY) + u32(len(entries))
    body += u8(1) + recipient.box_public + recipient.sign_public + u8(len(name)) + name
    body += u32(0) + u8(0)  # no confirmed reply, no former recipient
    body += u16(len(questionnaires)) + b"".join(u32(len(q)) + q for q in questionnaires)
    for serial, envelope in entries:
        body += bytes([serial]) * 16 + u64(serial) + u8(1) + _fp(recipient) + u32(len(envelope)) + envelope
    body += after
    sizes = blob_sizes or [len(b) for _, b in blobs]
    records = b"".join(i + u64(len(b)) + b for i, b in blobs)
    sha = digests or [hashlib.sha256(b).digest() for _, b in blobs]
    tail = b"".join(i + u64(n) + d for (i, _), n, d in zip(blobs, sizes, sha, strict=True)) + u32(len(blobs))
    hasher = body_hasher()
    hasher.update(body + tail)
    return body + records + tail + server.sign(signed_message(hasher.digest()))


def expected(recipient: crypto.PublicIdentity, questionnaires: list[bytes], entries: list[tuple[int, bytes]],
             blobs: list[tuple[bytes, bytes]]) -> bytes:  # fmt: skip
    """What FORMAT.md §9 hashes for a version 5 bundle (payload-blake2b)."""
    people = recipient.box_public + recipient.sign_public + recipient.name.encode()
    return (people + b"".join(_fp(recipient) + e for _, e in entries) + b"".join(questionnaires)
            + b"".join(i + b for i, b in blobs))  # fmt: skip


def v5_bundles(write: Write, b2: Callable[[bytes], str], b64: Callable[[bytes], str],
               signed: Callable[[bytes, object], bytes], alice: crypto.Identity) -> None:  # fmt: skip
    server = ServerKey(bytes(range(100, 132)))
    trusted = {"server": b64(server.public.raw)}
    a = alice.public
    texts = sorted({builtin_questionnaire().canonical, builtin_questionnaire("relocation-lgbtqi").canonical},
                   key=lambda t: hashlib.sha256(t).digest())  # fmt: skip
    photo, photo_facts = seal_bytes(bytes(range(256)) * 300, key=bytes(range(32)))  # two chunks
    empty, empty_facts = seal_bytes(b"", key=bytes(range(1, 33)))
    stray, _ = seal_bytes(b"no envelope names this file", key=bytes(range(2, 34)))
    ids = [bytes([0x10]) * 16, bytes([0x20]) * 16, bytes([0x30]) * 16]
    reply_key = crypto.derive_reply_keypair("1" * 30, bytes(32)).public.to_b64()
    request = {"schema": 2, "kind": "request", "locale": "ru", "submitted_on": DAY.isoformat(), "danger": "serious",
               "people": 1, "contact_method": "signal", "contact": "@vector", "story": "Документы во вложении.",
               "consent": True, "reply_key": reply_key,
               "files": [manifest_entry(photo_facts, ids[0], "повестка.jpg", "image/jpeg"),
                         manifest_entry(empty_facts, ids[1], "empty.txt", "text/plain")]}  # fmt: skip
    entries = [(1, _seal_payload(crypto.encode_request(request), [a]))]
    blobs = [(ids[0], photo), (ids[1], empty), (ids[2], stray)]
    good = raw_v5(server, a, texts, entries, blobs)
    write("bundle-success-v5-files", good, kind="bundle", expect="success", comment="version 5: two questionnaires, "
          "one entry whose manifest names two files, three blobs (one 0-byte file, one named by no envelope)",
          payload_blake2b=b2(expected(a, texts, entries, blobs)), **trusted)  # fmt: skip
    write("bundle-success-v5-questionnaires-only", raw_v5(server, a, texts[:1], entries, []),
          kind="bundle", expect="success", comment="version 5 with a questionnaire and an empty blob section",
          payload_blake2b=b2(expected(a, texts[:1], entries, [])), **trusted)  # fmt: skip
    at = good.find(photo)
    write("bundle-tampered-v5-blob-truncated", good[: at + 1000], kind="bundle", expect="tampered",
          comment="cut inside the first blob", **trusted)  # fmt: skip
    changed = bytearray(good)
    changed[at + 70_000] ^= 0x01
    write("bundle-tampered-v5-blob-byte", bytes(changed), kind="bundle", expect="tampered",
          comment="one bit of a blob's ciphertext flipped after signing", **trusted)  # fmt: skip
    changed = bytearray(good)
    changed[at - 1] ^= 0x01
    write("bundle-tampered-v5-blob-size", bytes(changed), kind="bundle", expect="tampered",
          comment="a blob record's size field changed after signing (it no longer matches the signed table)",
          **trusted)  # fmt: skip
    changed = bytearray(good)
    changed[len(good) - 64 - 4 - 56 * 3 + 20] ^= 0x01
    write("bundle-tampered-v5-table-size", bytes(changed), kind="bundle", expect="tampered",
          comment="a size in the signed blob table changed after signing", **trusted)  # fmt: skip
    changed = bytearray(good)
    changed[len(good) - 64 - 4 - 56 + 30] ^= 0x01
    write("bundle-tampered-v5-table-digest", bytes(changed), kind="bundle", expect="tampered",
          comment="a SHA-256 in the signed blob table changed after signing", **trusted)  # fmt: skip
    first_part = good[:40_000]  # a split bundle's FILE read without FILE.part2 (FORMAT.md §8.1, Parts)
    write("bundle-tampered-v5-missing-part", first_part, kind="bundle", expect="tampered",
          comment="the first part of a bundle split into parts of 40,000 bytes, read alone", **trusted)  # fmt: skip

    def malformed(name: str, comment: str, body: bytes) -> None:
        write(f"bundle-malformed-v5-{name}", body, kind="bundle", expect="malformed",
              comment=comment, **trusted)  # fmt: skip

    malformed("blob-size-not-a-sealed-size", "a blob of 53 bytes (the smallest sealed file is 54)",
              raw_v5(server, a, texts, entries, [(ids[0], b"\0" * 53)]))
    write("bundle-tampered-v5-record-not-the-table", raw_v5(server, a, texts, entries, [(ids[0], photo),
          (ids[1], empty + b"\0")], blob_sizes=[len(photo) + 1, len(empty)]), kind="bundle", expect="tampered",
          comment="validly signed, but a blob record's size is not the one the signed table gives (the records "
          "are not signed: only the table is)", **trusted)  # fmt: skip
    malformed("blobs-unordered", "blob ids not strictly increasing",
              raw_v5(server, a, texts, entries, [(ids[1], empty), (ids[0], photo)]))
    malformed("blob-twice", "the same blob id twice", raw_v5(server, a, texts, entries, [(ids[1], empty)] * 2))
    malformed("trailing-bytes", "a byte after the last entry, before the blob records",
              raw_v5(server, a, texts, entries, blobs, after=b"\0"))
    malformed("questionnaires-unordered", "questionnaires not in increasing order of SHA-256",
              raw_v5(server, a, texts[::-1], entries, []))
    malformed("questionnaire-twice", "the same questionnaire twice", raw_v5(server, a, [texts[0]] * 2, entries, []))
    loose = json.dumps(json.loads(texts[0]), indent=1, ensure_ascii=False, sort_keys=True).encode()
    malformed("questionnaire-not-canonical", "a questionnaire as indented JSON, not its canonical form",
              raw_v5(server, a, [loose], entries, []))
    malformed("questionnaire-too-large", "a questionnaire of 65,537 bytes",
              raw_v5(server, a, [b'{"a":"' + b"x" * 65_529 + b'"}'], entries, []))
    malformed("questionnaire-empty", "a questionnaire of 0 bytes", raw_v5(server, a, [b""], entries, []))


def main() -> None:
    from tests.vectors import make_vectors as m

    alice = crypto.Identity("Alice", bytes(range(10, 42)), bytes(range(50, 82)))
    v5_bundles(m.write, m.b2, m.b64, m.signed, alice)


if __name__ == "__main__":
    main()
