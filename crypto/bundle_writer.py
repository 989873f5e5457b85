"""Writing an export bundle (docs/FORMAT.md §8.1): streamed to a binary stream, signed at the end.

The writer checks everything a reader would refuse, so a server never signs a bundle a laptop rejects.
Blobs (version 5) are streamed one chunk at a time from ``ExportBlob.chunks``: never a whole file, never
the whole bundle in memory.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from crypto import bundle_v5 as v5
from crypto.binary import U64_MAX, encode_day, u8, u32, u64
from crypto.bundle import (
    DIGEST_SIZE,
    FORMER_VERSION,
    MAGIC,
    MAX_DELIVERED,
    MAX_ENTRIES,
    BundleEntry,
    _check_entry,
    _check_former,
    _check_recipient_set,
    _check_sealed_to,
    _fingerprint_bytes,
)
from crypto.bundle_v5 import BLOB_VERSION, ExportBlob
from crypto.errors import MalformedError
from crypto.keys import PublicIdentity, ServerKey
from crypto.signed import body_hasher, signed_message


def _recipients_block(recipients: Sequence[PublicIdentity]) -> bytes:
    parts = [u8(len(recipients))]
    for r in recipients:
        name = r.name.encode("utf-8")
        parts.append(r.box_public + r.sign_public + u8(len(name)) + name)
    return b"".join(parts)


def _delivered_block(delivered: Iterable[bytes]) -> bytes:
    ordered = sorted(set(delivered))
    if len(ordered) > MAX_DELIVERED or any(not isinstance(d, bytes) or len(d) != DIGEST_SIZE for d in ordered):
        raise MalformedError(f"a bundle confirms at most {MAX_DELIVERED} replies, each by a {DIGEST_SIZE}-byte digest")
    return u32(len(ordered)) + b"".join(ordered)


def write_bundle(
    out: BinaryIO,
    entries: Iterable[BundleEntry],
    *,
    count: int,
    server_key: ServerKey,
    sequence: int,
    high_water: int,
    created_on: datetime.date,
    recipients: Sequence[PublicIdentity] = (),
    delivered: Iterable[bytes] | None = None,
    former: Sequence[PublicIdentity] = (),
    questionnaires: Sequence[bytes] = (),
    blobs: Iterable[ExportBlob] = (),
) -> None:
    """Stream a signed bundle of exactly ``count`` entries, given in strictly increasing serial order.

    With ``recipients`` (the server's current recipient set) it is version 2 and every entry must say
    in ``sealed_to`` which of them its envelope was sealed to; without, version 1 and no ``sealed_to``.
    With ``delivered`` too (the digests of the replies the server stored, in any order) it is version 3.
    With ``former`` (removed keys an entry was sealed to), version 4: ``sealed_to`` may name those too.
    With ``questionnaires`` (canonical questionnaire bytes) or ``blobs`` (sealed files, streamed once each,
    in any order), version 5; otherwise the oldest version that holds what is given, as before.
    """
    recipients, former = tuple(recipients), tuple(former)
    questionnaire_block, carried = v5.questionnaire_block(questionnaires)
    blob_list = v5.ordered_blobs(blobs)  # ids and sizes only: the bytes are streamed below, one chunk at a time
    fifth = bool(carried or blob_list)
    known = _check_recipient_set(recipients) if recipients else {}
    if (delivered is not None or former or fifth) and not recipients:
        raise MalformedError("a bundle confirms replies, names former recipients or carries questionnaires and "
                             "files only with its recipient set")  # fmt: skip
    if former:
        known = {**known, **_check_former(former, known)}
    if former or fifth:
        delivered = () if delivered is None else delivered
    confirmed = _delivered_block(delivered) if delivered is not None else b""
    if not recipients:
        version = 1
    else:
        version = BLOB_VERSION if fifth else FORMER_VERSION if former else 3 if delivered is not None else 2
    after_set = _recipients_block(former) if former or fifth else b""
    after_set += questionnaire_block if fifth else b""
    if not 0 <= count <= MAX_ENTRIES:
        raise MalformedError(f"a bundle holds at most {MAX_ENTRIES} entries")
    if not 1 <= sequence <= U64_MAX or not 0 <= high_water <= U64_MAX:
        raise MalformedError("bundle sequence and high-water mark must be unsigned 64-bit numbers")
    hasher = body_hasher()

    def emit(chunk: bytes) -> None:
        hasher.update(chunk)
        out.write(chunk)

    emit(
        MAGIC + u8(version) + server_key.public.raw + u64(sequence) + u64(high_water)
        + encode_day(created_on) + u32(count) + (_recipients_block(recipients) if recipients else b"") + confirmed
        + after_set
    )  # fmt: skip
    written, last_serial = 0, 0
    seen: set[bytes] = set()
    for entry in entries:
        _check_entry(entry.entry_id, entry.serial, len(entry.envelope), last_serial, high_water, seen)
        last_serial = entry.serial
        sealed_to = b""
        if recipients:
            fingerprints = [_fingerprint_bytes(f) for f in entry.sealed_to]
            _check_sealed_to(fingerprints, known, entry.envelope[:6])
            sealed_to = u8(len(fingerprints)) + b"".join(fingerprints)
        elif entry.sealed_to:
            raise MalformedError("an entry can name its recipients only in a bundle that names the recipient set")
        emit(entry.entry_id + u64(entry.serial) + sealed_to + u32(len(entry.envelope)))
        emit(entry.envelope)
        written += 1
    if written != count:
        raise MalformedError(f"the bundle was promised {count} entries but got {written}")
    if fifth:
        emit(v5.blob_count(len(blob_list)))
        for blob in blob_list:
            emit(v5.blob_record_head(blob))
            sent = 0
            for chunk in blob.chunks():
                sent += len(chunk)
                if sent > blob.size:
                    break
                emit(chunk)
            if sent != blob.size:
                raise MalformedError("a blob gave another number of bytes than its size says")
    out.write(server_key.sign(signed_message(hasher.digest())))
