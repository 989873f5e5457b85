"""The export bundle (server -> laptop): every envelope not yet acknowledged, signed by the server.

The reader verifies before it interprets anything: ``read_bundle`` hashes the whole file and checks the
signature and the signer first, and only then reports a structural fault (entry count, strictly
increasing serials, unique ids, no trailing bytes);
``Bundle.entries()`` scans it again and fails at the end if a single byte differs from the verified
scan, so a caller that commits only after the iterator finishes can never import a changed file.

Version 2 (written whenever the server passes its recipient set) signs that set into the header and
says, for each entry, which caseworker keys its envelope was sealed to: a recipient added in secret is
in the signed set for every laptop to see, and each laptop can say who could read each case. Version 1
(no recipient set) stays readable. docs/FORMAT.md §8.1.

Version 3 (written when the server also passes ``delivered``) adds, after the recipient set, the digests
(``crypto.reply_digest``) of the replies the server has stored: the server's signed word that a reply
reached it, so a laptop keeps every other reply queued and carries it again (invariant 18).

Version 4 (written only when needed) adds, after that, the keys the server no longer seals to but that
some exported envelope was sealed to (a caseworker key rotated out while requests sealed to it were
waiting): the signed set stays "who new requests are sealed to", so a laptop still stops on every change
of it, and every entry can still name all of its readers (issue 20, invariant 19).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from crypto.binary import U64_MAX, Reader, encode_day, u8, u32, u64
from crypto.envelope import MAX_PAYLOAD, MAX_RECIPIENTS, envelope_size
from crypto.errors import MalformedError, TamperedError, UnknownSignerError, UnsupportedVersionError
from crypto.keys import PublicIdentity, ServerKey, ServerPublicKey, check_name
from crypto.signed import SIGNATURE_SIZE, body_hasher, signed_message

MAGIC = b"ITKB"
VERSION = 3
FORMER_VERSION = 4  # version 3 plus the block of former recipients; written only when an entry needs it
READABLE_VERSIONS = (1, 2, 3, 4)
HEADER_SIZE = 4 + 1 + 32 + 8 + 8 + 4 + 4
ENTRY_HEAD_SIZE = 16 + 8 + 4
MAX_ENTRIES = 1_000_000
MAX_ENVELOPE = envelope_size(MAX_PAYLOAD, MAX_RECIPIENTS)
MAX_BUNDLE_RECIPIENTS = 64
FINGERPRINT_SIZE = 16
DIGEST_SIZE = 32
MAX_DELIVERED = 1_000_000


@dataclass(frozen=True)
class BundleEntry:
    entry_id: bytes
    serial: int
    envelope: bytes
    sealed_to: tuple[str, ...] = ()  # fingerprints of the keys the envelope was sealed to (version 2)


@dataclass(frozen=True)
class BundleHeader:
    server: ServerPublicKey
    sequence: int
    high_water: int
    created_on: datetime.date
    count: int
    recipients: tuple[PublicIdentity, ...] = ()  # the server's signed recipient set; empty in version 1
    version: int = 1
    # Version 3: BLAKE2b-32 of every reply container the server has stored (crypto.reply_digest), sorted.
    delivered: tuple[bytes, ...] = ()
    # Version 4: keys removed from the set that some entry's envelope was sealed to (they can still read it).
    former: tuple[PublicIdentity, ...] = ()


def _fingerprint_bytes(fingerprint: str) -> bytes:
    return bytes.fromhex(fingerprint.replace("-", ""))


def _fingerprint_text(raw: bytes) -> str:
    digits = raw.hex()
    return "-".join(digits[i : i + 4] for i in range(0, 32, 4))


def _check_recipient_set(recipients: Sequence[PublicIdentity]) -> dict[bytes, PublicIdentity]:
    """1 to 64 recipients, no key and no name twice: fingerprint bytes -> identity."""
    if not 1 <= len(recipients) <= MAX_BUNDLE_RECIPIENTS:
        raise MalformedError(f"a bundle names 1 to {MAX_BUNDLE_RECIPIENTS} recipients")
    by_fingerprint = {_fingerprint_bytes(r.fingerprint): r for r in recipients}
    if len(by_fingerprint) != len(recipients) or len({r.name for r in recipients}) != len(recipients):
        raise MalformedError("a bundle's recipient set names the same key or the same name twice")
    return by_fingerprint


def _check_sealed_to(sealed_to: Sequence[bytes], known: dict[bytes, PublicIdentity], envelope_head: bytes) -> None:
    """Each entry: 1-16 distinct recipients of the set, as many as its envelope's header says."""
    if not 1 <= len(sealed_to) <= MAX_RECIPIENTS or len(set(sealed_to)) != len(sealed_to):
        raise MalformedError("a bundle entry names 1 to 16 distinct recipients")
    if any(fingerprint not in known for fingerprint in sealed_to):
        raise MalformedError("a bundle entry names a recipient outside the bundle's recipient set")
    if len(envelope_head) < 6 or envelope_head[5] != len(sealed_to):
        raise MalformedError("a bundle entry names another number of recipients than its envelope holds")


def _check_former(
    former: Sequence[PublicIdentity], current: dict[bytes, PublicIdentity]
) -> dict[bytes, PublicIdentity]:
    """Version 4: 1 to 64 former recipients, no key or name twice among them, none in the current set."""
    if not 1 <= len(former) <= MAX_BUNDLE_RECIPIENTS:
        raise MalformedError(f"a version 4 bundle names 1 to {MAX_BUNDLE_RECIPIENTS} former recipients")
    by_fingerprint = {_fingerprint_bytes(r.fingerprint): r for r in former}
    if len(by_fingerprint) != len(former) or len({r.name for r in former}) != len(former):
        raise MalformedError("a bundle's former recipients name the same key or the same name twice")
    if any(fingerprint in current for fingerprint in by_fingerprint):
        raise MalformedError("a bundle names a key both as a recipient and as a former recipient")
    return by_fingerprint


def _recipients_block(recipients: Sequence[PublicIdentity]) -> bytes:
    parts = [u8(len(recipients))]
    for r in recipients:
        name = r.name.encode("utf-8")
        parts.append(r.box_public + r.sign_public + u8(len(name)) + name)
    return b"".join(parts)


def _delivered_block(delivered: Iterable[bytes]) -> bytes:
    ordered = sorted(set(delivered))
    if len(ordered) > MAX_DELIVERED or any(not isinstance(d, bytes) or len(d) != DIGEST_SIZE for d in ordered):
        raise MalformedError(f"a bundle confirms at most {MAX_DELIVERED} replies, each by a {DIGEST_SIZE}-byte digest")
    return u32(len(ordered)) + b"".join(ordered)


def write_bundle(
    out: BinaryIO,
    entries: Iterable[BundleEntry],
    *,
    count: int,
    server_key: ServerKey,
    sequence: int,
    high_water: int,
    created_on: datetime.date,
    recipients: Sequence[PublicIdentity] = (),
    delivered: Iterable[bytes] | None = None,
    former: Sequence[PublicIdentity] = (),
) -> None:
    """Stream a signed bundle of exactly ``count`` entries, given in strictly increasing serial order.

    With ``recipients`` (the server's current recipient set) it is version 2 and every entry must say
    in ``sealed_to`` which of them its envelope was sealed to; without, version 1 and no ``sealed_to``.
    With ``delivered`` too (the digests of the replies the server stored, in any order) it is version 3.
    With ``former`` (removed keys an entry was sealed to), version 4: ``sealed_to`` may name those too.
    """
    recipients, former = tuple(recipients), tuple(former)
    known = _check_recipient_set(recipients) if recipients else {}
    if (delivered is not None or former) and not recipients:
        raise MalformedError("a bundle confirms replies or names former recipients only with its recipient set")
    if former:
        known = {**known, **_check_former(former, known)}
        delivered = () if delivered is None else delivered
    confirmed = _delivered_block(delivered) if delivered is not None else b""
    version = (FORMER_VERSION if former else 3 if delivered is not None else 2) if recipients else 1
    if not 0 <= count <= MAX_ENTRIES:
        raise MalformedError(f"a bundle holds at most {MAX_ENTRIES} entries")
    if not 1 <= sequence <= U64_MAX or not 0 <= high_water <= U64_MAX:
        raise MalformedError("bundle sequence and high-water mark must be unsigned 64-bit numbers")
    hasher = body_hasher()

    def emit(chunk: bytes) -> None:
        hasher.update(chunk)
        out.write(chunk)

    emit(
        MAGIC + u8(version) + server_key.public.raw + u64(sequence) + u64(high_water)
        + encode_day(created_on) + u32(count) + (_recipients_block(recipients) if recipients else b"") + confirmed
        + (_recipients_block(former) if former else b"")
    )  # fmt: skip
    written, last_serial = 0, 0
    seen: set[bytes] = set()
    for entry in entries:
        _check_entry(entry.entry_id, entry.serial, len(entry.envelope), last_serial, high_water, seen)
        last_serial = entry.serial
        sealed_to = b""
        if recipients:
            fingerprints = [_fingerprint_bytes(f) for f in entry.sealed_to]
            _check_sealed_to(fingerprints, known, entry.envelope[:6])
            sealed_to = u8(len(fingerprints)) + b"".join(fingerprints)
        elif entry.sealed_to:
            raise MalformedError("an entry can name its recipients only in a bundle that names the recipient set")
        emit(entry.entry_id + u64(entry.serial) + sealed_to + u32(len(entry.envelope)))
        emit(entry.envelope)
        written += 1
    if written != count:
        raise MalformedError(f"the bundle was promised {count} entries but got {written}")
    out.write(server_key.sign(signed_message(hasher.digest())))


def _check_entry(
    entry_id: bytes, serial: int, length: int, last_serial: int, high_water: int, seen: set[bytes]
) -> None:
    if len(entry_id) != 16:
        raise MalformedError("an entry id is 16 bytes")
    if not last_serial < serial <= high_water:
        raise MalformedError("bundle entries must have increasing serials no higher than the high-water mark")
    if entry_id in seen:
        raise MalformedError("the bundle holds the same entry twice")
    seen.add(entry_id)
    if not 0 < length <= MAX_ENVELOPE:
        raise MalformedError("a bundle entry's envelope length is out of range")


class _Scan:
    """One sequential pass over a bundle file, hashing exactly the bytes it parses."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream, self.size = stream, size
        self.hasher = body_hasher()
        self.file_hash = hashlib.blake2b(digest_size=32)

    def read(self, n: int) -> bytes:
        chunk = self.stream.read(n)
        if len(chunk) != n:
            raise TamperedError("the bundle is truncated or changed while being read")
        self.hasher.update(chunk)
        self.file_hash.update(chunk)
        return chunk

    def header(self) -> tuple[ServerPublicKey, BundleHeader | MalformedError]:
        """The signer, and the header or the fault in it (raised only once the signature verifies)."""
        if self.size < HEADER_SIZE + SIGNATURE_SIZE:
            raise MalformedError("the file is too short to be an intake export bundle")
        reader = Reader(self.read(HEADER_SIZE), "the bundle header")
        if reader.take(4) != MAGIC:
            raise MalformedError("this is not an intake export bundle")
        version = reader.u8()
        if version not in READABLE_VERSIONS:
            raise UnsupportedVersionError("this bundle has a version this tool does not know")
        server = ServerPublicKey(reader.take(32))
        try:
            sequence, high_water, created_on, count = reader.u64(), reader.u64(), reader.day(), reader.u32()
            if sequence == 0 or count > MAX_ENTRIES:
                raise MalformedError("the bundle header is out of range")
            recipients = self.recipients() if version >= 2 else ()
            delivered = self.delivered() if version >= 3 else ()
            former = self.former(recipients) if version >= 4 else ()
        except MalformedError as fault:
            return server, fault
        return server, BundleHeader(server, sequence, high_water, created_on, count, recipients, version, delivered,
                                    former)  # fmt: skip

    def take(self, n: int) -> bytes:
        """Read ``n`` bytes of the body, or MalformedError if that would run into the signature."""
        if self.stream.tell() + n > self.size - SIGNATURE_SIZE:
            raise MalformedError("the bundle ends inside its recipient set or an entry")
        return self.read(n)

    def recipients(self) -> tuple[PublicIdentity, ...]:
        """Version 2: the signed recipient set, each name already in its normalised form (§5)."""
        recipients = self.identities()
        _check_recipient_set(recipients)
        return recipients

    def former(self, recipients: tuple[PublicIdentity, ...]) -> tuple[PublicIdentity, ...]:
        """Version 4: the former recipients, in the same layout, none of them in the current set."""
        former = self.identities()
        _check_former(former, {_fingerprint_bytes(r.fingerprint): r for r in recipients})
        return former

    def identities(self) -> tuple[PublicIdentity, ...]:
        found = []
        for _ in range(self.take(1)[0]):
            keys = Reader(self.take(65), "a bundle recipient")
            box_public, sign_public, name_length = keys.take(32), keys.take(32), keys.u8()
            name = Reader(self.take(name_length), "a recipient name").utf8(name_length)
            if check_name(name) != name:
                raise MalformedError("a bundle recipient's name is not in its normalised form")
            found.append(PublicIdentity(name, box_public, sign_public))
        return tuple(found)

    def delivered(self) -> tuple[bytes, ...]:
        """Version 3: the digests of the replies the server stored, strictly increasing."""
        number = Reader(self.take(4), "the confirmed replies").u32()
        if number > MAX_DELIVERED:
            raise MalformedError(f"a bundle confirms at most {MAX_DELIVERED} replies")
        block = self.take(number * DIGEST_SIZE)
        digests = tuple(block[i : i + DIGEST_SIZE] for i in range(0, len(block), DIGEST_SIZE))
        if any(a >= b for a, b in itertools.pairwise(digests)):
            raise MalformedError("a bundle's confirmed replies are not in strictly increasing order")
        return digests

    def entries(self, header: BundleHeader) -> Iterator[BundleEntry]:
        body_end = self.size - SIGNATURE_SIZE
        last_serial = 0
        seen: set[bytes] = set()
        known = {_fingerprint_bytes(r.fingerprint): r for r in header.recipients + header.former}
        for _ in range(header.count):
            if self.stream.tell() + ENTRY_HEAD_SIZE > body_end:
                raise MalformedError("the bundle holds fewer entries than its header says")
            head = Reader(self.take(16 + 8), "a bundle entry")
            entry_id, serial = head.take(16), head.u64()
            sealed_to: list[bytes] = []
            if header.version >= 2:
                sealed_to = [self.take(FINGERPRINT_SIZE) for _ in range(self.take(1)[0])]
            length = Reader(self.take(4), "a bundle entry").u32()
            _check_entry(entry_id, serial, length, last_serial, header.high_water, seen)
            if self.stream.tell() + length > body_end:
                raise MalformedError("a bundle entry runs past the end of the bundle")
            last_serial = serial
            envelope = self.read(length)
            if header.version >= 2:
                _check_sealed_to(sealed_to, known, envelope[:6])
            yield BundleEntry(entry_id, serial, envelope, tuple(_fingerprint_text(f) for f in sealed_to))
        if self.stream.tell() != body_end:
            raise MalformedError("the bundle has bytes after its last entry")

    def drain(self) -> None:
        """Hash whatever is left before the signature, after a structural fault stopped the parse."""
        left = self.size - SIGNATURE_SIZE - self.stream.tell()
        while left > 0:
            left -= len(self.read(min(left, 1 << 20)))

    def signature(self) -> bytes:
        signature = self.stream.read(SIGNATURE_SIZE)
        if len(signature) != SIGNATURE_SIZE:
            raise TamperedError("the bundle is truncated")
        self.file_hash.update(signature)
        return signature


class Bundle:
    """A bundle whose signature and structure were verified; see ``entries()``."""

    def __init__(
        self,
        open_stream: Callable[[], BinaryIO],
        size: int,
        header: BundleHeader,
        body_hash: bytes,
        digest: bytes,
    ) -> None:
        self._open = open_stream
        self._size = size
        self.header = header
        self._body_hash = body_hash
        self.digest = digest

    def entries(self) -> Iterator[BundleEntry]:
        """Stream the entries again; raises TamperedError at the end if the file changed since."""
        with self._open() as stream:
            scan = _Scan(stream, self._size)
            if scan.header()[1] != self.header:
                raise TamperedError("the bundle changed after it was verified")
            try:
                yield from scan.entries(self.header)
            except MalformedError:
                raise TamperedError("the bundle changed after it was verified") from None
            if not hmac.compare_digest(scan.hasher.digest(), self._body_hash):
                raise TamperedError("the bundle changed after it was verified")


def read_bundle(source: bytes | os.PathLike[str] | str, *, expected_server: ServerPublicKey | None) -> Bundle:
    """Verify a bundle. UnknownSignerError if it is validly signed by a key other than ``expected_server``."""
    if isinstance(source, bytes):
        data = source

        def open_stream() -> BinaryIO:
            return io.BytesIO(data)

        size = len(data)
    else:
        path = os.fspath(source)

        def open_stream() -> BinaryIO:
            return open(path, "rb")

        size = os.path.getsize(path)
    with open_stream() as stream:
        scan = _Scan(stream, size)
        server, header = scan.header()
        # Structure is parsed while hashing, but a fault is raised only after the signature and the
        # signer check: nothing from an unverified or untrusted file is interpreted.
        fault: MalformedError | None = header if isinstance(header, MalformedError) else None
        if isinstance(header, BundleHeader):
            try:
                for _ in scan.entries(header):
                    pass
            except MalformedError as error:
                fault = error
        scan.drain()
        body_hash = scan.hasher.digest()
        signature = scan.signature()
    server.verify(signed_message(body_hash), signature)
    if expected_server is not None and server != expected_server:
        raise UnknownSignerError("the bundle is signed by a server key you have not pinned", server)
    if fault is not None:
        raise fault
    assert isinstance(header, BundleHeader)
    return Bundle(open_stream, size, header, body_hash, scan.file_hash.digest())
