"""Bundle version 5: the questionnaire block and the blob section (docs/FORMAT.md §8.1, version 5).

Version 5 is version 4 (with a former-recipient block that may be empty) plus two things under the one
signature:

* the **questionnaire block**, after the former recipients: the canonical bytes (crypto.questionnaire,
  FORMAT.md §12.2) of every questionnaire version the envelopes may name, each at most 64 KiB, sorted by
  their SHA-256 (so no version twice, and no order that says which came first);
* the **blob section**, after the entries: every sealed file (crypto.filestream) an exported envelope's
  manifest names, as ``blob_id[16] || size u64 || bytes``, sorted by blob id (random: the order says
  nothing of arrival, and a reader checks uniqueness without remembering ids).

Nothing here opens a file: blobs come from ``ExportBlob.chunks`` and leave through the writer's stream.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from crypto.binary import u16, u32, u64
from crypto.errors import MalformedError
from crypto.filestream import MAX_FILE_BYTES, blob_size
from crypto.questionnaire import canonical_form

BLOB_VERSION = 5
MAX_QUESTIONNAIRES = 256
MAX_QUESTIONNAIRE_BYTES = 65_536
BLOB_ID_SIZE = 16
MAX_BLOBS = 20_000_000  # 1,000,000 entries x 20 files: the manifest's largest raisable bound
MIN_BLOB = blob_size(0)
MAX_BLOB = blob_size(MAX_FILE_BYTES)
BLOB_HEAD_SIZE = BLOB_ID_SIZE + 8
COPY_CHUNK = 1 << 20  # how much of a blob a reader holds at once


@dataclass(frozen=True)
class ExportBlob:
    """One stored blob for export: its id, its exact size, and a callable that streams its bytes once."""

    blob_id: bytes
    size: int
    chunks: Callable[[], Iterator[bytes]]


def questionnaire_sha256(canonical: bytes) -> bytes:
    return hashlib.sha256(canonical).digest()


def check_questionnaire_bytes(canonical: bytes) -> None:
    """1 to 65,536 bytes of UTF-8 that are a JSON object already in its canonical form (FORMAT.md §12.2)."""
    if not isinstance(canonical, bytes) or not 1 <= len(canonical) <= MAX_QUESTIONNAIRE_BYTES:
        raise MalformedError(f"a bundle's questionnaire is 1 to {MAX_QUESTIONNAIRE_BYTES} bytes")
    try:
        value = json.loads(canonical.decode("utf-8"))
        again = canonical_form(value) if isinstance(value, dict) else b""
    except (UnicodeDecodeError, ValueError, RecursionError, TypeError):
        raise MalformedError("a bundle's questionnaire is not a JSON object in canonical form") from None
    if again != canonical:
        raise MalformedError("a bundle's questionnaire is not a JSON object in canonical form")


def check_questionnaire_order(texts: tuple[bytes, ...]) -> None:
    digests = [questionnaire_sha256(t) for t in texts]
    if any(a >= b for a, b in itertools.pairwise(digests)):
        raise MalformedError("a bundle's questionnaires are not in strictly increasing order of their SHA-256")


def questionnaire_block(texts: Iterable[bytes]) -> tuple[bytes, tuple[bytes, ...]]:
    """The block's bytes and the texts in their signed order (sorted by SHA-256, each once)."""
    ordered = tuple(sorted(set(texts), key=questionnaire_sha256))
    if len(ordered) > MAX_QUESTIONNAIRES:
        raise MalformedError(f"a bundle carries at most {MAX_QUESTIONNAIRES} questionnaire versions")
    for text in ordered:
        check_questionnaire_bytes(text)
    return u16(len(ordered)) + b"".join(u32(len(t)) + t for t in ordered), ordered


def check_blob_head(blob_id: bytes, size: int, previous: bytes | None) -> None:
    if len(blob_id) != BLOB_ID_SIZE:
        raise MalformedError("a blob id is 16 bytes")
    if previous is not None and blob_id <= previous:
        raise MalformedError("a bundle's blobs are not in strictly increasing order of their ids")
    if not MIN_BLOB <= size <= MAX_BLOB:
        raise MalformedError("a bundle blob's size is not the size of a sealed file")


def ordered_blobs(blobs: Iterable[ExportBlob]) -> list[ExportBlob]:
    """The blobs in the section's order (by id), checked; only their ids and sizes are held, never bytes."""
    ordered = sorted(blobs, key=lambda blob: blob.blob_id)
    if len(ordered) > MAX_BLOBS:
        raise MalformedError(f"a bundle carries at most {MAX_BLOBS} blobs")
    previous = None
    for blob in ordered:
        check_blob_head(blob.blob_id, blob.size, previous)
        previous = blob.blob_id
    return ordered


def blob_record_head(blob: ExportBlob) -> bytes:
    return blob.blob_id + u64(blob.size)


def blob_count(n: int) -> bytes:
    return u32(n)
