"""A bundle split into parts, for USB sticks formatted FAT32 (at most 4 GiB - 1 byte per file).

docs/FORMAT.md §8.1, "Parts". The bundle's bytes are cut into slices of ``part_size`` bytes. The first
slice is the file ``FILE`` itself (it starts with ``ITKB`` like any bundle); slice k (k = 2, 3, ...) is the
file ``FILE.partk``, which starts with a 29-byte part header::

    "ITKP" | version 0x01 | k u32 | n u32 (how many parts) | tag[16] | the slice

where ``tag`` is BLAKE2b-16 of the bundle's first 45 bytes (magic, version, server key, sequence): the
export the part belongs to. The part headers are not signed and need not be: the signature covers the
slices joined in order, so a part that is missing, extra, cut short or swapped never verifies. The headers
only let the reader say *which* part is wrong, in a sentence, before it hashes gigabytes.

Nothing here opens a file for writing: ``PartWriter`` asks its caller for each part's file object.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from typing import BinaryIO

from crypto.binary import Reader, u8, u32
from crypto.errors import MalformedError


class PartsError(MalformedError):
    """A split bundle whose parts do not fit together; ``template % values`` is the sentence (translatable)."""

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(template % values)
        self.template, self.values = template, values


PART_MAGIC = b"ITKP"
PART_VERSION = 1
PART_HEADER_SIZE = 4 + 1 + 4 + 4 + 16
TAG_SOURCE = 45  # magic, version, server key, sequence: which export a part belongs to
FAT32_MAX_FILE = (1 << 32) - 1
DEFAULT_PART_SIZE = FAT32_MAX_FILE - PART_HEADER_SIZE  # every file of a split bundle fits FAT32
MAX_PARTS = 10_000
_COUNT_OFFSET = 9


def part_name(path: str, number: int) -> str:
    return path if number == 1 else f"{path}.part{number}"


def part_tag(first_bytes: bytes) -> bytes:
    return hashlib.blake2b(first_bytes[:TAG_SOURCE], digest_size=16).digest()


class PartWriter:
    """A write-only stream that cuts what it is given into parts of ``part_size`` bytes.

    ``open_part(k)`` returns the file object for part k (1 = FILE itself); they stay open until
    ``finish()``, which writes the number of parts into every part header, flushes and fsyncs them.
    """

    def __init__(self, open_part: Callable[[int], BinaryIO], part_size: int = DEFAULT_PART_SIZE) -> None:
        if part_size < TAG_SOURCE:
            raise ValueError(f"a part holds at least {TAG_SOURCE} bytes")
        self._open_part = open_part
        self._part_size = part_size
        self._files: list[BinaryIO] = [open_part(1)]
        self._left = part_size
        self._first = bytearray()

    @property
    def parts(self) -> int:
        return len(self._files)

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        if len(self._first) < TAG_SOURCE:
            self._first += view[: TAG_SOURCE - len(self._first)]
        while len(view):
            if self._left == 0:
                self._next_part()
            take = min(self._left, len(view))
            self._files[-1].write(view[:take])
            self._left -= take
            view = view[take:]
        return len(data)

    def _next_part(self) -> None:
        number = len(self._files) + 1
        if number > MAX_PARTS:
            raise MalformedError(f"a bundle is split into at most {MAX_PARTS} parts")
        handle = self._open_part(number)
        handle.write(PART_MAGIC + u8(PART_VERSION) + u32(number) + u32(0) + part_tag(bytes(self._first)))
        self._files.append(handle)
        self._left = self._part_size

    def flush(self) -> None:
        self._files[-1].flush()

    def finish(self) -> int:
        """Write the part count into every part header, fsync and close every part; the number of parts."""
        count = len(self._files)
        for number, handle in enumerate(self._files, start=1):
            if number > 1:
                handle.seek(_COUNT_OFFSET)
                handle.write(u32(count))
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        return count

    def abort(self) -> None:
        for handle in self._files:
            handle.close()


class _Joined:
    """The slices of the parts, read as one stream (``read``, ``tell``, a context manager)."""

    def __init__(self, slices: list[tuple[str, int, int]]) -> None:
        self._slices = slices  # (path, offset of the slice in its file, length)
        self._index = 0
        self._position = 0
        self._within = 0
        self._handle: BinaryIO | None = None

    def __enter__(self) -> _Joined:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def tell(self) -> int:
        return self._position

    def read(self, n: int) -> bytes:
        pieces = []
        while n > 0 and self._index < len(self._slices):
            path, offset, length = self._slices[self._index]
            if self._handle is None:
                self._handle = open(path, "rb")  # noqa: SIM115 - closed when the slice is done or on close()
                self._handle.seek(offset)
            piece = self._handle.read(min(n, length - self._within))
            if not piece:  # the file shrank since it was measured: the caller sees a short read
                break
            pieces.append(piece)
            n -= len(piece)
            self._within += len(piece)
            self._position += len(piece)
            if self._within == length:
                self.close()
                self._index, self._within = self._index + 1, 0
        return b"".join(pieces)


def _found_parts(path: str) -> list[int]:
    folder, base = os.path.split(path)
    pattern = re.compile(re.escape(base) + r"\.part([0-9]{1,6})")
    numbers = []
    for name in os.listdir(folder or "."):
        match = pattern.fullmatch(name)
        if match:
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def open_parts(path: str) -> tuple[Callable[[], BinaryIO], int]:
    """An opener for the bundle at ``path`` (joined with its parts, if any) and its size in bytes.

    MalformedError, with a sentence naming the part, for a part missing, extra, mixed up, from another
    export, or shorter than the others; a single file is returned as it is.
    """
    size = os.path.getsize(path)
    found = _found_parts(path)
    if not found:
        return (lambda: open(path, "rb")), size
    name = os.path.basename(path)
    expected = list(range(2, len(found) + 2))
    for want, have in zip(expected, found, strict=True):
        if want != have:
            raise PartsError("%(name)s.part%(want)d is missing (but %(name)s.part%(have)d is there): copy every part "
                             "of the bundle into the same folder.", name=name, want=want, have=have)  # fmt: skip
    with open(path, "rb") as first:
        tag = part_tag(first.read(TAG_SOURCE))
    count = None
    lengths = {}
    for number in found:  # the headers first: a wrong part is named before any length is judged
        part = part_name(path, number)
        lengths[number] = os.path.getsize(part)
        with open(part, "rb") as handle:
            head = Reader(handle.read(PART_HEADER_SIZE), f"{name}.part{number}")
        try:
            magic, version, said, parts, its_tag = head.take(4), head.u8(), head.u32(), head.u32(), head.take(16)
        except MalformedError:
            raise PartsError("%(name)s.part%(number)d is not a part of a bundle.", name=name, number=number) from None
        if magic != PART_MAGIC or version != PART_VERSION:
            raise PartsError("%(name)s.part%(number)d is not a part of a bundle.", name=name, number=number)
        if its_tag != tag:
            raise PartsError("%(name)s.part%(number)d belongs to another export than %(name)s: copy the parts of "
                             "one export only.", name=name, number=number)  # fmt: skip
        if said != number:
            raise PartsError("%(name)s.part%(number)d holds part %(said)d of the bundle: the parts were renamed or "
                             "mixed up.", name=name, number=number, said=said)  # fmt: skip
        if count is None:
            count = parts
        if parts != count:
            raise PartsError("%(name)s.part%(number)d says the bundle has %(parts)d parts, another part says "
                             "%(count)d.", name=name, number=number, parts=parts, count=count)  # fmt: skip
    assert count is not None
    if count > len(found) + 1:
        raise PartsError("%(name)s.part%(number)d is missing: the bundle has %(count)d parts.", name=name,
                         number=len(found) + 2, count=count)  # fmt: skip
    if count < len(found) + 1:
        raise PartsError("%(name)s.part%(number)d is not part of this bundle (it has %(count)d parts): move it "
                         "away and import again.", name=name, number=count + 1, count=count)  # fmt: skip
    slices = [(path, 0, size)]
    total = size
    for number in found:
        data = lengths[number] - PART_HEADER_SIZE
        if number < count and data != size:
            raise PartsError("%(name)s.part%(number)d is shorter or longer than %(name)s: its copy did not finish.",
                             name=name, number=number)  # fmt: skip
        slices.append((part_name(path, number), PART_HEADER_SIZE, data))
        total += data

    def open_joined() -> BinaryIO:
        return _Joined(list(slices))  # type: ignore[return-value]

    return open_joined, total
