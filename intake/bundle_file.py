"""Writing an export bundle to a file on a USB stick: streamed, split into FAT32-sized parts, atomic.

The bundle goes to ``FILE.partial`` (and ``FILE.part2.partial``, ... once it passes ``part_size`` bytes,
crypto.bundle_parts, FORMAT.md §8.1 "Parts"); only when it is complete and fsynced are the parts renamed
to ``FILE``, ``FILE.part2``, ..., the first part last, so a reader never finds a ``FILE`` without its
parts. Parts of an older export under the same name would be refused by the reader as "another export":
they are refused here too, or removed with ``overwrite``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

from crypto.bundle_parts import DEFAULT_PART_SIZE, PartWriter, part_name

T = TypeVar("T")
PARTIAL = ".partial"


class BundleFileError(Exception):
    """The bundle cannot be written there; the message says what to do."""


def _parts_of(out: Path) -> list[Path]:
    pattern = re.compile(re.escape(out.name) + r"\.part[0-9]+(\.partial)?")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name))


def check_target(out: Path, overwrite: bool) -> None:
    """Refuse before anything is spent: FILE exists, an unfinished export, or old parts under that name."""
    if out.exists() and not overwrite:
        raise BundleFileError(f"{out} exists already; choose another name, or add --overwrite to replace it.")
    partial = out.with_name(out.name + PARTIAL)
    leftovers = [p for p in _parts_of(out) if p.name.endswith(PARTIAL)] + ([partial] if partial.exists() else [])
    if leftovers:
        raise BundleFileError(f"{leftovers[0]} is left over from an export that did not finish; delete it and "
                              "export again.")  # fmt: skip
    old_parts = _parts_of(out)
    if old_parts and not overwrite:
        raise BundleFileError(f"{old_parts[0]} is part of an older export; move it away, or add --overwrite to "
                              "replace it.")  # fmt: skip


def write_bundle_file(
    out: Path, write: Callable[[BinaryIO], T], *, overwrite: bool = False, part_size: int | None = None
) -> tuple[T, int]:
    """Run ``write(stream)`` into FILE's parts; the result and the number of parts. Nothing is left on failure."""
    check_target(out, overwrite)
    made: list[Path] = []

    def open_part(number: int) -> BinaryIO:
        path = Path(part_name(str(out), number) + PARTIAL)
        handle = open(path, "xb")  # noqa: SIM115 - PartWriter closes it
        made.append(path)
        return handle

    writer = PartWriter(open_part, part_size or DEFAULT_PART_SIZE)
    try:
        result = write(writer)  # type: ignore[arg-type]
        parts = writer.finish()
        if overwrite:
            for old in _parts_of(out):
                if not old.name.endswith(PARTIAL):  # an older export's part, not one of ours
                    old.unlink()
        for number in range(parts, 0, -1):  # FILE last: never a FILE whose parts are not there yet
            os.replace(made[number - 1], part_name(str(out), number))
    except BaseException:
        writer.abort()
        for path in made:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    return result, parts
