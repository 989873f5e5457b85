"""Requests with sealed files and version 5 bundles that carry them, for the import tests and the bench."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import crypto
from crypto.bundle_parts import PartWriter, part_name
from crypto.filestream import FileSealer
from crypto.manifest import manifest_entry
from tests.triage.helpers import TODAY, Server, make_request

REPLY_KEY = crypto.derive_reply_keypair("1" * 30, bytes(32)).public.to_b64()


@dataclass(frozen=True)
class SealedOnDisk:
    """One sealed file kept in a folder (as a server's storage would hold it), streamed from there."""

    blob_id: bytes
    path: Path
    manifest: dict[str, Any]

    def export(self) -> crypto.ExportBlob:
        def chunks() -> Iterator[bytes]:
            with self.path.open("rb") as handle:
                while piece := handle.read(1 << 20):
                    yield piece

        return crypto.ExportBlob(self.blob_id, self.path.stat().st_size, chunks)


def seal_file(folder: Path, size: int, *, name: str = "photo.jpg") -> SealedOnDisk:
    """Seal ``size`` random bytes chunk by chunk into ``folder`` (never whole in memory)."""
    blob_id = os.urandom(16)
    path = folder / blob_id.hex()
    sealer = FileSealer()
    with path.open("wb") as out:
        left = size
        while left:
            piece = os.urandom(min(left, 1 << 20))
            left -= len(piece)
            out.write(sealer.write(piece))
        rest, facts = sealer.finish()
        out.write(rest)
    return SealedOnDisk(blob_id, path, manifest_entry(facts, blob_id, name, "image/jpeg"))


def request_with(files: Sequence[SealedOnDisk], **fields: Any) -> dict[str, Any]:
    request = make_request(schema=2, kind="request", reply_key=REPLY_KEY, **fields)
    if files:
        request["files"] = [f.manifest for f in files]
    return request


def write_v5(
    server: Server, path: Path, entries: Sequence[crypto.BundleEntry], recipients: Sequence[crypto.PublicIdentity],
    blobs: Sequence[crypto.ExportBlob], *, part_size: int | None = None,
) -> Path:  # fmt: skip
    """A signed version 5 bundle, streamed to ``path`` (split into parts of ``part_size`` if given)."""
    server.sequence += 1
    kwargs = dict(count=len(entries), server_key=server.key, sequence=server.sequence, high_water=server.high_water,
                  created_on=TODAY, recipients=recipients, delivered=[], blobs=blobs)  # fmt: skip
    if part_size is None:
        with path.open("wb") as out:
            crypto.write_bundle(out, entries, **kwargs)  # type: ignore[arg-type]
        return path

    def open_part(number: int) -> BinaryIO:
        return open(part_name(str(path), number), "xb")

    writer = PartWriter(open_part, part_size)
    crypto.write_bundle(writer, entries, **kwargs)  # type: ignore[arg-type]
    writer.finish()
    return path
