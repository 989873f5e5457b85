"""A bundle over 4 GiB at its real size (issue 24): the default parts fit FAT32, and the joined stream finds every
byte across the 4 GiB edge. No 4 GiB is written: the writer's files only count what they are given, and the
reader's parts are sparse files. The other part tests (tests/crypto/test_bundle_v5.py,
tests/triage/test_import_files.py) run the same code on small parts, signature and import included."""

from __future__ import annotations

import os
from pathlib import Path

from crypto.binary import u8, u32
from crypto.bundle_parts import (
    DEFAULT_PART_SIZE,
    FAT32_MAX_FILE,
    PART_HEADER_SIZE,
    PART_MAGIC,
    PART_VERSION,
    TAG_SOURCE,
    PartWriter,
    open_parts,
    part_tag,
)

EXTRA = 3 << 20  # what the bundle holds past the first part


class _Counting:
    """A part file that keeps its first bytes and counts the rest (no disk)."""

    def __init__(self) -> None:
        self.size = 0
        self.head = bytearray()

    def write(self, data: bytes | memoryview) -> int:
        if len(self.head) < 64:
            self.head += bytes(data[: 64 - len(self.head)])
        self.size += len(data)
        return len(data)

    def close(self) -> None:
        pass


def test_a_bundle_over_4_gib_is_cut_into_parts_that_each_fit_fat32() -> None:
    files: dict[int, _Counting] = {}

    def open_part(number: int) -> _Counting:
        files[number] = _Counting()
        return files[number]

    writer = PartWriter(open_part)  # type: ignore[arg-type]
    first = b"ITKB" + bytes(range(TAG_SOURCE))  # stands in for a bundle's magic, version, key and sequence
    writer.write(first)
    zeros = memoryview(bytes(64 << 20))
    left = DEFAULT_PART_SIZE + EXTRA - len(first)
    while left:
        left -= writer.write(zeros[: min(left, len(zeros))])  # type: ignore[arg-type]  # a view, as the writer takes
    # Then there are two parts: FILE holds exactly a part's worth, FILE.part2 a header and the rest; both fit
    assert writer.parts == 2 and sorted(files) == [1, 2]
    assert files[1].size == DEFAULT_PART_SIZE <= FAT32_MAX_FILE
    assert files[2].size == PART_HEADER_SIZE + EXTRA <= FAT32_MAX_FILE
    assert DEFAULT_PART_SIZE + PART_HEADER_SIZE == FAT32_MAX_FILE == 4 * 1024**3 - 1
    head = bytes(files[2].head[:PART_HEADER_SIZE])
    assert head == PART_MAGIC + u8(PART_VERSION) + u32(2) + u32(0) + part_tag(first)  # its count is set at finish


def test_the_joined_parts_of_a_bundle_over_4_gib_read_every_byte_across_the_edge(tmp_path: Path) -> None:
    first = b"ITKB" + os.urandom(TAG_SOURCE)
    path = tmp_path / "b.evb"
    with path.open("wb") as one:  # sparse: 4 GiB of holes, a few real bytes at each end
        one.write(first)
        one.truncate(DEFAULT_PART_SIZE)
        one.seek(DEFAULT_PART_SIZE - 8)
        one.write(b"end-of-1")
    tail = b"start-of-2" + bytes(EXTRA - 10)
    with (tmp_path / "b.evb.part2").open("wb") as two:
        two.write(PART_MAGIC + u8(PART_VERSION) + u32(2) + u32(2) + part_tag(first) + tail)
    opener, total = open_parts(str(path))
    assert total == DEFAULT_PART_SIZE + EXTRA > 4 * 1024**3
    with opener() as joined:
        assert joined.read(len(first)) == first
        joined.seek(DEFAULT_PART_SIZE - 8)
        assert joined.read(18) == b"end-of-1start-of-2"
        assert joined.tell() == DEFAULT_PART_SIZE + 10
        joined.seek(total - 4)
        assert joined.read(100) == bytes(4)  # the end, and nothing after it
