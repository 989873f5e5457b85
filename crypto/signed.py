"""What bundles and acknowledgements sign: a context string and the BLAKE2b-512 of every byte before it.

Hashing first lets a multi-gigabyte bundle be signed and verified while streaming; the container's own
magic, first in the hashed bytes, keeps a bundle signature from ever passing as an acknowledgement's.
"""

from __future__ import annotations

import hashlib

SIGNATURE_SIZE = 64
_CONTEXT = b"intake signed container v1\x00"


def body_hasher() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=64)


def signed_message(body_hash: bytes) -> bytes:
    return _CONTEXT + body_hash
