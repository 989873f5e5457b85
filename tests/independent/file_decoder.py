"""An independent reader of sealed files, written from docs/FORMAT.md §13 alone (not from crypto/filestream.py).

It holds the whole blob (vectors are small) and follows §13.2's numbered checks in order.
"""

from __future__ import annotations

import hashlib

from nacl import bindings as s
from nacl.exceptions import CryptoError

from tests.independent.decoder import Malformed, Tampered, UnsupportedVersion

AD = b"ITKF v1 chunk"


def padme(length: int) -> int:
    if length < 2:
        return length
    e = length.bit_length() - 1
    bits = e.bit_length()  # floor(log2 e) + 1
    step = 1 << (e - bits)
    return -(-length // step) * step


def open_sealed_file(blob: bytes, key: bytes, size: int, content_sha256: str, blob_sha256: str) -> bytes:
    if len(key) != 32 or not 0 <= size <= 1 << 31:  # step 1
        raise Malformed("manifest")
    stream = padme(size + 8)
    if len(blob) != 29 + stream + 17 * -(-stream // 65536):  # step 2
        raise Tampered("length")
    if blob[:4] != b"ITKF":  # step 3
        raise Malformed("magic")
    if blob[4] != 1:
        raise UnsupportedVersion("version")
    state = s.crypto_secretstream_xchacha20poly1305_state()
    try:  # step 4
        s.crypto_secretstream_xchacha20poly1305_init_pull(state, blob[5:29], key)
    except CryptoError:
        raise Tampered("header") from None
    plain = bytearray()
    at, left = 29, stream
    while left:
        n = min(65536, left)
        try:
            chunk, tag = s.crypto_secretstream_xchacha20poly1305_pull(state, blob[at : at + n + 17], AD)
        except CryptoError:
            raise Tampered("chunk") from None
        at, left = at + n + 17, left - n
        if (tag == s.crypto_secretstream_xchacha20poly1305_TAG_FINAL) != (left == 0):  # step 5
            raise Tampered("final tag")
        plain += chunk
    if any(plain[size:-8]) or int.from_bytes(plain[-8:], "little") != size:  # step 6
        raise Tampered("padding or length")
    if at != len(blob):  # step 7
        raise Tampered("trailing bytes")
    if hashlib.sha256(blob).hexdigest() != blob_sha256:  # step 8
        raise Tampered("blob digest")
    if hashlib.sha256(plain[:size]).hexdigest() != content_sha256:
        raise Tampered("content digest")
    return bytes(plain[:size])
