"""The acknowledgement (laptop -> server): which envelopes a caseworker holds safely, signed by them.

It names each envelope by id and digest, so a server deletes only the exact bytes that were taken; it
names the server's own key, so an acknowledgement for another server deletes nothing here; a random
nonce makes every acknowledgement file distinct, so the server can refuse one it has already applied.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import nacl.utils

from crypto.binary import U64_MAX, Reader, encode_day, u8, u32, u64
from crypto.bundle import MAX_ENTRIES
from crypto.errors import MalformedError, UnknownSignerError, UnsupportedVersionError, WrongServerError
from crypto.keys import Identity, PublicIdentity, ServerPublicKey, _verify
from crypto.signed import SIGNATURE_SIZE, body_hasher, signed_message

MAGIC = b"ITKA"
VERSION = 1
HEADER_SIZE = 4 + 1 + 32 + 32 + 8 + 16 + 4 + 4
ENTRY_SIZE = 16 + 32


@dataclass(frozen=True)
class AckEntry:
    entry_id: bytes
    digest: bytes


@dataclass(frozen=True)
class Ack:
    signer: PublicIdentity
    server: ServerPublicKey
    bundle_sequence: int
    created_on: datetime.date
    entries: tuple[AckEntry, ...]
    digest: bytes


def make_ack(
    entries: Iterable[AckEntry],
    *,
    identity: Identity,
    server: ServerPublicKey,
    bundle_sequence: int,
    created_on: datetime.date,
) -> bytes:
    """A signed acknowledgement of ``entries`` for ``server``; entries are sorted by id here."""
    ordered = sorted(entries, key=lambda e: e.entry_id)
    if len(ordered) > MAX_ENTRIES:
        raise MalformedError(f"an acknowledgement names at most {MAX_ENTRIES} envelopes")
    if not 0 <= bundle_sequence <= U64_MAX:
        raise MalformedError("the bundle sequence must be an unsigned 64-bit number")
    for previous, entry in zip([None, *ordered], ordered, strict=False):
        if len(entry.entry_id) != 16 or len(entry.digest) != 32:
            raise MalformedError("an acknowledged entry is a 16-byte id and a 32-byte digest")
        if previous is not None and previous.entry_id == entry.entry_id:
            raise MalformedError("the acknowledgement names the same envelope twice")
    body = b"".join(
        [
            MAGIC, u8(VERSION), identity.public.sign_public, server.raw, u64(bundle_sequence),
            nacl.utils.random(16), encode_day(created_on), u32(len(ordered)),
            *(e.entry_id + e.digest for e in ordered),
        ]
    )  # fmt: skip
    hasher = body_hasher()
    hasher.update(body)
    return body + identity.sign(signed_message(hasher.digest()))


def read_ack(data: bytes, *, server: ServerPublicKey, caseworkers: Iterable[PublicIdentity]) -> Ack:
    """Verify an acknowledgement for ``server`` signed by one of ``caseworkers``."""
    if len(data) < HEADER_SIZE + SIGNATURE_SIZE:
        raise MalformedError("the file is too short to be an intake acknowledgement")
    reader = Reader(data, "the acknowledgement")
    if reader.take(4) != MAGIC:
        raise MalformedError("this is not an intake acknowledgement")
    if reader.u8() != VERSION:
        raise UnsupportedVersionError("this acknowledgement has a version this tool does not know")
    sign_public = reader.take(32)
    for_server = ServerPublicKey(reader.take(32))
    # Authenticity and trust first; only a verified acknowledgement from a registered caseworker for
    # this server is parsed any further.
    hasher = body_hasher()
    hasher.update(data[: len(data) - SIGNATURE_SIZE])
    _verify(sign_public, signed_message(hasher.digest()), data[len(data) - SIGNATURE_SIZE :])
    signer = next((c for c in caseworkers if c.sign_public == sign_public), None)
    if signer is None:
        raise UnknownSignerError("the acknowledgement is not signed by a registered caseworker", sign_public)
    if for_server != server:
        raise WrongServerError("the acknowledgement was made for another server")
    bundle_sequence = reader.u64()
    reader.take(16)
    created_on = reader.day()
    count = reader.u32()
    if count > MAX_ENTRIES or reader.remaining != count * ENTRY_SIZE + SIGNATURE_SIZE:
        raise MalformedError("the acknowledgement's length does not match its entry count")
    entries = tuple(AckEntry(reader.take(16), reader.take(32)) for _ in range(count))
    if any(a.entry_id >= b.entry_id for a, b in itertools.pairwise(entries)):
        raise MalformedError("the acknowledgement's entries are not in strictly increasing order")
    digest = hashlib.blake2b(data, digest_size=32).digest()
    return Ack(signer, for_server, bundle_sequence, created_on, entries, digest)
