"""intake export with files (bundle version 5): blobs streamed into the bundle, split into parts, bounded memory.

The server's blob storage is the upload helper's (``Storage.export_blobs()``); here synthetic sealed files
(crypto.filestream) stand in for it, handed to ``intake.exchange.export`` exactly as it will be wired.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

import crypto
from crypto.filestream import FileSealer, blob_size
from intake import bundle_file, exchange
from intake.config import IntakeConfig
from intake.instance import Instance
from intake.storage import Storage

DAY = datetime.date(2026, 12, 2)
REQUEST = {"schema": 1, "locale": "ru", "submitted_on": DAY, "danger": "immediate", "people": 1,
           "contact_method": "signal", "contact": "+7 900", "story": "Помогите.", "consent": True}  # fmt: skip


def sealed_blob(size: int) -> tuple[crypto.ExportBlob, str]:
    """A sealed file streamed chunk by chunk from a seed (never whole in memory), and its blob SHA-256."""
    seed = os.urandom(1 << 20)
    sealer = FileSealer()
    pieces = [sealer.write(seed) for _ in range(size >> 20)]
    rest, facts = sealer.finish()
    blob = b"".join(pieces) + rest
    del pieces

    def chunks() -> Iterator[bytes]:
        view = memoryview(blob)
        for at in range(0, len(blob), 1 << 20):
            yield bytes(view[at : at + (1 << 20)])

    return crypto.ExportBlob(os.urandom(16), len(blob), chunks), facts.blob_sha256


@pytest.fixture
def storage(sqlite_config: IntakeConfig, identity: crypto.Identity) -> Iterator[Storage]:
    Instance(sqlite_config).initialize()
    storage = Storage(sqlite_config.database_url)
    storage.add_recipient(identity.public, DAY)
    for n in range(2):
        envelope = crypto.seal_request(dict(REQUEST, story=f"s{n}"), for_recipients=[identity.public])
        storage.store_submission(envelope, bytes([n]) * 32, DAY, 10)
    yield storage
    storage.dispose()


def test_export_streams_blobs_into_a_split_bundle_that_reads_back(
    storage: Storage, tmp_path: Path, identity: crypto.Identity
) -> None:
    made = [sealed_blob(n << 20) for n in (3, 0, 2)]
    server_key = crypto.ServerKey.generate()
    out = tmp_path / "export.bundle"

    def write(stream: BinaryIO) -> exchange.ExportResult:
        return exchange.export(storage, stream, server_key, DAY, blobs=lambda _conn, _ids: [m[0] for m in made])

    result, parts = bundle_file.write_bundle_file(out, write, part_size=1 << 20)
    assert result.count == 2 and parts >= 5
    assert not list(tmp_path.glob("*.partial"))
    bundle = crypto.read_bundle(out, expected_server=server_key.public)
    assert bundle.header.version == 5 and len(list(bundle.entries())) == 2
    got = {blob_id: hashlib.sha256(b"".join(chunks)).hexdigest() for blob_id, _, chunks in bundle.blobs()}
    assert got == {m[0].blob_id: m[1] for m in made}


def test_exporting_files_holds_little_memory(storage: Storage, tmp_path: Path) -> None:
    # 24 MiB of files streamed into the bundle; the writer holds one chunk of one file at a time.
    seed = os.urandom(1 << 20)
    size = blob_size(8 << 20)  # opaque to the server: any bytes of a sealed file's size

    def chunks() -> Iterator[bytes]:
        left = size
        while left:
            yield seed[: min(left, len(seed))]
            left -= min(left, len(seed))

    blobs = [crypto.ExportBlob(os.urandom(16), size, chunks) for _ in range(3)]
    server_key = crypto.ServerKey.generate()
    tracemalloc.start()
    try:
        bundle_file.write_bundle_file(
            tmp_path / "b",
            lambda stream: exchange.export(storage, stream, server_key, DAY, blobs=lambda _conn, _ids: blobs),
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (tmp_path / "b").stat().st_size > 24 << 20
    assert peak < 6 << 20, peak


def test_a_failed_export_leaves_no_part_and_spends_no_number(storage: Storage, tmp_path: Path) -> None:
    good, _ = sealed_blob(2 << 20)
    broken = crypto.ExportBlob(os.urandom(16), good.size, lambda: iter([b"x" * 1000]))  # storage lost bytes
    server_key = crypto.ServerKey.generate()
    usb = tmp_path / "usb"
    usb.mkdir()
    with pytest.raises(crypto.MalformedError):
        bundle_file.write_bundle_file(
            usb / "b",
            lambda stream: exchange.export(storage, stream, server_key, DAY, blobs=lambda _conn, _ids: [good, broken]),
            part_size=1 << 20,
        )
    assert list(usb.iterdir()) == []
    out = usb / "c"
    result, _ = bundle_file.write_bundle_file(out, lambda s: exchange.export(storage, s, server_key, DAY))
    assert result.sequence == 1  # the failed export gave its number back


def test_old_parts_under_the_same_name_are_refused_or_replaced(storage: Storage, tmp_path: Path) -> None:
    server_key = crypto.ServerKey.generate()
    tmp_path = tmp_path / "usb"
    tmp_path.mkdir()
    (tmp_path / "b.part2").write_bytes(b"old")
    with pytest.raises(bundle_file.BundleFileError, match="older export"):
        bundle_file.write_bundle_file(tmp_path / "b", lambda s: exchange.export(storage, s, server_key, DAY))
    bundle_file.write_bundle_file(tmp_path / "b", lambda s: exchange.export(storage, s, server_key, DAY),
                                  overwrite=True)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    crypto.read_bundle(tmp_path / "b", expected_server=server_key.public)


def test_intake_export_splits_a_bundle_into_parts_that_read_back(
    sqlite_config: IntakeConfig, tmp_path: Path, identity: crypto.Identity
) -> None:
    from click.testing import CliRunner

    from intake.cli import main
    from intake.instance import Instance

    env = {"INTAKE_INSTANCE_DIR": str(sqlite_config.instance_dir), "INTAKE_DATABASE_URL": sqlite_config.database_url}
    runner = CliRunner()
    assert runner.invoke(main, ["init"], env=env).exit_code == 0
    pub = tmp_path / "Alice.pub"
    pub.write_text(identity.public.to_text())
    assert runner.invoke(main, ["recipients", "add", str(pub)], env=env).exit_code == 0
    storage = Storage(sqlite_config.database_url)
    for n in range(4):  # four envelopes of about 33 KB: more than two parts of 64 KiB
        envelope = crypto.seal_request(dict(REQUEST, story=f"s{n}"), for_recipients=[identity.public])
        storage.store_submission(envelope, bytes([n]) * 32, DAY, 10)
    storage.dispose()
    usb = tmp_path / "usb"
    usb.mkdir()
    result = runner.invoke(main, ["export", "--out", str(usb / "b.evb"), "--part-size", "65536"], env=env)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in usb.iterdir()) == ["b.evb", "b.evb.part2", "b.evb.part3"]
    server = Instance(sqlite_config).server_key().public
    assert len(list(crypto.read_bundle(usb / "b.evb", expected_server=server).entries())) == 4


def test_intake_export_shows_its_progress_on_a_terminal_only(
    sqlite_config: IntakeConfig, tmp_path: Path, identity: crypto.Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from intake import cli, export_progress

    env = {"INTAKE_INSTANCE_DIR": str(sqlite_config.instance_dir), "INTAKE_DATABASE_URL": sqlite_config.database_url}
    runner = CliRunner()
    assert runner.invoke(cli.main, ["init"], env=env).exit_code == 0
    pub = tmp_path / "Alice.pub"
    pub.write_text(identity.public.to_text())
    assert runner.invoke(cli.main, ["recipients", "add", str(pub)], env=env).exit_code == 0
    storage = Storage(sqlite_config.database_url)
    for n in range(4):  # about 132 KB of envelopes
        envelope = crypto.seal_request(dict(REQUEST, story=f"s{n}"), for_recipients=[identity.public])
        storage.store_submission(envelope, bytes([n]) * 32, DAY, 10)
    storage.dispose()
    monkeypatch.setattr(export_progress, "STEP", 1 << 16)
    # Without a terminal (the daily timer, a pipe): no progress line
    result = runner.invoke(cli.main, ["export", "--out", str(tmp_path / "a.evb")], env=env)
    assert result.exit_code == 0 and "Writing the bundle" not in result.output
    # On a terminal: a line updated in place, ending at the whole bundle
    monkeypatch.setattr(export_progress, "stderr_is_terminal", lambda: True)
    result = runner.invoke(cli.main, ["export", "--out", str(tmp_path / "b.evb")], env=env)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.split("\r") if line.startswith("Writing the bundle")]
    assert len(lines) >= 2 and lines[-1].rstrip().endswith("(100 %)"), lines
    assert "Exported 4 envelope(s)" in result.stdout
