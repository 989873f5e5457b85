"""The laptop's sealed files: each blob exactly as the server stored it, one file per blob (CONTRACTS §4).

Layout::

    HOME/blobs/          mode 0700, next to the case store
      ab/abcd….blob      one sealed file (crypto.filestream, FORMAT.md §13), named by its 16-byte id in hex

A blob stays sealed: its key lives only in the manifest inside its envelope, which the store keeps
encrypted, so this folder alone reveals only how many files there are and their PADMÉ size classes.
``put`` is atomic (a temporary file in the same folder, fsync, rename): a blob is either all there or
not there, never half written; a temporary file left by a crash is removed by ``clean_partial``.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from triage.errors import HomeError

FOLDER = "blobs"
SUFFIX = ".blob"
_PARTIAL_PREFIX = ".partial-"
_HEX = re.compile(r"[0-9a-f]{32}")


def _hex(blob_id: bytes) -> str:
    if not isinstance(blob_id, bytes) or len(blob_id) != 16:
        raise HomeError("A file id is 16 bytes.")
    return blob_id.hex()


def _private_folder(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # FAT has no modes
        path.chmod(0o700)


class BlobStore:
    """Sealed blobs in ``root`` (the ``blobs`` folder inside the home)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def beside(cls, store_path: Path) -> BlobStore:
        """The blob store of the case store at ``store_path``: a ``blobs`` folder in the same home."""
        return cls(Path(store_path).parent / FOLDER)

    def path(self, blob_id: bytes) -> Path:
        name = _hex(blob_id)
        return self.root / name[:2] / (name + SUFFIX)

    def has(self, blob_id: bytes) -> bool:
        return self.path(blob_id).is_file()

    def size(self, blob_id: bytes) -> int:
        return self.path(blob_id).stat().st_size

    def put(self, blob_id: bytes, chunks: Iterable[bytes]) -> None:
        """Write the blob from ``chunks`` atomically; if ``chunks`` raises, nothing is left behind.

        An existing blob of that id is replaced (the bytes of one id are always the same sealed file:
        the importer checks them against the manifest before they get here).
        """
        target = self.path(blob_id)
        _private_folder(self.root)
        _private_folder(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_PARTIAL_PREFIX)  # 0600 before a byte is written
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _sync_folder(target.parent)

    def open(self, blob_id: bytes) -> BinaryIO:
        try:
            return open(self.path(blob_id), "rb")
        except FileNotFoundError:
            raise HomeError("This file was not imported: it is not in the case store's blobs folder.") from None

    def delete(self, blob_id: bytes) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(blob_id).unlink()

    def ids(self) -> Iterator[bytes]:
        """Every blob id held (for checks and cleaning; the order is the folder's)."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir():
                for item in folder.iterdir():
                    stem = item.name[: -len(SUFFIX)] if item.name.endswith(SUFFIX) else ""
                    if _HEX.fullmatch(stem):
                        yield bytes.fromhex(stem)

    def clean_partial(self) -> int:
        """Remove temporary files an interrupted ``put`` left (a crash or power loss); how many."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for folder in self.root.iterdir():
            if folder.is_dir():
                for item in folder.iterdir():
                    if item.name.startswith(_PARTIAL_PREFIX):
                        with contextlib.suppress(OSError):
                            item.unlink()
                            removed += 1
        return removed


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the file system allows (not on Windows or some FAT drivers)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
