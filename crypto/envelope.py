"""The request envelope: one payload key, sealed to every recipient; the payload padded, then sealed.

Layout (docs/FORMAT.md §4): magic, version, recipient count, padded length, one 80-byte
``crypto_box_seal`` stanza per recipient, (version 2) a 32-byte commitment to the payload key, a nonce,
then XChaCha20-Poly1305 over the padded payload with every preceding byte as associated data, so no
header field can change and no stanza can be removed or reordered without the payload failing to open.

XChaCha20-Poly1305 does not commit to its key: a sender could seal one ciphertext that opens under two
different payload keys to two different plaintexts, one per recipient. Version 2 writes
``BLAKE2b-32(key=payload_key, label)`` before the nonce; the opener recomputes it in constant time as
soon as a stanza opens, so every recipient who opens an envelope holds the same payload key, and hence
reads the same bytes. Version 1 envelopes (no commitment) stay readable.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.utils

from crypto.binary import Reader, u8, u32
from crypto.errors import MalformedError, NotRecipientError, TamperedError, UnsupportedVersionError
from crypto.followup import decode_payload, encode_followup
from crypto.keys import Identity, PublicIdentity
from crypto.request_schema import MAX_REQUEST_BYTES, decode_request, encode_request

MAGIC = b"ITKE"
VERSION = 2
READABLE_VERSIONS = (1, 2)
COMMITMENT_SIZE = 32
_COMMITMENT_LABEL = b"intake envelope key commitment v2"
MAX_RECIPIENTS = 16
STANZA_SIZE = 32 + 32 + 16  # ephemeral public key, sealed 32-byte payload key, tag
NONCE_SIZE = 24
TAG_SIZE = 16
FIXED_BUCKET = MAX_REQUEST_BYTES
MAX_PAYLOAD = 1 << 20


def padded_size(length: int) -> int:
    """Bytes of payload space for a ``length``-byte payload: one fixed bucket, PADMÉ above it.

    PADMÉ (Nikitin et al., PoPETs 2019) keeps only the top bits of the length, so a padded length leaks
    O(log log n) bits and wastes at most 12 %.
    """
    if length < 0 or length > MAX_PAYLOAD:
        raise MalformedError(f"a payload is 0 to {MAX_PAYLOAD} bytes")
    if length <= FIXED_BUCKET:
        return FIXED_BUCKET
    exponent = length.bit_length() - 1
    mantissa_bits = exponent.bit_length()
    mask = (1 << (exponent - mantissa_bits)) - 1
    return (length + mask) & ~mask


def envelope_size(payload_length: int, recipients: int, *, version: int = VERSION) -> int:
    """The exact length of an envelope: what ``seal_request`` writes (version 2) unless told otherwise."""
    commitment = COMMITMENT_SIZE if version >= 2 else 0
    return 10 + STANZA_SIZE * recipients + commitment + NONCE_SIZE + 4 + padded_size(payload_length) + TAG_SIZE


def key_commitment(payload_key: bytes) -> bytes:
    """BLAKE2b-32 keyed by the payload key over a fixed label: two keys giving one value is a collision."""
    return hashlib.blake2b(_COMMITMENT_LABEL, digest_size=COMMITMENT_SIZE, key=payload_key).digest()


def envelope_digest(envelope: bytes) -> bytes:
    """The 32-byte BLAKE2b digest by which an acknowledgement names an envelope."""
    return hashlib.blake2b(envelope, digest_size=32).digest()


def _check_recipients(recipients: Sequence[PublicIdentity]) -> list[PublicIdentity]:
    recipients = list(recipients)
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise MalformedError(f"an envelope has 1 to {MAX_RECIPIENTS} recipients, not {len(recipients)}")
    if not all(isinstance(r, PublicIdentity) for r in recipients):
        raise MalformedError("recipients must be PublicIdentity objects")
    if len({r.box_public for r in recipients}) != len(recipients):
        raise MalformedError("the same recipient is named twice")
    return recipients


def _seal_payload(payload: bytes, recipients: Sequence[PublicIdentity]) -> bytes:
    checked = _check_recipients(recipients)
    padded = padded_size(len(payload))
    payload_key = nacl.utils.random(32)
    try:
        stanzas = b"".join(nacl.bindings.crypto_box_seal(payload_key, r.box_public) for r in checked)
    except nacl.exceptions.CryptoError:
        raise MalformedError("a recipient's encryption key is not usable") from None
    nonce = nacl.utils.random(NONCE_SIZE)
    header = MAGIC + u8(VERSION) + u8(len(checked)) + u32(padded) + stanzas + key_commitment(payload_key) + nonce
    plaintext = u32(len(payload)) + payload + bytes(padded - len(payload))
    sealed: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, header, nonce, payload_key)
    return header + sealed


def seal_request(request: Mapping[str, Any], *, for_recipients: Sequence[PublicIdentity]) -> bytes:
    """Validate, encode, pad and seal ``request`` (schema 1 or 2) so that only ``for_recipients`` can read it."""
    return _seal_payload(encode_request(request), for_recipients)


def seal_followup(followup: Mapping[str, Any], *, for_recipients: Sequence[PublicIdentity]) -> bytes:
    """Seal a follow-up exactly as a request: same envelope, same fixed size for the same recipients."""
    return _seal_payload(encode_followup(followup), for_recipients)


def _open_payload(envelope: bytes, identity: Identity) -> bytes:
    reader = Reader(envelope, "the envelope")
    reader.expect(MAGIC, "envelope marker")
    version = reader.u8()
    if version not in READABLE_VERSIONS:
        raise UnsupportedVersionError("this envelope has a version this tool does not know")
    count = reader.u8()
    padded = reader.u32()
    if not 1 <= count <= MAX_RECIPIENTS:
        raise MalformedError("the envelope's recipient count is out of range")
    if padded > MAX_PAYLOAD or padded < FIXED_BUCKET:
        raise MalformedError("the envelope's padded length is out of range")
    commitment_size = COMMITMENT_SIZE if version >= 2 else 0
    if reader.remaining != STANZA_SIZE * count + commitment_size + NONCE_SIZE + 4 + padded + TAG_SIZE:
        raise MalformedError("the envelope's length does not match its header")
    stanzas = [reader.take(STANZA_SIZE) for _ in range(count)]
    commitment = reader.take(commitment_size)
    nonce = reader.take(NONCE_SIZE)
    header_size = len(envelope) - reader.remaining
    box = identity.box_private_key()
    public, secret = bytes(box.public_key), bytes(box)
    payload_key = None
    for stanza in stanzas:
        try:
            payload_key = nacl.bindings.crypto_box_seal_open(stanza, public, secret)
        except nacl.exceptions.CryptoError:
            continue
        break
    if payload_key is None or len(payload_key) != 32:
        raise NotRecipientError("this envelope was not sealed to this key")
    if version >= 2 and not hmac.compare_digest(commitment, key_commitment(payload_key)):
        raise TamperedError("the envelope was altered: its key commitment does not match")
    try:
        plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            reader.take(reader.remaining), envelope[:header_size], nonce, payload_key
        )
    except nacl.exceptions.CryptoError:
        raise TamperedError("the envelope was altered: its contents do not authenticate") from None
    # The plaintext is exactly 4 + padded bytes (the AEAD authenticated the header's length).
    length = int.from_bytes(plaintext[:4], "big")
    if length > padded or padded_size(length) != padded:
        raise MalformedError("the envelope's payload length disagrees with its padding")
    end = 4 + length
    # Compared with a fresh run of zeros (calloc and memcmp): ten times faster than counting the zero bytes.
    if not plaintext.endswith(bytes(len(plaintext) - end)):
        raise MalformedError("the envelope's padding is not zero")
    return plaintext[4:end]


def open_request(envelope: bytes, identity: Identity) -> dict[str, Any]:
    """Open an envelope with ``identity`` and return the checked request; MalformedError for a follow-up."""
    return decode_request(_open_payload(envelope, identity))


def open_envelope(envelope: bytes, identity: Identity) -> dict[str, Any]:
    """Open an envelope and return its checked payload, a request or a follow-up (see ``payload_kind``)."""
    return decode_payload(_open_payload(envelope, identity))
