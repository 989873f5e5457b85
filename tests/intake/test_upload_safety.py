"""What a seized server keeps of a file (issue 24, invariants 1, 8, 15 and 17): ciphertext only, nothing after an
acknowledgement, nothing staged after a crash, and the plaintext nowhere on any disk or in any log."""

from __future__ import annotations

import datetime
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

import crypto
from crypto import filestream
from intake.blobs import BlobWriter, Stager
from intake.config import IntakeConfig
from intake.instance import Instance
from tests.intake.conftest import make_app
from tests.intake.helpers import receipt_of
from tests.intake.test_privacy import assert_nowhere, files_under, private_tmp  # noqa: F401 (a fixture)
from tests.intake.uploading import files_of, form_parts, post

CANARY_OFFSETS = (0, 65_530, 131_072, 524_280, 1_000_003, 5 * 1024 * 1024 + 17, 10 * 1024 * 1024 - 40)


def test_a_canary_in_a_10_mib_file_is_nowhere_on_disk_in_temp_files_or_logs(
    sqlite_config: IntakeConfig, identity: crypto.Identity, private_tmp: Path,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    start = time.time() - 1
    canary = ("canary-" + secrets.token_hex(12)).encode()
    content = bytearray(os.urandom(10 * 1024 * 1024))
    for offset in CANARY_OFFSETS:
        content[offset : offset + len(canary)] = canary
    app = make_app(sqlite_config, identity)
    client = app.test_client()
    # Given a request with a 10 MiB file carrying the canary at several offsets (one across the edge of the first
    # 64 KiB sealed chunk)
    response = post(client, "/en/request", [*form_parts(client), ("files", ("evidence.jpg", "image/jpeg",
                                                                            bytes(content)))])  # fmt: skip
    receipt_of(response)
    # and the file opens for the caseworker: the canary is really in it
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    [entry] = crypto.check_manifest(crypto.open_envelope(envelope, identity)["files"])
    [blob] = list(app.extensions["intake"].storage.export_blobs())
    opened = filestream.open_bytes(b"".join(blob.chunks()), entry.sealed())
    assert opened.count(canary) == len(CANARY_OFFSETS)
    app.extensions["intake"].storage.dispose()
    # Then it is in no file of the instance (database, WAL, staging locks), of the temp dirs, nor in the logs
    for needle in (canary, canary[::-1], canary.hex().encode()):
        assert_nowhere(needle, files_under(sqlite_config.instance_dir))
        assert_nowhere(needle, files_under(private_tmp))
        for system in (Path("/tmp"), Path("/dev/shm")):
            assert_nowhere(needle, files_under(system, since=start) if system.is_dir() else [])
    assert canary.decode() not in caplog.text


def _sqlite_files(config: IntakeConfig) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(config.instance_dir.rglob("*")) if p.is_file())


def test_an_acknowledgement_deletes_the_blobs_and_their_bytes_are_gone_from_the_file_and_the_wal(
    sqlite_config: IntakeConfig, identity: crypto.Identity
) -> None:
    app = make_app(sqlite_config, identity)
    client = app.test_client()
    storage = app.extensions["intake"].storage
    contents = [os.urandom(300_000), os.urandom(300_000)]
    for content in contents:
        receipt_of(post(client, "/en/request", [*form_parts(client), ("files", ("a.bin", "", content))]))
    blobs = {b.blob_id: b"".join(b.chunks()) for b in storage.export_blobs()}
    envelopes = dict(storage.envelope_bytes())
    owner = {blob_id: envelope_id for blob_id, envelope_id, _, _ in files_of(app)}
    [(gone_blob, gone_bytes), (kept_blob, kept_bytes)] = sorted(blobs.items())
    gone_envelope = owner[gone_blob]

    def pieces(data: bytes) -> list[bytes]:
        return [data[start : start + 32] for start in range(0, len(data) - 31, 4096)]

    assert all(p in _sqlite_files(sqlite_config) for p in pieces(gone_bytes)[:20])
    # When a valid acknowledgement names the envelope of the first
    server = Instance(sqlite_config).initialize()
    entry = crypto.AckEntry(gone_envelope, crypto.envelope_digest(envelopes[gone_envelope]))
    ack = crypto.make_ack([entry], identity=identity, server=server, bundle_sequence=1,
                          created_on=datetime.date.today())  # fmt: skip
    assert storage.apply_ack(ack, Instance(sqlite_config).server_key(), datetime.date.today()).deleted == 1
    storage.dispose()
    # Then its blob's rows are gone and no piece of its ciphertext is left in the database or its WAL
    everything = _sqlite_files(sqlite_config)
    assert [p for p in pieces(gone_bytes) if p in everything] == []
    found = sum(p in everything for p in pieces(kept_bytes))
    assert found >= 0.9 * len(pieces(kept_bytes)), found  # the control: the same search finds the other
    assert [blob_id for blob_id, _, _, _ in files_of(app)] == [kept_blob]


_STAGER = textwrap.dedent("""
    import datetime, sys, time
    from pathlib import Path
    from intake.blobs import BlobWriter, Stager
    from intake.storage import Storage
    storage = Storage(sys.argv[1])
    stager = Stager(Path(sys.argv[2]))
    writer = BlobWriter(storage, stager.id(), datetime.date.today(), 1 << 30)
    writer.write(b"\\x00" * (600 * 1024))  # one chunk row written: a file half received
    print("staged", flush=True)
    time.sleep(600)
""")


def _stage_in_a_process(config: IntakeConfig) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", _STAGER, config.database_url, str(config.instance_dir / "staging")],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "staged"
    return child


def test_staged_ciphertext_of_a_killed_process_is_deleted_at_the_next_start_and_a_live_ones_kept(
    config: IntakeConfig, identity: crypto.Identity
) -> None:
    app = make_app(config, identity)
    app.extensions["intake"].storage.dispose()
    # Given two server processes receiving a file each; one is killed with kill -9
    killed, alive = _stage_in_a_process(config), _stage_in_a_process(config)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=60)
        assert len(files_of(app)) == 2
        # When the server starts again
        restarted = make_app(config, None)
        # Then what the killed one staged is gone, and what the live one is receiving is still there
        left = files_of(restarted)
        assert len(left) == 1 and left[0][2] is not None
        restarted.extensions["intake"].storage.dispose()
    finally:
        alive.kill()
        alive.wait(timeout=60)
    assert len(files_of(make_app(config, None))) == 0  # and once it is gone too, at the next start


def test_a_staged_blob_older_than_yesterday_is_deleted_whoever_staged_it(sqlite_app: Flask) -> None:
    storage = sqlite_app.extensions["intake"].storage
    writer = BlobWriter(storage, b"x" * 16, datetime.date.today() - datetime.timedelta(days=2), 1 << 30)
    writer.write(b"old")
    writer.close()
    assert Stager(sqlite_app.extensions["intake"].config.instance_dir / "staging").clean_dead(
        storage, datetime.date.today()) == 1  # fmt: skip
    assert files_of(sqlite_app) == []


def test_a_flood_refusal_keeps_the_answers_drops_the_files_unread_and_offers_the_field_again(
    sqlite_app: Flask,
) -> None:
    limiter = sqlite_app.extensions["intake"].submit_limiter
    frozen = time.monotonic()
    limiter.clock = lambda: frozen
    while limiter.allow("circuit-7"):
        pass
    client = sqlite_app.test_client()
    from tests.intake.uploading import encode

    body, content_type = encode([*form_parts(client), ("files", ("a.jpg", "image/jpeg", b"j" * 100_000))])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BlobWriter, "write", lambda *a: pytest.fail("a refused request staged a file"))
        response = client.post("/en/request", data=body, content_type=content_type,
                               environ_overrides={"intake.circuit": "circuit-7"})  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 429 and "NOT been sent" in page and "Choose the files again" in page
    assert 'name="files"' in page and 'enctype="multipart/form-data"' in page
    hidden = MultiDict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page))
    assert hidden.get("story") == "They came to my house." and files_of(sqlite_app) == []


def test_after_compaction_blobs_lie_in_the_file_in_id_order_not_arrival_order(sqlite_app: Flask) -> None:
    storage = sqlite_app.extensions["intake"].storage
    database = Path(storage.engine.url.database or "")
    # Given six blobs that arrived in an order unlike that of their (random) ids
    contents = {bytes([i]) * 16: os.urandom(100_000) for i in (5, 2, 6, 1, 4, 3)}
    for blob_id, content in contents.items():
        writer = BlobWriter(storage, b"s" * 16, datetime.date.today(), 1 << 30)
        writer.blob_id = blob_id
        writer.write(content)
        writer.close()

    def order() -> list[bytes]:
        storage.scrub()
        data = database.read_bytes()
        return sorted(contents, key=lambda blob_id: data.index(contents[blob_id][:64]))

    # When the database is compacted, the file's order is the ids' (VACUUM copies in key order; the overflow pages
    # of large rows come out last first), which says nothing of arrival (by chance: 2 in 720)
    storage.compact()
    assert order() in (sorted(contents), sorted(contents, reverse=True))
