"""The requester's reply key pair: derived from the receipt and a server secret, never stored anywhere.

At submission the server derives the pair from the 30 receipt digits and its ``reply_secret`` (a 32-byte
secret the server keeps apart from its database, so a copied database alone derives nothing), puts only
the public half into the sealed request, and forgets both. When the person comes back with the receipt,
the server derives the same pair again, for that one response, to open the replies waiting for them.

docs/FORMAT.md §10 specifies every byte:

    reply_sk = BLAKE2b-32(key = reply_secret, m = "intake reply key v1" 0x00 || the 30 ASCII digits)
    reply_pk = X25519(reply_sk, base point)
    mailbox  = BLAKE2b-32("intake mailbox v1" 0x00 || reply_pk)

The mailbox id is the only handle the server files replies under: it names a conversation without
being a key anyone can seal to or open with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import nacl.bindings
import nacl.exceptions

from crypto.errors import MalformedError, NotRecipientError
from crypto.keys import has_small_order

KEY_SIZE = 32
RECEIPT_DIGITS = 30
_SECRET_LABEL = b"intake reply key v1\x00"
_MAILBOX_LABEL = b"intake mailbox v1\x00"


class ReplyPublicKey:
    """The public half of a requester's reply key: 32 bytes of X25519, never of small order."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != KEY_SIZE:
            raise MalformedError(f"a reply key is {KEY_SIZE} bytes")
        if has_small_order(raw):
            raise MalformedError("the reply key is a low-order point: nothing sealed to it would be secret")
        self.raw = raw

    @classmethod
    def from_b64(cls, text: str) -> ReplyPublicKey:
        """Parse the payload field: standard base64 with padding, in its one canonical form (44 characters)."""
        if not isinstance(text, str) or len(text) != 44:
            raise MalformedError("a reply key is 44 characters of base64")
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise MalformedError("the reply key is not base64") from None
        if base64.b64encode(raw).decode("ascii") != text:
            raise MalformedError("the reply key is not in canonical base64")
        return cls(raw)

    def to_b64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReplyPublicKey):
            return NotImplemented
        return hmac.compare_digest(self.raw, other.raw)

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"ReplyPublicKey({self.to_b64()!r})"


class ReplyKeyPair:
    """A requester's reply key pair. The private half stays inside; only ``crypto.reply`` opens with it."""

    __slots__ = ("_secret", "public")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) != KEY_SIZE:
            raise MalformedError(f"a reply secret key is {KEY_SIZE} bytes")
        self._secret = secret
        self.public = ReplyPublicKey(nacl.bindings.crypto_scalarmult_base(secret))

    def _unseal(self, sealed: bytes) -> bytes:
        """``crypto_box_seal_open`` with this pair: the one use of the private half."""
        try:
            opened: bytes = nacl.bindings.crypto_box_seal_open(sealed, self.public.raw, self._secret)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise NotRecipientError("this reply was not sealed to this key, or it was altered") from None
        return opened

    def __repr__(self) -> str:
        return f"ReplyKeyPair(public={self.public!r})"


def derive_reply_keypair(receipt_digits: str, reply_secret: bytes) -> ReplyKeyPair:
    """The reply key pair for one receipt: the same digits and secret always give the same pair."""
    if not isinstance(receipt_digits, str) or len(receipt_digits) != RECEIPT_DIGITS:
        raise MalformedError(f"a receipt is {RECEIPT_DIGITS} digits")
    if not all("0" <= ch <= "9" for ch in receipt_digits):
        raise MalformedError("a receipt is ASCII digits only")
    if not isinstance(reply_secret, bytes) or len(reply_secret) != KEY_SIZE:
        raise MalformedError(f"the server's reply secret is {KEY_SIZE} bytes")
    message = _SECRET_LABEL + receipt_digits.encode("ascii")
    return ReplyKeyPair(hashlib.blake2b(message, digest_size=KEY_SIZE, key=reply_secret).digest())


def mailbox_id(reply_public: ReplyPublicKey) -> bytes:
    """The 32-byte handle replies are filed under: a hash of the public key under its own label."""
    if not isinstance(reply_public, ReplyPublicKey):
        raise MalformedError("a mailbox is named by a ReplyPublicKey")
    return hashlib.blake2b(_MAILBOX_LABEL + reply_public.raw, digest_size=32).digest()
