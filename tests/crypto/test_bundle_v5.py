"""Bundle version 5 (FORMAT.md §8.1): the questionnaire block and the blob section under the one signature."""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from crypto import bundle_v5
from crypto.filestream import seal_bytes
from crypto.questionnaire import builtin_questionnaire
from tests.crypto.conftest import make_request

DAY = datetime.date(2026, 12, 2)
SHIPPED = builtin_questionnaire().canonical
OTHER = builtin_questionnaire("relocation-lgbtqi").canonical


def _entry(n: int, to: crypto.PublicIdentity) -> crypto.BundleEntry:
    envelope = crypto.seal_request(make_request(story=f"s{n}"), for_recipients=[to])
    return crypto.BundleEntry(bytes([n]) * 16, n, envelope, (to.fingerprint,))


def blob(data: bytes, blob_id: bytes | None = None) -> tuple[crypto.ExportBlob, bytes]:
    sealed, _ = seal_bytes(data)
    ident = blob_id or os.urandom(16)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(sealed), 50_000):
            yield sealed[i : i + 50_000]

    return crypto.ExportBlob(ident, len(sealed), chunks), sealed


def write(key: crypto.ServerKey, to: crypto.PublicIdentity, *, questionnaires: list[bytes] | tuple[bytes, ...] = (),
          blobs: list[crypto.ExportBlob] | tuple[crypto.ExportBlob, ...] = (), entries: int = 2) -> bytes:  # fmt: skip
    out = io.BytesIO()
    items = [_entry(n, to) for n in range(1, entries + 1)]
    crypto.write_bundle(out, items, count=len(items), server_key=key, sequence=3, high_water=entries, created_on=DAY,
                        recipients=[to], delivered=[], questionnaires=questionnaires, blobs=blobs)  # fmt: skip
    return out.getvalue()


def collect(bundle: crypto.Bundle) -> list[tuple[bytes, int, bytes]]:
    return [(blob_id, size, b"".join(chunks)) for blob_id, size, chunks in bundle.blobs()]


def test_questionnaires_round_trip_sorted_by_sha256(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    data = write(server_key, alice.public, questionnaires=[SHIPPED, OTHER, SHIPPED])
    bundle = crypto.read_bundle(data, expected_server=server_key.public)
    assert bundle.header.version == 5
    assert bundle.header.questionnaires == tuple(sorted({SHIPPED, OTHER}, key=lambda t: hashlib.sha256(t).digest()))
    assert [e.serial for e in bundle.entries()] == [1, 2]
    assert collect(bundle) == []


def test_nothing_new_carried_keeps_version_3(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    bundle = crypto.read_bundle(write(server_key, alice.public), expected_server=server_key.public)
    assert bundle.header.version == 3 and bundle.header.questionnaires == ()
    assert collect(bundle) == []  # an older bundle simply has no blobs


def test_blobs_round_trip_in_id_order(tmp_path: Path, alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    made = [blob(os.urandom(n), bytes([b]) * 16) for n, b in ((200_000, 9), (0, 3), (70_000, 5))]
    path = tmp_path / "export.bundle"
    path.write_bytes(write(server_key, alice.public, questionnaires=[SHIPPED], blobs=[m[0] for m in made]))
    bundle = crypto.read_bundle(path, expected_server=server_key.public)
    assert (bundle.blob_count, bundle.blob_bytes) == (3, sum(len(m[1]) for m in made))
    expected = sorted((m[0].blob_id, m[0].size, m[1]) for m in made)
    assert collect(bundle) == expected
    assert [e.serial for e in bundle.entries()] == [1, 2]  # entries still read without the blobs


def test_a_blob_left_unread_is_still_checked(tmp_path: Path, alice: crypto.Identity,
                                            server_key: crypto.ServerKey) -> None:  # fmt: skip
    made = sorted((blob(os.urandom(100_000))[0] for _ in range(3)), key=lambda b: b.blob_id)
    path = tmp_path / "b"
    path.write_bytes(write(server_key, alice.public, blobs=made))
    bundle = crypto.read_bundle(path, expected_server=server_key.public)
    assert [(i, size) for i, size, _ in bundle.blobs()] == [(b.blob_id, b.size) for b in made]
    data = bytearray(path.read_bytes())
    data[-70] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(crypto.TamperedError):
        for _ in bundle.blobs():  # the caller reads no chunk; the bytes are hashed all the same
            pass


@pytest.mark.parametrize("where", ["first-blob", "last-blob", "blob-size", "blob-id"])
def test_an_altered_blob_byte_is_tampered(where: str, alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    made = [blob(os.urandom(90_000), bytes([1]) * 16), blob(os.urandom(1000), bytes([2]) * 16)]
    data = bytearray(write(server_key, alice.public, blobs=[m[0] for m in made]))
    first = data.find(made[0][1])
    offset = {"first-blob": first + 500, "last-blob": len(data) - 65, "blob-size": first - 1,
              "blob-id": first - 9}[where]  # fmt: skip
    data[offset] ^= 1
    with pytest.raises(crypto.TamperedError):
        crypto.read_bundle(bytes(data), expected_server=server_key.public)


def test_a_truncated_blob_section_is_tampered(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    made = blob(os.urandom(90_000))
    data = write(server_key, alice.public, blobs=[made[0]])
    for cut in (1, 64, 65, 1000, len(made[1])):
        with pytest.raises(crypto.TamperedError):
            crypto.read_bundle(data[:-cut], expected_server=server_key.public)


def test_a_file_changed_between_the_passes_fails_at_the_end(
    tmp_path: Path, alice: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    made = blob(os.urandom(300_000))
    path = tmp_path / "b"
    path.write_bytes(write(server_key, alice.public, blobs=[made[0]]))
    bundle = crypto.read_bundle(path, expected_server=server_key.public)
    data = bytearray(path.read_bytes())
    data[-100] ^= 1  # a byte of the blob, after verification (a stick that answers differently the second time)
    path.write_bytes(bytes(data))
    assert [e.serial for e in bundle.entries()] == [1, 2]  # the entries are still the verified ones
    got = []
    with pytest.raises(crypto.TamperedError):
        for _, _, chunks in bundle.blobs():
            got.extend(chunks)
    assert got  # it streamed, and refused at the end: a caller keeps nothing it stored


def test_the_writer_refuses_what_a_reader_would(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    good, _ = blob(b"x")
    twice = [good, crypto.ExportBlob(good.blob_id, good.size, good.chunks)]
    short = crypto.ExportBlob(os.urandom(16), good.size + 1, good.chunks)
    tiny = crypto.ExportBlob(os.urandom(16), 10, lambda: iter([b"0" * 10]))
    for bad in (twice, [short], [tiny]):
        with pytest.raises(crypto.MalformedError):
            write(server_key, alice.public, blobs=bad)
    for text in (b"", b"not json", b'{"b":1,"a":2}', b"[]", b"{" * 70_000):
        with pytest.raises(crypto.MalformedError):
            write(server_key, alice.public, questionnaires=[text])
    with pytest.raises(crypto.MalformedError):
        crypto.write_bundle(io.BytesIO(), [], count=0, server_key=server_key, sequence=1, high_water=0,
                            created_on=DAY, questionnaires=[SHIPPED])  # no recipient set: no version 5  # fmt: skip


def test_reading_a_large_blob_section_holds_little_memory(
    tmp_path: Path, alice: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    sealed, _ = seal_bytes(os.urandom(1 << 20))
    blobs = [crypto.ExportBlob(os.urandom(16), len(sealed), lambda: iter([sealed])) for _ in range(24)]
    path = tmp_path / "big.bundle"
    with open(path, "wb") as out:
        crypto.write_bundle(out, [], count=0, server_key=server_key, sequence=1, high_water=0, created_on=DAY,
                            recipients=[alice.public], blobs=blobs)  # fmt: skip
    tracemalloc.start()
    try:
        bundle = crypto.read_bundle(path, expected_server=server_key.public)
        total = sum(len(chunk) for _, _, chunks in bundle.blobs() for chunk in chunks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == bundle.blob_bytes > 24 << 20
    assert peak < 4 << 20  # about one 1 MiB chunk at a time, never the 24 MiB


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10_000), flip=st.integers(min_value=0, max_value=10_000))
def test_any_flipped_byte_or_cut_is_refused(
    cut: int, flip: int, alice: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    data = _SMALL.get(server_key) or _SMALL.setdefault(server_key, write(
        server_key, alice.public, questionnaires=[OTHER], blobs=[blob(os.urandom(3000))[0]], entries=1))  # fmt: skip
    changed = bytearray(data)
    changed[flip % len(data)] ^= 0x40
    for bad in (bytes(changed), data[: cut % len(data)]):
        with pytest.raises(crypto.CryptoError):
            crypto.read_bundle(bad, expected_server=server_key.public)


_SMALL: dict[crypto.ServerKey, bytes] = {}


def test_blob_sizes_are_bounded_by_the_sealed_file_format() -> None:
    assert len(seal_bytes(b"")[0]) == bundle_v5.MIN_BLOB
    with pytest.raises(crypto.MalformedError):
        bundle_v5.check_blob_head(b"\x01" * 16, bundle_v5.MIN_BLOB - 1, None)
    with pytest.raises(crypto.MalformedError):
        bundle_v5.check_blob_head(b"\x01" * 16, bundle_v5.MAX_BLOB + 1, None)
    with pytest.raises(crypto.MalformedError):
        bundle_v5.check_blob_head(b"\x01" * 16, bundle_v5.MIN_BLOB, b"\x01" * 16)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(part_size=st.integers(min_value=2_000, max_value=40_000))
def test_parts_join_back_into_the_same_bundle(
    part_size: int, tmp_path_factory: pytest.TempPathFactory, alice: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    from crypto.bundle_parts import PartWriter, open_parts, part_name

    data = _SMALL.get(server_key) or _SMALL.setdefault(server_key, write(
        server_key, alice.public, questionnaires=[OTHER], blobs=[blob(os.urandom(3000))[0]], entries=1))  # fmt: skip
    folder = tmp_path_factory.mktemp("parts")
    path = str(folder / "b")
    writer = PartWriter(lambda n: open(part_name(path, n), "xb"), part_size)  # noqa: SIM115 - finish() closes
    for at in range(0, len(data), 7_000):
        writer.write(data[at : at + 7_000])
    parts = writer.finish()
    assert parts == max(1, -(-len(data) // part_size))
    opener, size = open_parts(path)
    with opener() as joined:
        assert size == len(data) and joined.read(size + 10) == data
    assert crypto.read_bundle(path, expected_server=server_key.public).digest == crypto.read_bundle(
        data, expected_server=server_key.public).digest  # fmt: skip
