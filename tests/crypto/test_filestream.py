"""Sealed files (crypto/filestream.py, FORMAT.md §13): streamed in bounded memory, padded, all or nothing."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto import filestream as fs

EDGES = [0, 1, 7, 8, fs.CHUNK - 9, fs.CHUNK - 8, fs.CHUNK - 1, fs.CHUNK, fs.CHUNK + 1, 2 * fs.CHUNK - 8,
         3 * fs.CHUNK + 5]  # fmt: skip


@pytest.mark.parametrize("size", EDGES)
def test_every_size_around_the_chunk_edges_round_trips_to_its_exact_blob_size(size: int) -> None:
    data = os.urandom(size)
    blob, facts = fs.seal_bytes(data)
    assert len(blob) == fs.blob_size(size) == facts.blob_size
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert facts.blob_sha256 == hashlib.sha256(blob).hexdigest()
    assert fs.open_bytes(blob, facts) == data


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3 * fs.CHUNK + 100), st.lists(st.integers(1, 70000), max_size=12))
def test_any_file_written_in_any_pieces_seals_to_its_length_and_opens_to_itself(data: bytes, cuts: list[int]) -> None:
    sealer = fs.FileSealer()
    out, position = [], 0
    for cut in cuts:
        out.append(sealer.write(data[position : position + cut]))
        position += cut
        assert len(sealer._pending) <= fs.CHUNK  # never more than one chunk held
    out.append(sealer.write(data[position:]))
    rest, facts = sealer.finish()
    blob = b"".join(out) + rest
    assert len(blob) == fs.blob_size(len(data))
    assert fs.open_bytes(blob, facts) == data


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3 * fs.CHUNK + 100), st.lists(st.integers(1, 70000), max_size=12))
def test_pieces_given_as_views_seal_to_the_same_blob_as_bytes(data: bytes, cuts: list[int]) -> None:
    # intake hands the sealer views of what the parser read (no copy): the same chunks come out, and open
    # (each sealer draws its own stream header, so the bytes differ)
    as_bytes, as_views = fs.FileSealer(), fs.FileSealer()
    out_bytes, out_views, position = [], [], 0
    with memoryview(data) as view:
        for cut in [*cuts, len(data)]:
            out_bytes.append(as_bytes.write(data[position : position + cut]))
            out_views.append(as_views.write(view[position : position + cut]))
            position += cut
    assert [len(piece) for piece in out_bytes] == [len(piece) for piece in out_views]
    assert all(type(piece) is bytes for piece in out_views)
    rest, facts = as_views.finish()
    assert len(as_bytes.finish()[0]) == len(rest)
    assert fs.open_bytes(b"".join(out_views) + rest, facts) == data


@given(st.integers(0, 1 << 30))
def test_the_stored_size_is_a_padme_size_and_wastes_at_most_12_percent(size: int) -> None:
    stream = fs.stream_length(size)
    assert stream >= size + fs.LENGTH_SIZE
    assert fs.padme(stream) == stream  # a fixed point: the stored length is itself a PADMÉ length
    if size >= 1 << 16:
        assert stream <= (size + fs.LENGTH_SIZE) * 1.12
    # Two files with the same PADMÉ stream length have the same stored size: that is all it reveals.
    assert fs.blob_size(size) == fs.blob_size(stream - fs.LENGTH_SIZE)


def test_a_blob_from_another_request_or_a_lying_manifest_is_refused() -> None:
    data = os.urandom(fs.CHUNK + 500)
    blob, facts = fs.seal_bytes(data)
    other_blob, other_facts = fs.seal_bytes(os.urandom(fs.CHUNK + 500))
    with pytest.raises(crypto.TamperedError):
        fs.open_bytes(other_blob, facts)  # same size class, another key and digest
    for lie in (facts.__class__(facts.key, facts.size - 1, facts.sha256, facts.blob_size, facts.blob_sha256),
                facts.__class__(facts.key, facts.size, other_facts.sha256, facts.blob_size, facts.blob_sha256),
                facts.__class__(other_facts.key, facts.size, facts.sha256, facts.blob_size, facts.blob_sha256)):
        with pytest.raises(crypto.TamperedError):
            fs.open_bytes(blob, lie)


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_any_change_to_a_blob_is_refused_and_never_opens_to_other_content(data: st.DataObject) -> None:
    content = data.draw(st.binary(min_size=0, max_size=2 * fs.CHUNK + 50))
    blob, facts = fs.seal_bytes(content)
    changed = bytearray(blob)
    action = data.draw(st.sampled_from(["flip", "cut", "append", "drop"]))
    at = data.draw(st.integers(0, len(blob) - 1))
    if action == "flip":
        changed[at] ^= 1 << data.draw(st.integers(0, 7))
    elif action == "cut":
        del changed[at:]
    elif action == "append":
        changed += data.draw(st.binary(min_size=1, max_size=40))
    else:
        del changed[at : at + data.draw(st.integers(1, 40))]
    if bytes(changed) == blob:
        return
    try:
        opened = fs.open_bytes(bytes(changed), facts)
    except crypto.CryptoError:
        return
    raise AssertionError(f"a changed blob opened ({len(opened)} bytes)")


def test_open_streams_to_a_writer_a_chunk_at_a_time() -> None:
    data = os.urandom(5 * fs.CHUNK + 3)
    blob, facts = fs.seal_bytes(data)
    reads: list[int] = []
    source = io.BytesIO(blob)

    def read(n: int) -> bytes:
        reads.append(n)
        return source.read(n)

    out = io.BytesIO()
    fs.open_file(read, out.write, key=facts.key, size=facts.size, sha256=facts.sha256,
                 blob_sha256=facts.blob_sha256, blob_length=len(blob))  # fmt: skip
    assert out.getvalue() == data
    assert max(reads) <= fs.SEALED_CHUNK


def test_a_file_past_its_limit_is_refused_as_it_arrives() -> None:
    sealer = fs.FileSealer(max_size=100)
    sealer.write(b"x" * 100)
    with pytest.raises(crypto.MalformedError):
        sealer.write(b"x")
