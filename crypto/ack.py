"""The acknowledgement, or return file (laptop -> server): what a caseworker holds, and their replies.

It names each envelope by id and digest, so a server deletes only the exact bytes that were taken; it
names the server's own key, so an acknowledgement for another server deletes nothing here; a random
nonce makes every acknowledgement file distinct, so the server can refuse one it has already applied.
Version 2 (what ``make_ack`` writes) also carries the caseworker's sealed replies, each filed under
its requester's mailbox id; each reply container is exactly ``REPLY_SIZE`` bytes. Version 1 (no
replies) stays readable. docs/FORMAT.md §8.2.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import nacl.utils

from crypto.binary import U64_MAX, Reader, encode_day, u8, u32, u64
from crypto.bundle import MAX_ENTRIES
from crypto.errors import CryptoError, MalformedError, UnknownSignerError, UnsupportedVersionError, WrongServerError
from crypto.keys import Identity, PublicIdentity, ServerPublicKey, _verify
from crypto.reply import REPLY_SIZE, check_container
from crypto.signed import SIGNATURE_SIZE, body_hasher, signed_message

MAGIC = b"ITKA"
VERSION = 2
READABLE_VERSIONS = (1, 2)
HEADER_SIZE = 4 + 1 + 32 + 32 + 8 + 16 + 4 + 4
ENTRY_SIZE = 16 + 32
MAILBOX_SIZE = 32
REPLY_ENTRY_SIZE = MAILBOX_SIZE + REPLY_SIZE
# A return file is carried on a USB stick and applied in one transaction: 1,000 replies are 16.5 MB.
MAX_REPLIES = 1000


@dataclass(frozen=True)
class AckEntry:
    entry_id: bytes
    digest: bytes


@dataclass(frozen=True)
class AckReply:
    """A sealed reply (``crypto.seal_reply``) and the mailbox id (``crypto.mailbox_id``) it is filed under."""

    mailbox: bytes
    container: bytes

    def __repr__(self) -> str:
        return f"AckReply(mailbox={self.mailbox.hex()[:16]}…)"


@dataclass(frozen=True)
class Ack:
    signer: PublicIdentity
    server: ServerPublicKey
    bundle_sequence: int
    created_on: datetime.date
    entries: tuple[AckEntry, ...]
    digest: bytes
    replies: tuple[AckReply, ...] = ()
    version: int = VERSION


def _check_reply(reply: AckReply) -> None:
    if not isinstance(reply, AckReply) or not isinstance(reply.mailbox, bytes) or len(reply.mailbox) != MAILBOX_SIZE:
        raise MalformedError(f"a reply is filed under a {MAILBOX_SIZE}-byte mailbox id")
    try:
        check_container(reply.container)
    except CryptoError:
        raise MalformedError(f"a reply container is exactly {REPLY_SIZE} bytes of ITKR version 1 or 2") from None


def make_ack(
    entries: Iterable[AckEntry],
    *,
    identity: Identity,
    server: ServerPublicKey,
    bundle_sequence: int,
    created_on: datetime.date,
    replies: Sequence[AckReply] = (),
) -> bytes:
    """A signed return file (version 2): ``entries`` (sorted by id here) and ``replies`` (kept in order)."""
    replies = tuple(replies)
    if len(replies) > MAX_REPLIES:
        raise MalformedError(f"a return file carries at most {MAX_REPLIES} replies; send the rest next time")
    for reply in replies:
        _check_reply(reply)
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
            u32(len(replies)), *(r.mailbox + r.container for r in replies),
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
    version = reader.u8()
    if version not in READABLE_VERSIONS:
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
    if count > MAX_ENTRIES:
        raise MalformedError("the acknowledgement names more envelopes than any bundle holds")
    if version == 1 and reader.remaining != count * ENTRY_SIZE + SIGNATURE_SIZE:
        raise MalformedError("the acknowledgement's length does not match its entry count")
    if version >= 2 and reader.remaining < count * ENTRY_SIZE + 4 + SIGNATURE_SIZE:
        raise MalformedError("the return file is shorter than its entry count says")
    entries = tuple(AckEntry(reader.take(16), reader.take(32)) for _ in range(count))
    if any(a.entry_id >= b.entry_id for a, b in itertools.pairwise(entries)):
        raise MalformedError("the acknowledgement's entries are not in strictly increasing order")
    replies: tuple[AckReply, ...] = ()
    if version >= 2:
        reply_count = reader.u32()
        if reply_count > MAX_REPLIES:
            raise MalformedError(f"a return file carries at most {MAX_REPLIES} replies")
        if reader.remaining != reply_count * REPLY_ENTRY_SIZE + SIGNATURE_SIZE:
            raise MalformedError("the return file's length does not match its reply count")
        replies = tuple(AckReply(reader.take(MAILBOX_SIZE), reader.take(REPLY_SIZE)) for _ in range(reply_count))
        for reply in replies:
            _check_reply(reply)
    digest = hashlib.blake2b(data, digest_size=32).digest()
    return Ack(signer, for_server, bundle_sequence, created_on, entries, digest, replies, version)
