"""`intake export` reads envelopes and files from one snapshot (issue 24), on SQLite and PostgreSQL.

An acknowledgement applied, or a request with files stored, while a bundle with files is being written
changes nothing in it: the bundle holds exactly the envelopes of its snapshot and exactly their files, whole,
and the writers were not held (the acknowledgement and the request finished while the export was paused
half-way through a file). Memory stays bounded: the files are streamed one 512 KiB row at a time.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Connection

import crypto
from crypto import filestream
from intake import blobs as blob_store
from intake import bundle_file
from intake.config import IntakeConfig
from intake.instance import Instance
from tests.intake.conftest import make_app
from tests.intake.helpers import receipt_of
from tests.intake.uploading import files_of, form_parts, post

TODAY = datetime.date.today()


def _send(app: Flask, content: bytes) -> None:
    client = app.test_client()
    receipt_of(post(client, "/en/request", [*form_parts(client), ("files", ("a.bin", "", content))]))


def _read_back(out: Path, server: crypto.ServerPublicKey, identity: crypto.Identity) -> dict[bytes, list[bytes]]:
    """Each entry of the bundle (by id) with its files opened, every file checked against its manifest."""
    bundle = crypto.read_bundle(out, expected_server=server)
    manifests = {entry.entry_id: crypto.check_manifest(crypto.open_envelope(entry.envelope, identity)["files"])
                 for entry in bundle.entries()}  # fmt: skip
    carried = {blob_id: b"".join(chunks) for blob_id, _, chunks in bundle.blobs()}
    named = {file.blob for files in manifests.values() for file in files}
    assert set(carried) == named, "the bundle carries exactly the files its entries name"
    return {entry_id: [filestream.open_bytes(carried[file.blob], file.sealed()) for file in files]
            for entry_id, files in manifests.items()}  # fmt: skip


def _ack(config: IntakeConfig, app: Flask, identity: crypto.Identity, envelope_id: bytes) -> bytes:
    envelope = dict(app.extensions["intake"].storage.envelope_bytes())[envelope_id]
    entry = crypto.AckEntry(envelope_id, crypto.envelope_digest(envelope))
    return crypto.make_ack([entry], identity=identity, server=Instance(config).server_key().public,
                           bundle_sequence=1, created_on=TODAY)  # fmt: skip


def _pieces(data: bytes) -> list[bytes]:
    return [data[start : start + 32] for start in range(0, len(data) - 31, 4096)]


def _database_files(config: IntakeConfig) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(config.instance_dir.rglob("*")) if p.is_file())


def test_an_acknowledgement_and_a_request_during_an_export_change_nothing_in_the_bundle(
    config: IntakeConfig, identity: crypto.Identity, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(config, identity)
    storage = app.extensions["intake"].storage
    server_key = Instance(config).server_key()
    # Given two requests with a file of two chunk rows each
    contents = [os.urandom(700_000), os.urandom(700_000)]
    for content in contents:
        _send(app, content)
    before = {envelope_id for envelope_id, _ in storage.envelope_bytes()}
    owner = {blob_id: envelope_id or b"" for blob_id, envelope_id, _, _ in files_of(app)}
    ciphertext = {blob.blob_id: b"".join(blob.chunks()) for blob in storage.export_blobs()}
    # and an export that stops after the first row of the first file it writes, until told to go on
    paused, go_on = threading.Event(), threading.Event()
    first_blob: list[bytes] = []

    def pausing(conn: Connection, ids: frozenset[bytes]) -> list[crypto.ExportBlob]:
        listed = blob_store_blobs_in(conn, ids)
        head = listed[0]
        first_blob.append(head.blob_id)

        def chunks() -> Iterator[bytes]:
            rows = head.chunks()
            yield next(rows)
            paused.set()
            assert go_on.wait(300)
            yield from rows

        return [crypto.ExportBlob(head.blob_id, head.size, chunks), *listed[1:]]

    blob_store_blobs_in = blob_store.blobs_in
    monkeypatch.setattr(blob_store, "blobs_in", pausing)
    out = tmp_path / "usb" / "b.evb"
    out.parent.mkdir()
    failure: list[BaseException] = []

    def export() -> None:
        try:
            bundle_file.write_bundle_file(out, lambda stream: storage.export(stream, server_key, TODAY))
        except BaseException as error:  # handed to the test's thread
            failure.append(error)

    exporting = threading.Thread(target=export)
    exporting.start()
    try:
        assert paused.wait(300) and not failure
        # When, half-way through that file, an acknowledgement deletes its envelope (and the file) and a new
        # request with a file is stored: both finish while the export still holds its snapshot
        gone = owner[first_blob[0]]
        result = storage.apply_ack(_ack(config, app, identity, gone), server_key, TODAY)
        assert result.deleted == 1
        _send(app, os.urandom(100_000))
        if storage.is_sqlite:
            assert storage.scrub() is False  # the export's reader still needs the WAL: no one waits for it
    finally:
        go_on.set()
        exporting.join(300)
    # Then the export finished, and its bundle holds the two envelopes of its snapshot and their files, whole
    assert not exporting.is_alive() and not failure, failure
    opened = _read_back(out, server_key.public, identity)
    assert set(opened) == before
    assert sorted(files[0] for files in opened.values()) == sorted(contents)
    # And once it ended, the acknowledged file's ciphertext is gone (SQLite: from the file and its WAL too)
    assert gone not in {envelope_id for envelope_id, _ in storage.envelope_bytes()}
    assert first_blob[0] not in {blob_id for blob_id, _, _, _ in files_of(app)}
    storage.dispose()
    if storage.is_sqlite:
        everything = _database_files(config)
        assert [p for p in _pieces(ciphertext[first_blob[0]]) if p in everything] == []
        kept = [p for p in _pieces(ciphertext[next(b for b in ciphertext if b != first_blob[0])]) if p in everything]
        assert len(kept) >= 0.9 * len(_pieces(contents[1])), "the control: the same search finds the other file"


def test_files_of_a_request_stored_after_the_export_numbered_its_envelopes_are_not_in_its_bundle(
    config: IntakeConfig, identity: crypto.Identity, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(config, identity)
    storage = app.extensions["intake"].storage
    server_key = Instance(config).server_key()
    _send(app, os.urandom(200_000))
    # Given an export that has numbered its envelopes, when a request with a file is stored before it takes its
    # snapshot (so the snapshot sees an envelope with no serial, and its file)
    real_reading = storage.reading
    sent: list[int] = []

    @contextlib.contextmanager
    def reading() -> Iterator[Connection]:
        if not sent:
            sent.append(1)
            _send(app, os.urandom(200_000))
        with real_reading() as conn:
            yield conn

    monkeypatch.setattr(storage, "reading", reading)
    out = tmp_path / "b.evb"
    bundle_file.write_bundle_file(out, lambda stream: storage.export(stream, server_key, TODAY))
    # Then the bundle carries the one envelope numbered and only its file; the new one waits for the next export
    assert sent and len(files_of(app)) == 2
    assert len(_read_back(out, server_key.public, identity)) == 1
    storage.dispose()


def test_exporting_stored_files_holds_little_memory(
    config: IntakeConfig, identity: crypto.Identity, tmp_path: Path
) -> None:
    app = make_app(config, identity)
    storage = app.extensions["intake"].storage
    server_key = Instance(config).server_key()
    # Given three requests with an 8 MiB file each (16 chunk rows of 512 KiB)
    digests = set()
    for _ in range(3):
        content = os.urandom(8 << 20)
        digests.add(hashlib.sha256(content).hexdigest())
        _send(app, content)
        del content
    # When they are exported, the export holds about one row at a time
    out = tmp_path / "b.evb"
    tracemalloc.start()
    try:
        bundle_file.write_bundle_file(out, lambda stream: storage.export(stream, server_key, TODAY))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.stat().st_size > 24 << 20
    assert peak < 6 << 20, peak
    opened = _read_back(out, server_key.public, identity)
    assert {hashlib.sha256(files[0]).hexdigest() for files in opened.values()} == digests
    storage.dispose()
