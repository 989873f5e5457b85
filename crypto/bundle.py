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

Version 5 (written when the server passes questionnaires or blobs; ``crypto.bundle_v5``) adds the
questionnaire versions the envelopes may name and, after the entries, the blob section: every sealed file
the envelopes' manifests name, all under the one signature. ``Bundle.blobs()`` streams them like
``entries()``: a second pass that holds one chunk at a time and fails at the end if any byte differs.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from crypto import bundle_parts
from crypto import bundle_v5 as v5
from crypto.binary import Reader
from crypto.bundle_v5 import BLOB_VERSION
from crypto.bundle_v5 import ExportBlob as ExportBlob  # the contract names it here (CONTRACTS §3)
from crypto.envelope import MAX_PAYLOAD, MAX_RECIPIENTS, envelope_size
from crypto.errors import MalformedError, TamperedError, UnknownSignerError, UnsupportedVersionError
from crypto.keys import PublicIdentity, ServerPublicKey, check_name
from crypto.signed import SIGNATURE_SIZE, body_hasher, signed_message

MAGIC = b"ITKB"
VERSION = 3
FORMER_VERSION = 4  # version 3 plus the block of former recipients; written only when an entry needs it
READABLE_VERSIONS = (1, 2, 3, 4, 5)
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
    # Version 5: the canonical bytes of every questionnaire version the envelopes may name, sorted by SHA-256.
    questionnaires: tuple[bytes, ...] = ()


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
    former: Sequence[PublicIdentity], current: dict[bytes, PublicIdentity], *, least: int = 1
) -> dict[bytes, PublicIdentity]:
    """Version 4: 1 to 64 former recipients (version 5: 0 to 64), no key or name twice, none in the current set."""
    if not least <= len(former) <= MAX_BUNDLE_RECIPIENTS:
        raise MalformedError(f"a version 4 bundle names 1 to {MAX_BUNDLE_RECIPIENTS} former recipients")
    by_fingerprint = {_fingerprint_bytes(r.fingerprint): r for r in former}
    if len(by_fingerprint) != len(former) or len({r.name for r in former}) != len(former):
        raise MalformedError("a bundle's former recipients name the same key or the same name twice")
    if any(fingerprint in current for fingerprint in by_fingerprint):
        raise MalformedError("a bundle names a key both as a recipient and as a former recipient")
    return by_fingerprint


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
        # Versions 1-4 are named by BLAKE2b-32 of the whole file; version 5 by that of its body hash and
        # signature (FORMAT.md §8.1), which names the same bytes without hashing gigabytes of files twice.
        self.file_hash: hashlib.blake2b | None = hashlib.blake2b(digest_size=32)

    def read(self, n: int) -> bytes:
        chunk = self.stream.read(n)
        if len(chunk) != n:
            raise TamperedError("the bundle is truncated or changed while being read")
        self.hasher.update(chunk)
        if self.file_hash is not None:
            self.file_hash.update(chunk)
        return chunk

    def digest(self, body_hash: bytes, signature: bytes) -> bytes:
        if self.file_hash is not None:
            return self.file_hash.digest()
        return hashlib.blake2b(body_hash + signature, digest_size=32).digest()

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
        if version >= BLOB_VERSION:
            self.file_hash = None
        server = ServerPublicKey(reader.take(32))
        try:
            sequence, high_water, created_on, count = reader.u64(), reader.u64(), reader.day(), reader.u32()
            if sequence == 0 or count > MAX_ENTRIES:
                raise MalformedError("the bundle header is out of range")
            recipients = self.recipients() if version >= 2 else ()
            delivered = self.delivered() if version >= 3 else ()
            former = self.former(recipients, least=0 if version >= BLOB_VERSION else 1) if version >= 4 else ()
            questionnaires = self.questionnaires() if version >= BLOB_VERSION else ()
        except MalformedError as fault:
            return server, fault
        return server, BundleHeader(server, sequence, high_water, created_on, count, recipients, version, delivered,
                                    former, questionnaires)  # fmt: skip

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

    def former(self, recipients: tuple[PublicIdentity, ...], *, least: int) -> tuple[PublicIdentity, ...]:
        """Version 4 and 5: the former recipients, in the same layout, none of them in the current set."""
        former = self.identities()
        _check_former(former, {_fingerprint_bytes(r.fingerprint): r for r in recipients}, least=least)
        return former

    def questionnaires(self) -> tuple[bytes, ...]:
        """Version 5: the canonical questionnaire texts, each bounded, strictly increasing by SHA-256."""
        number = Reader(self.take(2), "the questionnaire block").u16()
        if number > v5.MAX_QUESTIONNAIRES:
            raise MalformedError(f"a bundle carries at most {v5.MAX_QUESTIONNAIRES} questionnaire versions")
        texts = []
        for _ in range(number):
            length = Reader(self.take(4), "a bundle questionnaire").u32()
            if not 1 <= length <= v5.MAX_QUESTIONNAIRE_BYTES:
                raise MalformedError(f"a bundle's questionnaire is 1 to {v5.MAX_QUESTIONNAIRE_BYTES} bytes")
            text = self.take(length)
            v5.check_questionnaire_bytes(text)
            texts.append(text)
        found = tuple(texts)
        v5.check_questionnaire_order(found)
        return found

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
        if header.version < BLOB_VERSION and self.stream.tell() != body_end:
            raise MalformedError("the bundle has bytes after its last entry")

    def blob_section(self) -> Iterator[tuple[bytes, int, Iterator[bytes]]]:
        """Version 5, after the entries: each blob's id, size and bytes (in chunks); nothing after the last."""
        body_end = self.size - SIGNATURE_SIZE
        number = Reader(self.take(4), "the blob section").u32()
        if number > v5.MAX_BLOBS:
            raise MalformedError(f"a bundle carries at most {v5.MAX_BLOBS} blobs")
        previous: bytes | None = None
        for _ in range(number):
            head = Reader(self.take(v5.BLOB_HEAD_SIZE), "a bundle blob")
            blob_id, size = head.take(v5.BLOB_ID_SIZE), head.u64()
            v5.check_blob_head(blob_id, size, previous)
            if self.stream.tell() + size > body_end:
                raise MalformedError("a bundle blob runs past the end of the bundle")
            previous = blob_id
            chunks = self._chunks(size)
            yield blob_id, size, chunks
            for _ in chunks:  # whatever the caller did not read is still hashed, and in order
                pass
        if self.stream.tell() != body_end:
            raise MalformedError("the bundle has bytes after its last blob")

    def _chunks(self, size: int) -> Iterator[bytes]:
        left = size
        while left:
            piece = self.read(min(left, v5.COPY_CHUNK))
            left -= len(piece)
            yield piece

    def drain(self) -> None:
        """Hash whatever is left before the signature, after a structural fault stopped the parse."""
        left = self.size - SIGNATURE_SIZE - self.stream.tell()
        while left > 0:
            left -= len(self.read(min(left, 1 << 20)))

    def signature(self) -> bytes:
        signature = self.stream.read(SIGNATURE_SIZE)
        if len(signature) != SIGNATURE_SIZE:
            raise TamperedError("the bundle is truncated")
        if self.file_hash is not None:
            self.file_hash.update(signature)
        return signature


class Bundle:
    """A bundle whose signature and structure were verified; see ``entries()`` and ``blobs()``."""

    def __init__(
        self,
        open_stream: Callable[[], BinaryIO],
        size: int,
        header: BundleHeader,
        body_hash: bytes,
        digest: bytes,
        entries_hash: bytes | None = None,
        blob_count: int = 0,
        blob_bytes: int = 0,
    ) -> None:
        self._open = open_stream
        self._size = size
        self.header = header
        self._body_hash = body_hash
        # Version 5: the body hash's state at the end of the entries, so entries() need not re-read the blobs.
        self._entries_hash = entries_hash
        self.digest = digest
        self.blob_count = blob_count  # version 5: how many blobs, and their bytes in all (for progress)
        self.blob_bytes = blob_bytes

    def _rescan(self, stream: BinaryIO) -> _Scan:
        scan = _Scan(stream, self._size)
        if scan.header()[1] != self.header:
            raise TamperedError("the bundle changed after it was verified")
        return scan

    def _check(self, digest: bytes, expected: bytes) -> None:
        if not hmac.compare_digest(digest, expected):
            raise TamperedError("the bundle changed after it was verified")

    def entries(self) -> Iterator[BundleEntry]:
        """Stream the entries again; raises TamperedError at the end if the file changed since."""
        with self._open() as stream:
            scan = self._rescan(stream)
            try:
                yield from scan.entries(self.header)
            except MalformedError:
                raise TamperedError("the bundle changed after it was verified") from None
            self._check(scan.hasher.digest(), self._entries_hash or self._body_hash)

    def blobs(self) -> Iterator[tuple[bytes, int, Iterator[bytes]]]:
        """Version 5: stream each blob as ``(blob_id, size, chunks)``, at most 1 MiB of it in memory at once.

        Each blob's chunks must be read (or left) before the next blob is asked for. The whole file is
        hashed again on the way: TamperedError at the end (or at the first structural difference) if any
        byte differs from the verified file, so a caller keeps what it stored only once this finishes.
        """
        if self.header.version < BLOB_VERSION:
            return
        with self._open() as stream:
            scan = self._rescan(stream)
            try:
                for _ in scan.entries(self.header):
                    pass
                self._check(scan.hasher.copy().digest(), self._entries_hash or b"")
                yield from scan.blob_section()
            except MalformedError:
                raise TamperedError("the bundle changed after it was verified") from None
            self._check(scan.hasher.digest(), self._body_hash)


def _source(source: bytes | os.PathLike[str] | str) -> tuple[Callable[[], BinaryIO], int]:
    if isinstance(source, bytes):
        data = source

        def open_bytes() -> BinaryIO:
            return io.BytesIO(data)

        return open_bytes, len(data)
    return bundle_parts.open_parts(os.fspath(source))


def read_bundle(source: bytes | os.PathLike[str] | str, *, expected_server: ServerPublicKey | None) -> Bundle:
    """Verify a bundle. UnknownSignerError if it is validly signed by a key other than ``expected_server``.

    A path may be the first file of a bundle split into parts (``crypto.bundle_parts``): the parts are read
    together as one stream, and a missing, extra or mixed-up part is refused with a sentence naming it.
    """
    open_stream, size = _source(source)
    entries_hash: bytes | None = None
    blob_count = blob_bytes = 0
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
                if header.version >= BLOB_VERSION:
                    entries_hash = scan.hasher.copy().digest()
                    for _, blob_size, _ in scan.blob_section():
                        blob_count, blob_bytes = blob_count + 1, blob_bytes + blob_size
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
    return Bundle(open_stream, size, header, body_hash, scan.digest(body_hash, signature), entries_hash,
                  blob_count, blob_bytes)  # fmt: skip
