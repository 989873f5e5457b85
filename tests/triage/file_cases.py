"""Cases with files, built the way they arrive: real files sealed with crypto.filestream, a manifest in the
sealed payload, envelopes and blobs in a signed version 5 bundle imported through the CLI (which keeps the
blobs in the laptop's blob store, HOME/blobs).

``photo_with_gps()`` is a real JPEG (made with Pillow) whose EXIF says where and on which phone it was taken;
``document_pdf()`` a real two-page PDF with an author; ``file_home(...)`` imports a request carrying them
(and a follow-up carrying a third file) and returns the case id and the files as sent.
"""

from __future__ import annotations

import datetime
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

import crypto
from crypto.filestream import seal_bytes
from crypto.manifest import manifest_entry
from tests.triage.files_setup import write_v5
from tests.triage.helpers import TODAY, Server, Triage, make_request
from triage.blobs import BlobStore
from triage.home import Home

SECRET = bytes(range(32))
RECEIPT = "7" * 10 + "8" * 10 + "9" * 10
GPS = (43.31, 45.69)  # what photo_with_gps() says, rounded as the safe view reads it
DEVICE = "Samsung SM-A515F"


def photo_with_gps(size: tuple[int, int] = (640, 480)) -> bytes:
    picture = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Samsung", "SM-A515F", "2026:11:20 14:03:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (43.0, 18.0, 36.0), "E", (45.0, 41.0, 24.0)
    out = io.BytesIO()
    picture.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def document_pdf(pages: int = 2, colour: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    images = [Image.new("RGB", (595, 842), colour) for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], author="Иван Петров",
                   title="Повестка")  # fmt: skip
    return out.getvalue()


@dataclass
class SentFile:
    name: str
    claimed: str
    data: bytes
    entry: dict[str, Any]
    blob: bytes


def seal(name: str, claimed: str, data: bytes) -> SentFile:
    blob_id = os.urandom(16)
    blob, facts = seal_bytes(data)
    return SentFile(name, claimed, data, manifest_entry(facts, blob_id, name, claimed), blob)


def reply_key() -> str:
    return crypto.derive_reply_keypair(RECEIPT, SECRET).public.to_b64()


def request_with(files: list[SentFile], **fields: Any) -> dict[str, Any]:
    return make_request(schema=2, kind="request", reply_key=reply_key(), files=[f.entry for f in files], **fields)


def followup_with(files: list[SentFile], message: str, day: datetime.date = TODAY) -> dict[str, Any]:
    return {"schema": 2, "kind": "followup", "locale": "ru", "submitted_on": day, "reply_key": reply_key(),
            "message": message, "files": [f.entry for f in files]}  # fmt: skip


@dataclass
class FileHome:
    triage: Triage
    case_id: str
    files: list[SentFile]  # in the order `triage attachment ID N` numbers them
    blobs: BlobStore


def file_home(triage: Triage, tmp_path: Path, request_files: list[SentFile], followup_files: list[SentFile] = (),
              *, store_blobs: bool = True) -> FileHome:  # type: ignore[assignment]  # fmt: skip
    server = Server()
    alice = triage.keygen("Alice")
    entries = [server.entry(request_with(request_files, story="Фото повестки и справка."), [alice])]
    if followup_files:
        server.high_water += 1
        envelope = crypto.seal_followup(followup_with(list(followup_files), "Ещё один документ."),
                                        for_recipients=[alice])  # fmt: skip
        entries.append(crypto.BundleEntry(os.urandom(16), server.high_water, envelope, (alice.fingerprint,)))
    (tmp_path / "usb").mkdir(exist_ok=True)
    everything = [*request_files, *followup_files]
    carried = [crypto.ExportBlob(bytes.fromhex(f.entry["blob"]), len(f.blob), _once(f.blob)) for f in everything]
    bundle = write_v5(server, tmp_path / "usb" / "export-1.bundle", entries, [alice], carried)
    triage.ok("import", bundle)
    blobs = BlobStore.beside(Home(triage.home).store_path)
    if not store_blobs:  # a blob gone from the laptop after the import (deleted, a restore without it)
        for sent in everything:
            blobs.delete(bytes.fromhex(sent.entry["blob"]))
    return FileHome(triage, entries[0].entry_id.hex()[:8], everything, blobs)


def _once(data: bytes) -> Any:
    def chunks() -> Iterator[bytes]:
        yield data

    return chunks
