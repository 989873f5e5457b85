"""The triage store's own key: status, notes and caches are sealed with it, never kept in the clear.

One random ``StoreKey`` per store, wrapped (``crypto_box_seal``) for every caseworker identity in that
home, so each caseworker opens the store with their own passphrase. ``context`` is bound into every
record as associated data, so a record cannot be moved to another case or field unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac

import nacl.bindings
import nacl.exceptions
import nacl.utils

from crypto.errors import MalformedError, NotRecipientError, TamperedError
from crypto.keys import Identity, PublicIdentity

KEY_SIZE = 32
NONCE_SIZE = 24
_CONTEXT = b"intake store record v1\x00"


class StoreKey:
    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise MalformedError(f"a store key is {KEY_SIZE} bytes")
        self._key = key

    @classmethod
    def generate(cls) -> StoreKey:
        return cls(nacl.utils.random(KEY_SIZE))

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        nonce = nacl.utils.random(NONCE_SIZE)
        sealed: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, _CONTEXT + context, nonce, self._key
        )
        return nonce + sealed

    def open(self, blob: bytes, *, context: bytes) -> bytes:
        if len(blob) < NONCE_SIZE + 16:
            raise TamperedError("a stored record is truncated")
        try:
            plaintext: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                blob[NONCE_SIZE:], _CONTEXT + context, blob[:NONCE_SIZE], self._key
            )
        except nacl.exceptions.CryptoError:
            raise TamperedError("a stored record was altered or belongs elsewhere") from None
        return plaintext

    def tag(self, data: bytes, *, context: bytes) -> bytes:
        """A 32-byte keyed hash of ``data``: lets the store find equal values without keeping them readable."""
        key = hashlib.blake2b(_CONTEXT + b"tag", key=self._key, digest_size=32).digest()
        return hashlib.blake2b(context + b"\x00" + data, key=key, digest_size=32).digest()

    def wrap_for(self, public: PublicIdentity) -> bytes:
        wrapped: bytes = nacl.bindings.crypto_box_seal(self._key, public.box_public)
        return wrapped

    @classmethod
    def unwrap(cls, blob: bytes, identity: Identity) -> StoreKey:
        box = identity.box_private_key()
        try:
            key = nacl.bindings.crypto_box_seal_open(blob, bytes(box.public_key), bytes(box))
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise NotRecipientError("this store key was not wrapped for this identity") from None
        return cls(key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoreKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return "StoreKey(…)"
