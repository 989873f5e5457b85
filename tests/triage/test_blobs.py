"""triage.blobs.BlobStore (CONTRACTS §4): sealed files kept as they came, atomically, readable by this user only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from triage.blobs import BlobStore
from triage.errors import HomeError


def test_put_open_has_delete(tmp_path: Path) -> None:
    store = BlobStore.beside(tmp_path / "cases.sqlite3")
    assert store.root == tmp_path / "blobs"
    blob_id = os.urandom(16)
    assert not store.has(blob_id)
    store.put(blob_id, iter([b"ITKF", b"\x01", b"sealed bytes"]))
    assert store.has(blob_id) and store.size(blob_id) == 17
    with store.open(blob_id) as handle:
        assert handle.read() == b"ITKF\x01sealed bytes"
    assert list(store.ids()) == [blob_id]
    assert store.path(blob_id).parent.parent == store.root
    if os.name == "posix":
        assert stat.S_IMODE(store.path(blob_id).stat().st_mode) == 0o600
        assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    store.delete(blob_id)
    store.delete(blob_id)  # deleting what is gone is not an error
    assert not store.has(blob_id)
    with pytest.raises(HomeError):
        store.open(blob_id)


def test_a_put_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    blob_id = os.urandom(16)

    def chunks() -> Iterator[bytes]:
        yield b"half of a file"
        raise OSError("the stick was pulled out")

    with pytest.raises(OSError):
        store.put(blob_id, chunks())
    assert not store.has(blob_id)
    assert [p for p in store.root.rglob("*") if p.is_file()] == []


def test_a_put_replaces_atomically_and_leftovers_are_cleaned(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    blob_id = os.urandom(16)
    store.put(blob_id, [b"one"])
    store.put(blob_id, [b"two"])
    assert store.path(blob_id).read_bytes() == b"two"
    leftover = store.path(blob_id).parent / ".partial-crashed"
    leftover.write_bytes(b"x")
    assert store.clean_partial() == 1 and not leftover.exists() and store.has(blob_id)


def test_ids_must_be_16_bytes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    for bad in (b"", b"x" * 15, b"x" * 17, "00" * 16):
        with pytest.raises(HomeError):
            store.path(bad)  # type: ignore[arg-type]
