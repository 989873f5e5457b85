"""Bundle version 5: the questionnaire block and the blob section (docs/FORMAT.md §8.1, version 5).

Version 5 is version 4 (with a former-recipient block that may be empty) plus two things under the one
signature:

* the **questionnaire block**, after the former recipients: the canonical bytes (crypto.questionnaire,
  FORMAT.md §12.2) of every questionnaire version the envelopes may name, each at most 64 KiB, sorted by
  their SHA-256 (so no version twice, and no order that says which came first);
* the **blob section**, after the entries: every sealed file (crypto.filestream) an exported envelope's
  manifest names, as ``blob_id[16] || size u64 || bytes``, sorted by blob id (random: the order says
  nothing of arrival, and a reader checks uniqueness without remembering ids), then the **blob table**
  at the end, ``blob_id || size || SHA-256`` of each and their number. The signature covers everything but
  the blob records themselves; the table's SHA-256 digests cover those. So a reader verifies the whole
  bundle reading only its entries and its table, and then reads each blob once, checking it against its
  signed digest as it streams: gigabytes of files are read and hashed once, not twice.

Nothing here opens a file: blobs come from ``ExportBlob.chunks`` and leave through the writer's stream.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from crypto.binary import u16, u32, u64
from crypto.errors import MalformedError, TamperedError
from crypto.filestream import MAX_FILE_BYTES, blob_size
from crypto.questionnaire import canonical_form

BLOB_VERSION = 5
MAX_QUESTIONNAIRES = 256
MAX_QUESTIONNAIRE_BYTES = 65_536
BLOB_ID_SIZE = 16
MAX_BLOBS = 1_000_000  # the verified table (56 bytes a blob) is held in memory: at most 56 MB
TABLE_ROW = 16 + 8 + 32
SIGNATURE_SIZE = 64
MIN_BLOB = blob_size(0)
MAX_BLOB = blob_size(MAX_FILE_BYTES)
BLOB_HEAD_SIZE = BLOB_ID_SIZE + 8
# How much of a blob a reader holds at once. Not more: a fresh 1 MiB buffer per read is served by mmap and
# page-faulted in each time, which made writing a blob out 3 to 5 times slower than with 64 KiB pieces.
COPY_CHUNK = 1 << 16


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
    if not hmac.compare_digest(again, canonical):
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


def table_row(blob: ExportBlob, sha256: bytes) -> bytes:
    return blob.blob_id + u64(blob.size) + sha256


@dataclass(frozen=True)
class BlobTable:
    """The signed blob table of a version 5 bundle: its bytes (table and count) and where the records start."""

    tail: bytes  # count × (blob_id || size || sha256), then u32 count: signed, after the entries' bytes
    records_start: int
    count: int
    total: int  # the blobs' bytes in all

    def rows(self) -> Iterator[tuple[bytes, int, bytes]]:
        for at in range(0, self.count * TABLE_ROW, TABLE_ROW):
            row = self.tail[at : at + TABLE_ROW]
            yield row[:16], int.from_bytes(row[16:24], "big"), row[24:]

    def check(self) -> None:
        """The table's structure (§8.1 step 4): ids strictly increasing, every size a sealed file's."""
        previous = None
        for blob_id, size, _ in self.rows():
            check_blob_head(blob_id, size, previous)
            previous = blob_id


def locate_blob_table(stream: BinaryIO, size: int, header_size: int) -> BlobTable:
    """Read the table from the end of the file; TamperedError if it cannot be where it says (a cut or a change).

    Nothing in it is trusted yet: it only says which bytes the signature covers. The stream is left where
    it was.
    """
    back = stream.tell()
    try:
        if size < header_size + 4 + SIGNATURE_SIZE:
            raise TamperedError("the bundle is truncated")
        stream.seek(size - SIGNATURE_SIZE - 4)
        count = int.from_bytes(stream.read(4), "big")
        table_start = size - SIGNATURE_SIZE - 4 - count * TABLE_ROW
        if count > MAX_BLOBS or table_start < header_size:
            raise TamperedError("the bundle is truncated or changed (its blob table does not fit)")
        stream.seek(table_start)
        tail = stream.read(count * TABLE_ROW + 4)
        if len(tail) != count * TABLE_ROW + 4:
            raise TamperedError("the bundle is truncated")
        total = sum(int.from_bytes(tail[at + 16 : at + 24], "big") for at in range(0, count * TABLE_ROW, TABLE_ROW))
        records_start = table_start - total - count * BLOB_HEAD_SIZE
        if records_start < header_size:
            raise TamperedError("the bundle is truncated or changed (its blobs do not fit)")
        return BlobTable(tail, records_start, count, total)
    finally:
        stream.seek(back)


class BlobChunks:
    """One blob's bytes, in chunks of 64 KiB; TamperedError at the end unless their SHA-256 is the table's."""

    def __init__(self, read: Callable[[int], bytes], size: int, sha256: bytes) -> None:
        self._read, self._left, self._expected = read, size, sha256
        self._hash = hashlib.sha256()
        self._checked = False

    @property
    def sha256(self) -> str:
        """The signed SHA-256 the bytes must have (hex), known before a byte is read."""
        return self._expected.hex()

    def __iter__(self) -> BlobChunks:
        return self

    def __next__(self) -> bytes:
        if self._left == 0:
            if not self._checked:
                self._checked = True
                if not hmac.compare_digest(self._hash.digest(), self._expected):
                    raise TamperedError("a file in the bundle is not the one its signed table names")
            raise StopIteration
        piece = self._read(min(self._left, COPY_CHUNK))
        self._left -= len(piece)
        self._hash.update(piece)
        return piece

    def skip(self, seek: Callable[[int], object]) -> None:
        """Move past what the caller left unread (unchecked, and so never to be kept)."""
        if self._left:
            seek(self._left)
            self._left = 0
            self._checked = True


