"""The reply container (magic ``ITKR``): a caseworker's reply, sealed on the laptop to one requester.

The plaintext is canonical JSON ``{"seq": n, "text": ..., "written_on": "YYYY-MM-DD"}``, length-prefixed
and padded with zeros to one fixed bucket, then ``crypto_box_seal``-ed to the requester's reply key. Every container
therefore has the same size (``REPLY_SIZE``) whatever the text, so the server, which stores them under a
mailbox id until the person reads them, learns nothing from their length. docs/FORMAT.md §11.

Version 2 (what ``seal_reply`` writes) adds ``seq``, the laptop's order of the replies to one case (1, 2,
…): the status page sorts by it after opening, so replies written on one day show in the order they
were written while the server, which sees only sealed containers, still learns no order. Version 1 (no
``seq``) stays readable.

A sealed box has one recipient, so XChaCha20-Poly1305's lack of key commitment (§4.1) does not arise:
there is no second reader who could be shown other words.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import nacl.bindings

from crypto.binary import Reader, u8, u32
from crypto.errors import MalformedError, RequestTooLargeError, UnsupportedVersionError
from crypto.reply_keys import ReplyKeyPair, ReplyPublicKey
from crypto.request_schema import check_known_fields, check_text, day_field, parse_json

MAGIC = b"ITKR"
VERSION = 2
READABLE_VERSIONS = (1, 2)
MAX_SEQ = 1_000_000  # far above any conversation; keeps the number an exact JSON integer everywhere
TEXT_LIMIT = 4000
# 4,000 characters of at most 4 UTF-8 bytes (or 2 for an escape) is 16,000 bytes; the JSON around them
# is 40: every reply a caseworker may write fits, so the byte bound only guards the encoder.
PLAINTEXT_BUCKET = 16384
SEALED_SIZE = 32 + 16 + 4 + PLAINTEXT_BUCKET  # ephemeral key, MAC, u32 length, padded JSON
REPLY_SIZE = 4 + 1 + SEALED_SIZE
REPLY_FIELDS = {1: ("text", "written_on"), 2: ("seq", "text", "written_on")}


@dataclass(frozen=True)
class Reply:
    text: str
    written_on: datetime.date
    seq: int | None = None  # the laptop's order within the case (version 2); None for version 1

    def __repr__(self) -> str:
        return f"Reply(written_on={self.written_on.isoformat()}, seq={self.seq}, {len(self.text)} characters)"

    @property
    def order(self) -> tuple[datetime.date, int]:
        """Sort key for showing a conversation: day, then the laptop's sequence (version 1 first in a day)."""
        return self.written_on, self.seq or 0


def _seq(value: Any) -> int:
    # bool is an int in Python and a different JSON type: refused like any other non-integer.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEQ:
        raise MalformedError(f"a reply's seq is an integer from 1 to {MAX_SEQ}")
    return value


def _normalize(reply: dict[str, Any], version: int) -> dict[str, Any]:
    fields = REPLY_FIELDS[version]
    check_known_fields(reply, fields)
    normal: dict[str, Any] = {
        "text": check_text("text", reply.get("text"), limit=TEXT_LIMIT, required=True),
        "written_on": day_field(reply.get("written_on")),
    }
    if version >= 2:
        normal["seq"] = _seq(reply.get("seq"))
    return normal


def seal_reply(text: str, *, written_on: datetime.date, seq: int, to: ReplyPublicKey) -> bytes:
    """Seal a reply of 1 to 4,000 characters to the requester's reply key: always ``REPLY_SIZE`` bytes.

    ``seq`` is this reply's place among the replies to its case (1 for the first), sealed inside.
    """
    if not isinstance(to, ReplyPublicKey):
        raise MalformedError("a reply is sealed to a ReplyPublicKey")
    if isinstance(written_on, datetime.datetime) or not isinstance(written_on, datetime.date):
        raise MalformedError("a reply is dated by a calendar day")
    normal = _normalize({"seq": seq, "text": text, "written_on": written_on}, VERSION)
    data = json.dumps(normal, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if len(data) > PLAINTEXT_BUCKET:
        raise RequestTooLargeError(len(data), PLAINTEXT_BUCKET)
    plaintext = u32(len(data)) + data + bytes(PLAINTEXT_BUCKET - len(data))
    sealed: bytes = nacl.bindings.crypto_box_seal(plaintext, to.raw)
    return MAGIC + u8(VERSION) + sealed


def open_reply(container: bytes, keypair: ReplyKeyPair) -> Reply:
    """Open a reply container with the requester's key pair, checking it in the order of FORMAT.md §11."""
    if not isinstance(keypair, ReplyKeyPair):
        raise MalformedError("a reply is opened with a ReplyKeyPair")
    reader = Reader(container, "the reply")
    reader.expect(MAGIC, "reply marker")
    version = reader.u8()
    if version not in READABLE_VERSIONS:
        raise UnsupportedVersionError("this reply has a version this tool does not know")
    if reader.remaining != SEALED_SIZE:
        raise MalformedError("a reply container has one fixed size, and this one does not")
    plaintext = keypair._unseal(reader.take(SEALED_SIZE))
    inner = Reader(plaintext, "the reply's contents")
    length = inner.u32()
    if length > PLAINTEXT_BUCKET:
        raise MalformedError("the reply's length prefix is larger than its bucket")
    data = inner.take(length)
    if plaintext.count(0, 4 + length) != PLAINTEXT_BUCKET - length:
        raise MalformedError("the reply's padding is not zero")
    normal = _normalize(parse_json(data), version)
    return Reply(normal["text"], datetime.date.fromisoformat(normal["written_on"]), normal.get("seq"))


def check_container(container: bytes) -> None:
    """The checks a server can make without the key: size, magic and version (for the return file)."""
    if not isinstance(container, bytes) or len(container) != REPLY_SIZE or container[:4] != MAGIC:
        raise MalformedError("a reply container is exactly one fixed size and starts with its marker")
    if container[4] not in READABLE_VERSIONS:
        raise UnsupportedVersionError("this reply has a version this tool does not know")


def reply_digest(container: bytes) -> bytes:
    """BLAKE2b-32 of a reply container: how the server confirms in a bundle which replies it stored (§8.1)."""
    return hashlib.blake2b(container, digest_size=32).digest()
