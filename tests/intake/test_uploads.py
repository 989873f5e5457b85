"""Files with a request or a follow-up (issue 24), through the real app on SQLite and PostgreSQL.

Each file is sealed as it arrives into blob chunks tied to the envelope whose manifest holds its key; what
arrived is listed on the receipt page; refusals keep the answers, say plainly that nothing was sent and that
the files must be chosen again, and leave nothing staged.
"""

from __future__ import annotations

import datetime
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from flask import Flask

import crypto
from crypto import filestream
from intake.blobs import BlobWriter
from intake.config import IntakeConfig
from intake.database import DiskFullError
from tests.intake.conftest import TEST_GLOBAL_PER_MINUTE, make_app
from tests.intake.helpers import check_status, csrf_token, receipt_of
from tests.intake.uploading import encode, files_of, form_parts, post

PHOTO = bytes(range(256)) * 700  # 179,200 bytes: three chunk rows' worth of sealed chunks, not a multiple of 64 KiB
PDF = b"%PDF-1.7\n" + b"evidence " * 5000


def _opened(app: Flask, identity: crypto.Identity) -> list[dict[str, Any]]:
    storage = app.extensions["intake"].storage
    return [crypto.open_envelope(envelope, identity) for _, envelope in storage.envelope_bytes()]


def _blob(app: Flask, blob_id: bytes) -> bytes:
    found = [b for b in app.extensions["intake"].storage.export_blobs() if b.blob_id == blob_id]
    assert len(found) == 1
    return b"".join(found[0].chunks())


def test_files_are_sealed_into_chunks_tied_to_their_envelope_and_listed_on_the_receipt(
    app: Flask, identity: crypto.Identity
) -> None:
    client = app.test_client()
    parts = [*form_parts(client), ("files", ("паспорт.jpg", "image/jpeg", PHOTO)),
             ("files", ("summons.pdf", "application/pdf", PDF)),
             ("files", ("", "application/octet-stream", b""))]  # fmt: skip  # an empty input: ignored
    response = post(client, "/en/request", parts)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    receipt_of(response)
    assert 'id="files-sent"' in page and "паспорт.jpg" in page and "summons.pdf" in page and "175 KB" in page
    # The envelope's manifest holds each file's key; each blob is tied to that envelope and opens with it
    [payload] = _opened(app, identity)
    files = crypto.check_manifest(payload["files"])
    assert [f.name for f in files] == ["паспорт.jpg", "summons.pdf"] and files[0].type == "image/jpeg"
    stored = {blob_id: envelope_id for blob_id, envelope_id, stager, _ in files_of(app)}
    [(envelope_id, _)] = app.extensions["intake"].storage.envelope_bytes()
    assert stored == {f.blob: envelope_id for f in files}
    for entry, content in zip(files, (PHOTO, PDF), strict=True):
        blob = _blob(app, entry.blob)
        assert len(blob) == filestream.blob_size(len(content)) == entry.blob_size
        assert filestream.open_bytes(blob, entry.sealed()) == content
        assert entry.sha256 == hashlib.sha256(content).hexdigest()
    # and the page that lists them is not kept: the receipt page of the next request lists nothing
    again = post(client, "/en/request", form_parts(client))
    assert 'id="files-sent"' not in again.get_data(as_text=True)


def test_a_followup_carries_files_and_the_status_page_lists_them(app: Flask, identity: crypto.Identity) -> None:
    client = app.test_client()
    receipt = receipt_of(post(client, "/en/request", form_parts(client)))
    check_status(client, receipt)
    token = csrf_token(client, "/en/status")
    digits = receipt.replace(" ", "")
    response = post(client, "/en/status/message", [("csrf_token", token), ("receipt", digits),
                                                    ("message", "Here is the summons."),
                                                    ("files", ("повестка.pdf", "application/pdf", PDF))])  # fmt: skip
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    assert 'id="sent"' in page and 'id="files-sent"' in page and "повестка.pdf" in page
    followup = next(p for p in _opened(app, identity) if crypto.payload_kind(p) == "followup")
    [entry] = crypto.check_manifest(followup["files"])
    assert filestream.open_bytes(_blob(app, entry.blob), entry.sealed()) == PDF


@pytest.fixture
def small(tmp_path: Path, database_url: str, identity: crypto.Identity) -> Iterator[Flask]:
    """Limits small enough to cross: 2 files, 100 KB each, 150 KB in all, 400 KB of files pending."""
    config = IntakeConfig(instance_dir=tmp_path / "instance", database_url=database_url, default_locale="en",
                          global_per_minute=TEST_GLOBAL_PER_MINUTE, files_max=2, file_max_bytes=100_000,
                          files_max_bytes=150_000, pending_max_bytes=400_000)  # fmt: skip
    app = make_app(config, identity)
    yield app
    app.extensions["intake"].storage.dispose()


def _refused(app: Flask, response: Any, status: int, *words: str) -> None:
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert 'id="receipt"' not in page
    assert "NOT been sent" in page and "Choose the files again" in page, page[:2000]
    assert all(w in page for w in words)
    assert "They came to my house." in page  # the story typed is still there
    assert 'id="files-error"' in page  # and the file field says its files were not kept
    assert app.extensions["intake"].storage.envelope_bytes() == []
    assert files_of(app) == []


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ([("a.jpg", b"a" * 10), ("b.jpg", b"b" * 10), ("c.jpg", b"c" * 10)], "more files than we can take"),
        ([("big.jpg", b"x" * 100_001)], "larger than we can take"),
        ([("a.jpg", b"a" * 80_000), ("b.jpg", b"b" * 80_000)], "together are larger"),
    ],
)
def test_files_over_a_limit_are_refused_and_the_answers_kept(small: Flask, files: list[tuple[str, bytes]],
                                                             words: str) -> None:  # fmt: skip
    client = small.test_client()
    parts = form_parts(client) + [("files", (name, "image/jpeg", data)) for name, data in files]
    _refused(small, post(client, "/en/request", parts), 413, words)


def test_files_past_the_pending_cap_in_bytes_get_a_503_that_keeps_the_answers(small: Flask) -> None:
    client = small.test_client()
    for _ in range(4):  # 4 x ~90 KB sealed: under the 400 KB cap
        receipt_of(post(client, "/en/request", [*form_parts(client), ("files", ("a.jpg", "", b"a" * 90_000))]))
    before = files_of(small)
    response = post(client, "/en/request", [*form_parts(client), ("files", ("b.jpg", "", b"b" * 90_000))])
    assert response.status_code == 503 and "NOT been sent" in response.get_data(as_text=True)
    assert "They came to my house." in response.get_data(as_text=True)
    assert files_of(small) == before and len(small.extensions["intake"].storage.envelope_bytes()) == 4
    # A request without files still goes through
    receipt_of(post(client, "/en/request", form_parts(client)))


def test_a_full_disk_while_a_file_arrives_gives_a_503_with_the_answers(app: Flask) -> None:
    client = app.test_client()
    parts = [*form_parts(client), ("files", ("a.jpg", "image/jpeg", PHOTO))]
    with mock.patch.object(BlobWriter, "_flush", side_effect=DiskFullError("the disk is full")):
        response = post(client, "/en/request", parts)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "NOT been sent" in page and "They came to my house." in page
    assert app.extensions["intake"].storage.envelope_bytes() == [] and files_of(app) == []


def test_anything_failing_after_staging_deletes_what_was_staged(app: Flask) -> None:
    client = app.test_client()
    parts = [*form_parts(client), ("files", ("a.jpg", "image/jpeg", PHOTO))]
    with mock.patch("intake.views.seal_encoded_request", side_effect=RuntimeError("boom")):
        response = post(client, "/en/request", parts)
    assert response.status_code == 503  # sealing failed: the answers come back, nothing stays
    assert files_of(app) == []
    parts = [*form_parts(client), ("files", ("a.jpg", "image/jpeg", PHOTO))]
    with mock.patch("intake.views.new_receipt", side_effect=KeyError("unexpected")):
        response = post(client, "/en/request", parts)
    assert response.status_code == 500 and files_of(app) == []


def test_an_invalid_answer_drops_the_files_and_asks_to_choose_them_again(app: Flask) -> None:
    client = app.test_client()
    parts = [*form_parts(client, people="99"), ("files", ("a.jpg", "image/jpeg", PHOTO))]
    response = post(client, "/en/request", parts)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="receipt"' not in page and 'id="files-error"' in page
    assert files_of(app) == []


def test_files_are_staged_only_after_a_valid_csrf_token(app: Flask) -> None:
    client = app.test_client()
    client.get("/en/request")
    parts = [("csrf_token", "1.forged"), *form_parts(client)[1:], ("files", ("a.jpg", "image/jpeg", PHOTO))]
    with mock.patch.object(BlobWriter, "write", side_effect=AssertionError("staged before the CSRF check")):
        response = post(client, "/en/request", parts)
    assert response.status_code == 400 and files_of(app) == []


def test_multipart_is_taken_only_by_the_two_file_endpoints(app: Flask) -> None:
    client = app.test_client()
    for path in ("/en/urgent", "/en/status", "/en/status/delete"):
        body, content_type = encode([("csrf_token", csrf_token(client, "/en/request")), ("x", "y")])
        assert client.post(path, data=body, content_type=content_type).status_code == 415, path


def test_files_off_removes_the_field_and_refuses_multipart(tmp_path: Path, identity: crypto.Identity) -> None:
    config = IntakeConfig.from_env({"INTAKE_INSTANCE_DIR": str(tmp_path / "i"), "INTAKE_FILES": "off",
                                    "INTAKE_DEFAULT_LOCALE": "en"})  # fmt: skip
    assert config.files_enabled is False
    app = make_app(config, identity)
    client = app.test_client()
    page = client.get("/en/request").get_data(as_text=True)
    assert 'type="file"' not in page and "multipart" not in page
    assert post(client, "/en/request", form_parts(client)).status_code == 415
    app.extensions["intake"].storage.dispose()


def test_the_form_page_says_the_limits_and_what_a_file_can_reveal(app: Flask) -> None:
    client = app.test_client()
    english = ["up to 5 files", "25 MB each, 50 MB in all", "several minutes", "screenshot", "faces"]
    russian = ["до 5 файлов", "25 МБ", "50 МБ", "несколько минут", "снимок экрана", "лица"]
    for lang, words in (("en", english), ("ru", russian)):
        page = client.get(f"/{lang}/request").get_data(as_text=True)
        assert 'enctype="multipart/form-data"' in page and 'name="files"' in page and "multiple" in page
        assert all(w in page for w in words), (lang, [w for w in words if w not in page])
        assert len(page.encode()) <= 20_000
    assert 'type="file"' not in client.get("/en/urgent").get_data(as_text=True)  # none on the short path


def test_file_names_lose_path_separators_control_and_bidi_characters(app: Flask, identity: crypto.Identity) -> None:
    client = app.test_client()
    hostile = "..\\..\\evil/\u202egpj.exe\x07"
    response = post(client, "/en/request", [*form_parts(client), ("files", (hostile, "image/jpeg\x01", b"x"))])
    receipt_of(response)
    [payload] = _opened(app, identity)
    [entry] = crypto.check_manifest(payload["files"])
    assert entry.name == "gpj.exe" and entry.type == ""
    assert "\u202e" not in response.get_data(as_text=True)


def test_the_upload_never_uses_werkzeugs_form_parser_or_a_temporary_file(app: Flask) -> None:
    client = app.test_client()
    parts = [*form_parts(client), ("files", ("a.jpg", "image/jpeg", PHOTO * 8))]
    refuse = mock.Mock(side_effect=AssertionError("a temporary file or werkzeug's parser was used"))
    with mock.patch("tempfile.TemporaryFile", refuse), mock.patch("tempfile.NamedTemporaryFile", refuse), \
            mock.patch("tempfile.SpooledTemporaryFile", refuse), mock.patch("tempfile.mkstemp", refuse), \
            mock.patch("werkzeug.formparser.default_stream_factory", refuse), \
            mock.patch("werkzeug.formparser.MultiPartParser.parse", refuse), \
            mock.patch("werkzeug.formparser.FormDataParser.parse", refuse):  # fmt: skip
        response = post(client, "/en/request", parts)
    receipt_of(response)
    assert refuse.call_count == 0 and len(files_of(app)) == 1


class _GeneratedBody(io.RawIOBase):
    """A multipart body made as it is read (head, ``size`` filler bytes, tail): never whole in the test either."""

    def __init__(self, head: bytes, size: int, tail: bytes) -> None:
        self.head, self.size, self.tail, self.position = head, size, tail, 0
        self.length = len(head) + size + len(tail)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = {0: offset, 1: self.position + offset, 2: self.length + offset}[whence]
        return self.position

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.length - self.position, 65536)
        if n <= 0:
            return 0
        start, end = self.position, self.position + n
        filler_start, filler_end = len(self.head), len(self.head) + self.size
        filler = b"\xa5" * max(0, min(end, filler_end) - max(start, filler_start))
        tail = self.tail[max(0, start - filler_end) : max(0, end - filler_end)]
        piece = self.head[start : min(end, filler_start)] + filler + tail
        buffer[:n] = piece
        self.position = end
        return n


def test_a_large_upload_never_holds_the_file_in_memory(sqlite_app: Flask) -> None:
    import tracemalloc

    client = sqlite_app.test_client()
    size = 20 * 1024 * 1024
    boundary = "----IntakeMemoryBoundary"
    text, _ = encode(form_parts(client), boundary)
    head = text[: -len(f"--{boundary}--\r\n")] + (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = _GeneratedBody(head, size, tail)
    tracemalloc.start()
    try:
        response = client.post("/en/request", input_stream=body,
                               content_type=f"multipart/form-data; boundary={boundary}",
                               content_length=len(head) + size + len(tail))  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    receipt_of(response)
    assert [s for _, _, _, s in files_of(sqlite_app)] == [filestream.blob_size(size)]
    # One chunk row (512 KiB), one sealed chunk, a read, and the first request's page caches: far below the 20 MiB
    # file (measured: 2.6 MiB in all for a 20 MiB file, the same as for a 1 MiB one once the caches are warm)
    assert peak < 6 * 1024 * 1024, peak


def test_after_the_request_nothing_is_left_staged(app: Flask) -> None:
    client = app.test_client()
    receipt_of(post(client, "/en/request", [*form_parts(client), ("files", ("a.jpg", "", PHOTO))]))
    assert [stager for _, _, stager, _ in files_of(app)] == [None]


def test_export_blobs_gives_only_blobs_of_stored_envelopes(app: Flask) -> None:
    storage = app.extensions["intake"].storage
    writer = BlobWriter(storage, b"s" * 16, datetime.date.today(), 1 << 30)
    writer.write(b"staged only")
    writer.close()
    assert list(storage.export_blobs()) == []
    client = app.test_client()
    receipt_of(post(client, "/en/request", [*form_parts(client), ("files", ("a.jpg", "", PDF))]))
    [blob] = list(storage.export_blobs())
    assert blob.size == filestream.blob_size(len(PDF)) == len(b"".join(blob.chunks()))


def test_sqlites_driver_rows_are_the_rows_sqlalchemy_writes_elsewhere(sqlite_app: Flask) -> None:
    """On SQLite a staged row goes through the driver (cheaper); it must read back as the Core path's does."""
    from sqlalchemy import select

    from intake.database import StorageFullError
    from intake.tables import blob_chunks, blobs

    storage = sqlite_app.extensions["intake"].storage
    day = datetime.date(2026, 12, 2)
    fast = BlobWriter(storage, b"f" * 16, day, 1 << 30)
    core = BlobWriter(storage, b"c" * 16, day, 1 << 30)
    data = bytes(range(256)) * 3000  # 768,000 bytes: two rows
    for writer in (fast, core):
        if writer is core:  # the path PostgreSQL takes, forced here on the same database
            writer._flush = lambda row, w=writer: _core_flush(w, storage, row)  # type: ignore[method-assign]
        writer.write(data)
        writer.close()
    with storage.reading() as conn:
        rows = {bytes(r.id): r for r in conn.execute(select(blobs))}
        chunks = {blob_id: [bytes(c.data) for c in conn.execute(
            select(blob_chunks).where(blob_chunks.c.blob_id == blob_id).order_by(blob_chunks.c.seq))]
            for blob_id in rows}  # fmt: skip
    one, other = rows[fast.blob_id], rows[core.blob_id]
    assert (one.envelope_id, one.size, one.staged_on) == (other.envelope_id, other.size, other.staged_on)
    assert one.staged_on == day and one.size == len(data) and bytes(one.stager) == b"f" * 16
    assert b"".join(chunks[fast.blob_id]) == b"".join(chunks[core.blob_id]) == data
    assert [len(c) for c in chunks[fast.blob_id]] == [len(c) for c in chunks[core.blob_id]]
    # The day reads back as the staging clean-up compares it: a blob staged long ago is deleted
    old = BlobWriter(storage, b"o" * 16, day - datetime.timedelta(days=3), 1 << 30)
    old.write(b"left over")
    old.close()
    sqlite_app.extensions["intake"].stager.clean_dead(storage, day)
    with storage.reading() as conn:
        assert old.blob_id not in {bytes(r.id) for r in conn.execute(select(blobs.c.id))}
    # And the cap in bytes holds on the driver path
    capped = BlobWriter(storage, b"x" * 16, day, 2 * len(data) + 10)
    with pytest.raises(StorageFullError):
        capped.write(b"x" * 600_000)


def _core_flush(writer: BlobWriter, storage: Any, row: bytes) -> None:
    with storage.writing() as conn:
        writer._row(conn, row)
    writer.created = True
    writer._seq += 1
    writer.stored += len(row)
