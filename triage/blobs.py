"""The laptop's blob store: each imported file kept sealed exactly as the server stored it.

CONTRACTS §4 (owner: the bundle helper; this is the minimal module with that API, for the laptop's
attachment views until the import side lands). A blob is the ciphertext of ``crypto.filestream``; its
key lives only in the manifest inside its envelope, which the case store keeps encrypted, so nothing
here is readable alone. Root: a ``blobs`` folder beside the case store.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

BLOB_ID_BYTES = 16


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, blob_id: bytes) -> Path:
        if len(blob_id) != BLOB_ID_BYTES:
            raise ValueError("a blob id is 16 bytes")
        return self.root / blob_id.hex()

    def has(self, blob_id: bytes) -> bool:
        return self.path(blob_id).is_file()

    def put(self, blob_id: bytes, chunks: Iterable[bytes]) -> None:
        """Write atomically: a temporary file in the same folder, fsync, rename."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self.path(blob_id)
        handle, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def open(self, blob_id: bytes) -> BinaryIO:
        return self.path(blob_id).open("rb")

    def delete(self, blob_id: bytes) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(blob_id).unlink()
