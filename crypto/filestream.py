"""A sealed file (magic ``ITKF``): one random key per file, sealed chunk by chunk as the bytes arrive.

docs/FORMAT.md §13. The file's bytes, then zeros, then its length as 8 bytes, are cut into 64 KiB
chunks and sealed with libsodium's secretstream (XChaCha20-Poly1305): each chunk is authenticated, the
last one carries the FINAL tag, and the nonce advances with every chunk, so a truncated, extended or
reordered stream, or a chunk moved from another file (another key), is refused. The plaintext stream is
padded to a PADMÉ length (``crypto.envelope.padded_size`` above the bucket), so the stored size leaks
O(log log n) bits of the file's length and wastes at most 12 %.

``FileSealer`` never holds more than one chunk: ``write`` returns the ciphertext of every chunk
completed so far, ``finish`` the rest. The key, the sizes and the two SHA-256 digests (content and
stored blob) go into the request's manifest, inside its envelope; nothing here stores or logs them.
``open_file`` streams a blob back to a writer, checking the blob's digest and the content's length and
digest against the manifest, and raises before returning if anything differs: a caller that writes
to a temporary file and keeps it only when this returns gets all or nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from nacl import bindings as sodium
from nacl.exceptions import CryptoError as SodiumError

from crypto.errors import MalformedError, TamperedError, UnsupportedVersionError

MAGIC = b"ITKF"
VERSION = 1
CHUNK = 64 * 1024
KEY_SIZE = sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES
HEADER_SIZE = len(MAGIC) + 1 + sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
SEALED_CHUNK = CHUNK + ABYTES
LENGTH_SIZE = 8
MAX_FILE_BYTES = 1 << 31  # a bound for the format; the server's limit (25 MiB by default) is far below
_AD = b"ITKF v1 chunk"  # the associated data of every chunk: a blob of another format never opens
_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def padme(length: int) -> int:
    """PADMÉ (Nikitin et al., PoPETs 2019): keep the top bits of the length; the rest become padding."""
    if length < 2:
        return length
    exponent = length.bit_length() - 1
    mask = (1 << (exponent - exponent.bit_length())) - 1
    return (length + mask) & ~mask


def stream_length(content_size: int) -> int:
    """The padded plaintext stream of a ``content_size``-byte file: content, zeros, 8-byte length."""
    return padme(content_size + LENGTH_SIZE)


def blob_size(content_size: int) -> int:
    """The exact stored size of a sealed file: a function of its PADMÉ stream length only."""
    stream = stream_length(content_size)
    chunks = max(1, -(-stream // CHUNK))
    return HEADER_SIZE + stream + chunks * ABYTES


@dataclass(frozen=True)
class SealedFile:
    """What the manifest records of one sealed file (the key never leaves the envelope)."""

    key: bytes
    size: int
    sha256: str
    blob_size: int
    blob_sha256: str


class FileSealer:
    """Seal one file as it arrives; ``write`` and ``finish`` return ciphertext to store, in order."""

    def __init__(self, *, max_size: int = MAX_FILE_BYTES, key: bytes | None = None) -> None:
        self._key = key if key is not None else sodium.crypto_secretstream_xchacha20poly1305_keygen()
        if len(self._key) != KEY_SIZE:
            raise ValueError("a file key is 32 bytes")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        header = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, self._key)
        self._max = max_size
        self._pending = bytearray()
        self._size = 0
        self._content = hashlib.sha256()
        self._blob = hashlib.sha256()
        self._done = False
        self._first = self._emit(MAGIC + bytes([VERSION]) + header)

    def _emit(self, data: bytes) -> bytes:
        self._blob.update(data)
        return data

    def _seal(self, chunk: bytes, tag: int) -> bytes:
        return self._emit(sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, _AD, tag))

    def write(self, data: bytes | bytearray | memoryview) -> bytes:
        """Add ``data``; the ciphertext of every chunk now complete (MalformedError past ``max_size``)."""
        if self._done:
            raise ValueError("the file is finished")
        if self._size + len(data) > self._max:
            raise MalformedError(f"the file is larger than {self._max} bytes")
        self._size += len(data)
        self._content.update(data)
        self._pending += data
        out = [self._first] if self._first else []
        self._first = b""
        while len(self._pending) > CHUNK:  # keep at least one byte back: the last chunk is sealed FINAL
            with memoryview(self._pending) as view:  # one copy of the chunk (push takes bytes only)
                chunk = bytes(view[:CHUNK])
            out.append(self._seal(chunk, _MESSAGE))
            del self._pending[:CHUNK]
        # A single sealed chunk (the usual case: 64 KiB pieces in, one chunk out) goes out without a join's copy.
        return out[0] if len(out) == 1 else b"".join(out)

    def finish(self) -> tuple[bytes, SealedFile]:
        """The last chunks (content, padding, length) and the facts the manifest records."""
        if self._done:
            raise ValueError("the file is finished")
        self._done = True
        tail = self._size.to_bytes(LENGTH_SIZE, "little")
        out = [self._first]
        zeros = stream_length(self._size) - self._size - LENGTH_SIZE
        while zeros:  # the padding fills chunks; a full one is sealed while more padding follows
            take = min(CHUNK - len(self._pending), zeros)
            self._pending += bytes(take)
            zeros -= take
            if zeros:
                out.append(self._seal(bytes(self._pending), _MESSAGE))
                self._pending.clear()
        last = bytes(self._pending) + tail
        self._pending.clear()
        if len(last) > CHUNK:  # the length does not fit after the padding in this chunk: it spills over
            out.append(self._seal(last[:CHUNK], _MESSAGE))
            last = last[CHUNK:]
        out.append(self._seal(last, _FINAL))
        facts = SealedFile(self._key, self._size, self._content.hexdigest(), blob_size(self._size),
                           self._blob.hexdigest())  # fmt: skip
        return b"".join(out), facts


def open_file(
    read: Callable[[int], bytes], write: Callable[[bytes], object], *, key: bytes, size: int, sha256: str,
    blob_sha256: str, blob_length: int,
) -> None:  # fmt: skip
    """Stream a sealed blob back to ``write``: at most one chunk in memory.

    ``key``, ``size``, ``sha256`` and ``blob_sha256`` come from the manifest inside the envelope,
    ``blob_length`` from storage. Raises TamperedError (wrong key, altered, truncated, reordered or
    extended stream, a blob that is not the manifest's, a length or content that differs), or
    MalformedError / UnsupportedVersionError for what is not a sealed file; in every such case
    ``write`` may have received bytes that the caller must throw away.
    """
    if len(key) != KEY_SIZE or not 0 <= size <= MAX_FILE_BYTES:
        raise MalformedError("a manifest entry has a 32-byte key and a size within the format's bound")
    if blob_length != blob_size(size):
        raise TamperedError("the stored file's length is not the one its manifest size gives")
    blob = hashlib.sha256()

    def take(n: int) -> bytes:
        data = read(n)
        if len(data) != n:
            raise TamperedError("the stored file is truncated")
        blob.update(data)
        return data

    head = take(HEADER_SIZE)
    if head[:4] != MAGIC:
        raise MalformedError("this is not a sealed file (magic)")
    if head[4] != VERSION:
        raise UnsupportedVersionError(f"sealed file version {head[4]} is not supported")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    try:
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, head[5:], key)
    except SodiumError:
        raise TamperedError("the sealed file's header does not open with this key") from None
    remaining = stream_length(size)
    written = 0
    content = hashlib.sha256()
    tail = bytearray()
    while remaining > 0:
        plain_size = min(CHUNK, remaining)
        sealed = take(plain_size + ABYTES)
        try:
            chunk, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, sealed, _AD)
        except SodiumError:
            raise TamperedError("a chunk of the sealed file does not authenticate") from None
        remaining -= plain_size
        if (tag == _FINAL) != (remaining == 0):
            raise TamperedError("the sealed file ends early or goes on after its final chunk")
        keep = min(len(chunk), max(0, size - written))
        if keep:
            content.update(chunk[:keep])
            write(chunk[:keep])
            written += keep
        tail += chunk[keep:]
        if len(tail) > LENGTH_SIZE:  # only the last 8 bytes are the length; the rest must be zeros
            if any(tail[:-LENGTH_SIZE]):
                raise TamperedError("the sealed file's padding is not zeros")
            del tail[:-LENGTH_SIZE]
    if int.from_bytes(tail, "little") != size:
        raise TamperedError("the sealed file's own length is not its manifest's")
    if read(1):
        raise TamperedError("the stored file goes on after its final chunk")
    if not hmac.compare_digest(blob.hexdigest(), blob_sha256):
        raise TamperedError("the stored file is not the one its manifest names")
    if not hmac.compare_digest(content.hexdigest(), sha256):
        raise TamperedError("the file's content is not the one its manifest names")


def seal_bytes(data: bytes, *, key: bytes | None = None) -> tuple[bytes, SealedFile]:
    """A whole small file at once (tests, vectors); the server streams with FileSealer instead."""
    sealer = FileSealer(key=key)
    first = sealer.write(data)
    rest, facts = sealer.finish()
    return first + rest, facts


def open_bytes(blob: bytes, facts: SealedFile) -> bytes:
    out = bytearray()
    position = 0

    def read(n: int) -> bytes:
        nonlocal position
        piece = blob[position : position + n]
        position += len(piece)
        return piece

    open_file(read, out.extend, key=facts.key, size=facts.size, sha256=facts.sha256, blob_sha256=facts.blob_sha256,
              blob_length=len(blob))  # fmt: skip
    return bytes(out)


__all__ = ["FileSealer", "SealedFile", "blob_size", "open_bytes", "open_file", "padme", "seal_bytes"]
