"""Importing the sealed files a bundle carries (bundle version 5): checked against their manifests, kept sealed.

The importer opens every new envelope anyway (triage.importer); each manifest it finds (crypto.manifest)
names the blobs its case needs, with their stored size and SHA-256. This module streams the bundle's
blob section once more (``Bundle.blobs()``, which re-verifies every byte and fails at the end if the file
changed) and keeps, in ``triage.blobs.BlobStore``, exactly the blobs some new envelope names, each only if
its size and SHA-256 are its manifest's. A blob no envelope of this bundle names is not kept.

All or nothing with the envelopes: ``import_blobs`` returns the ids it placed so that the importer can
delete them if anything after fails (the case store's transaction is rolled back then); a blob that does
not match, a blob a manifest names that is not there, or a bundle changed under the reader raises before
the case store commits, and every blob placed by this import is removed again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import crypto
from crypto.manifest import FileEntry, check_manifest
from triage.blobs import BlobStore
from triage.errors import TemplatedError, TriageError

CHUNK_UNIT = 1 << 20  # progress advances once per chunk the bundle reader hands out (at most 1 MiB)


class BlobMismatchError(TriageError):
    """A validly signed bundle carries a file that is not the one a request's manifest names."""


@dataclass
class BlobResult:
    new: int = 0
    already: int = 0  # held already (the same bundle again, or again after a crash)
    unclaimed: int = 0  # in the bundle, named by no new envelope of it: not kept
    placed: list[bytes] = field(default_factory=list)


def manifest_of(payload: dict[str, Any]) -> tuple[FileEntry, ...]:
    """The files a decoded request or follow-up names (none for a payload without ``files``)."""
    files = payload.get("files")
    return check_manifest(files) if files else ()


def progress_units(bundle: crypto.Bundle) -> int:
    """An upper bound of how often ``import_blobs`` advances: one per chunk of at most 1 MiB."""
    return bundle.blob_count + bundle.blob_bytes // CHUNK_UNIT


def _checked(
    chunks: Iterator[bytes], entry: FileEntry, size: int, advance: Callable[[], None] | None
) -> Iterator[bytes]:
    if size != entry.blob_size:
        raise BlobMismatchError(
            "A file in this bundle has another size than the request that names it says. Nothing was imported. "
            "The server that signed the bundle is faulty or compromised: tell the operator."
        )
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        if advance is not None:
            advance()
        yield chunk
    if not hmac.compare_digest(digest.hexdigest(), entry.blob_sha256):
        raise BlobMismatchError(
            "A file in this bundle is not the one the request that names it says (its SHA-256 differs). Nothing "
            "was imported. The server that signed the bundle is faulty or compromised: tell the operator."
        )


def import_blobs(
    bundle: crypto.Bundle, store: BlobStore, wanted: dict[bytes, FileEntry], advance: Callable[[], None] | None = None
) -> BlobResult:
    """Keep every blob of ``bundle`` that ``wanted`` names and ``store`` lacks; see the module docstring."""
    result = BlobResult()
    found: set[bytes] = set()
    try:
        for blob_id, size, chunks in bundle.blobs():
            entry = wanted.get(blob_id)
            if entry is None:  # Bundle.blobs() still reads and hashes it
                if store.has(blob_id):
                    result.already += 1  # the same bundle again: its envelopes are duplicates now
                else:
                    result.unclaimed += 1
                continue
            found.add(blob_id)
            if store.has(blob_id) and store.size(blob_id) == entry.blob_size:
                result.already += 1
                continue
            store.put(blob_id, _checked(chunks, entry, size, advance))
            result.placed.append(blob_id)
            result.new += 1
        missing = [blob_id for blob_id in wanted if blob_id not in found and not store.has(blob_id)]
        if missing:
            raise TemplatedError(
                "%(num)d file(s) that requests in this bundle name are not in it. Nothing was imported. Ask the "
                "operator for a fresh export; if it happens again, the server has lost files.", num=len(missing)
            )  # fmt: skip
    except BaseException:
        discard(store, result.placed)
        raise
    return result


def discard(store: BlobStore, placed: list[bytes]) -> None:
    for blob_id in placed:
        store.delete(blob_id)
