"""A case's files on the laptop: listed from their manifests, opened only into memory or a chosen folder.

A request (and each of its follow-ups) names its files in a manifest inside its envelope (``files``,
``crypto.manifest``): the name as the person's browser sent it, the type it claimed, the size, the
SHA-256 of the content and of the stored blob, and the only copy of each file's key. The blobs stay
sealed in the blob store (``triage.blobs``) exactly as imported. Here:

* ``case_files(session, case)`` lists them, numbered as `triage attachment ID N` takes them (the
  request's first, then each follow-up's, oldest first), each with the type its own first bytes give
  (never the name or the claimed type), and whether its blob is here at all.
* ``read_file(...)`` opens one into memory, with a size bound (the safe view hands it to its box
  through a pipe), checking every chunk and both digests before returning anything.
* ``save_original(...)`` streams one into a folder the caseworker chose, under a name made safe for
  the laptop's file systems, never over an existing file, all or nothing, and returns its SHA-256.

Nothing here opens a file with the laptop's own applications or writes plaintext anywhere else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import crypto
from crypto.filestream import open_file
from crypto.manifest import FileEntry, check_manifest
from triage.blobs import BlobStore
from triage.errors import HomeError, TriageError
from triage.i18n import N_
from triage.safeview.sandbox import detect_type

if TYPE_CHECKING:
    from triage.cases import Case
    from triage.operations import Session

HEAD_BYTES = 4096
# What the first entries of a ZIP name when it is an Office Open XML or OpenDocument file.
OFFICE_MARKS = (b"[Content_Types].xml", b"word/", b"xl/", b"ppt/", b"mimetypeapplication/vnd.oasis")
MAX_IN_MEMORY = 64 * 1024 * 1024  # the safe view's own input bound
MAX_SAVED_NAME_BYTES = 200  # below every file system's 255, with room for " (12)"
# Characters that Windows, FAT32 and exFAT (a USB stick) refuse, or that shells and file managers treat specially.
_REFUSED = set('<>:"/\\|?*') | {"\x00"}
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
TYPE_WORDS = {
    "image/jpeg": N_("JPEG photo"), "image/png": N_("PNG picture"), "image/gif": N_("GIF picture"),
    "image/webp": N_("WebP picture"), "image/heic": N_("HEIC photo (iPhone)"), "image/tiff": N_("TIFF picture"),
    "image/bmp": N_("BMP picture"), "application/pdf": N_("PDF document"),
    "application/zip": N_("ZIP archive"), "application/x-office": N_("Office document (ZIP inside)"),
    "application/x-ole-storage": N_("old Office document"), "text/plain": N_("plain text"),
    "application/octet-stream": N_("unknown"), "": N_("not here"),
}  # fmt: skip


class AttachmentError(TriageError):
    """A file that cannot be listed, opened or saved as asked; the sentence says why and what to do."""


@dataclass(frozen=True)
class Attachment:
    number: int  # from 1, as `triage attachment ID N` takes it
    entry: FileEntry
    sent_on: str
    in_followup: bool
    present: bool
    detected: str  # from the content's first bytes; "" when the blob is not here or does not open

    @property
    def damaged(self) -> bool:
        """Its blob is here but its first chunk does not open with the manifest's key."""
        return self.present and not self.detected

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def claimed(self) -> str:
        return self.entry.type

    @property
    def size(self) -> int:
        return self.entry.size

    @property
    def sha256(self) -> str:
        return self.entry.sha256

    @property
    def differs(self) -> bool:
        """The claimed type is not what the content is (worth a caseworker's second look)."""
        return bool(self.detected and self.claimed) and self.detected.split("/")[0] != self.claimed.split("/")[0]


def blob_store(session: Session) -> BlobStore:
    """The blob store beside the case store (CONTRACTS §4: a ``blobs`` folder in the store's folder)."""
    return BlobStore.beside(session.store.path)


def detect(head: bytes) -> str:
    """The type the first bytes give: safeview's signatures, Office inside a ZIP, plain UTF-8 text."""
    found = detect_type(head)
    if found == "application/zip" and any(mark in head for mark in OFFICE_MARKS):
        return "application/x-office"
    if found == "application/octet-stream" and head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as cut:
            text = head[: cut.start].decode("utf-8") if cut.start >= len(head) - 3 else ""
        if text and all(ch in "\t\n\r" or unicodedata.category(ch)[0] != "C" for ch in text):
            return "text/plain"
    return found


def manifests(session: Session, case: Case) -> list[tuple[str, bool, tuple[FileEntry, ...]]]:
    """(day sent, from a follow-up, entries) for the request and each follow-up of the case that has files."""
    out: list[tuple[str, bool, tuple[FileEntry, ...]]] = []
    if case.request.get("files"):
        out.append((str(case.request.get("submitted_on")), False, check_manifest(case.request["files"])))
    for message in case.record.thread:
        if message.get("dir") != "in" or not message.get("id"):
            continue
        row = session.store.db.execute("SELECT envelope FROM followups WHERE entry_id = ?",
                                       (bytes.fromhex(str(message["id"])),)).fetchone()  # fmt: skip
        if row is None:
            continue
        try:
            payload = crypto.open_envelope(bytes(row[0]), session.identity)
        except crypto.CryptoError:
            continue  # the thread already holds its words; a follow-up that no longer opens names no file
        if payload.get("files"):
            out.append((str(payload.get("submitted_on")), True, check_manifest(payload["files"])))
    return out


def case_files(session: Session, case: Case) -> list[Attachment]:
    """Every file of the case, numbered from 1, with its detected type and whether its blob is here."""
    blobs = blob_store(session)
    found: list[Attachment] = []
    for sent_on, in_followup, entries in manifests(session, case):
        for entry in entries:
            present = blobs.has(entry.blob)
            head = _head(blobs, entry) if present else b""
            detected = detect(head) if head or (present and entry.size == 0 and _opens(blobs, entry)) else ""
            found.append(Attachment(len(found) + 1, entry, sent_on, in_followup, present, detected))
    return found


def pick(files: list[Attachment], number: int) -> Attachment:
    if not files:
        raise AttachmentError(N_("This case has no files."))
    if not 1 <= number <= len(files):
        raise AttachmentError(N_("This case has files 1 to %(count)s; there is no file %(number)s."),
                              count=len(files), number=number)  # fmt: skip
    chosen = files[number - 1]
    if not chosen.present:
        raise AttachmentError(N_("File %(number)s is not on this laptop: its bundle did not carry it. Ask the "
                                 "operator for a fresh export."), number=number)  # fmt: skip
    return chosen


class _Enough(Exception):
    pass


def _stream(blobs: BlobStore, entry: FileEntry, write: Callable[[bytes], object]) -> None:
    """``open_file`` over the stored blob: every chunk authenticated, the digests checked at the end."""
    path = blobs.path(entry.blob)
    try:
        with blobs.open(entry.blob) as handle:
            open_file(handle.read, write, key=entry.key, size=entry.size, sha256=entry.sha256,
                      blob_sha256=entry.blob_sha256, blob_length=os.fstat(handle.fileno()).st_size)  # fmt: skip
    except (crypto.TamperedError, crypto.MalformedError, crypto.UnsupportedVersionError):
        raise AttachmentError(DAMAGED) from None
    except (FileNotFoundError, HomeError):  # gone since it was listed
        raise AttachmentError(N_("This file is not on this laptop: its bundle did not carry it.")) from None
    except OSError as failure:
        raise AttachmentError(N_("Could not read the stored file %(path)s: %(why)s."), path=path,
                              why=failure.strerror or "input/output error") from None  # fmt: skip


def _head(blobs: BlobStore, entry: FileEntry) -> bytes:
    """The first bytes of the content (from the first chunk, which authenticates on its own); b"" if it fails."""
    got = bytearray()

    def keep(data: bytes) -> None:
        got.extend(data[: HEAD_BYTES - len(got)])
        if len(got) >= HEAD_BYTES:
            raise _Enough

    with contextlib.suppress(_Enough, AttachmentError):
        _stream(blobs, entry, keep)
    return bytes(got)


def _opens(blobs: BlobStore, entry: FileEntry) -> bool:
    try:
        _stream(blobs, entry, lambda _data: None)
    except AttachmentError:
        return False
    return True


DAMAGED = N_("This file's stored copy is damaged or is not the one its request names; it was not opened. Ask the "
             "operator for a fresh export.")  # fmt: skip


def read_file(blobs: BlobStore, entry: FileEntry, *, limit: int = MAX_IN_MEMORY) -> bytes:
    """The whole content in memory, checked; AttachmentError past ``limit`` or if it does not verify."""
    if entry.size > limit:
        raise AttachmentError(N_("This file is too large to show here (%(size)s bytes; at most %(limit)s)."),
                              size=entry.size, limit=limit)  # fmt: skip
    out = bytearray()
    _stream(blobs, entry, out.extend)
    return bytes(out)


def safe_file_name(name: str) -> str:
    """The manifest's name (already without separators or control characters) made safe on any file system:
    no character FAT32, exFAT or Windows refuse, no leading dot or dash, no reserved device name, no trailing
    dot or space, at most ``MAX_SAVED_NAME_BYTES`` bytes of UTF-8 with the extension kept."""
    name = unicodedata.normalize("NFC", name)
    kept = "".join("_" if ch in _REFUSED or (unicodedata.category(ch)[0] in "CZ" and ch != " ") else ch for ch in name)
    kept = " ".join(kept.split()).strip(" .")
    kept = kept.lstrip("-.") or "file"
    stem, dot, extension = kept.rpartition(".")
    if not dot or not stem or len(extension) > 10:
        stem, extension = kept, ""
    if stem.lower() in _RESERVED:
        stem = "_" + stem
    suffix = f".{extension}" if extension else ""
    while len((stem + suffix).encode("utf-8")) > MAX_SAVED_NAME_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(" .") or "file") + suffix


def free_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name (2)``, ``(3)`` … when that exists: a saved file never replaces another."""
    stem, dot, extension = name.rpartition(".")
    stem, suffix = (stem, "." + extension) if dot and stem else (name, "")
    for number in range(1, 1000):
        candidate = folder / (name if number == 1 else f"{stem} ({number}){suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise AttachmentError(N_("The folder already holds too many files of that name; choose another folder."))


@dataclass(frozen=True)
class Saved:
    path: Path
    sha256: str
    size: int
    how: str = "original"  # or "mat2", "pictures"
    pages_left_out: int = 0


def usable_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise AttachmentError(N_("There is no folder %(path)s; create it first or choose another."), path=folder)
    return folder


def write_new(folder: Path, name: str, fill: Callable[[Callable[[bytes], Any]], None]) -> tuple[Path, str, int]:
    """Write a new file ``name`` in ``folder`` through ``fill(write)``: all or nothing, never over another file.

    The bytes go to a hidden file in the same folder (0600, O_EXCL) that is linked to its final name only when
    ``fill`` returned; on any failure it is removed. Returns the path, the SHA-256 and the size written.
    """
    usable_folder(folder)
    partial = folder / f".triage-partial-{secrets.token_hex(8)}"
    digest, size = hashlib.sha256(), 0
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as failure:
        raise AttachmentError(N_("Could not write in %(path)s: %(why)s."), path=folder,
                              why=failure.strerror or "input/output error") from None  # fmt: skip
    try:
        with os.fdopen(fd, "wb") as out:

            def write(data: bytes) -> None:
                nonlocal size
                digest.update(data)
                size += len(data)
                out.write(data)

            fill(write)
            out.flush()
            os.fsync(out.fileno())
        for _ in range(5):  # link refuses an existing name: a file appearing meanwhile is never replaced
            final = free_path(folder, name)
            try:
                os.link(partial, final)
                break
            except FileExistsError:
                continue
        else:
            raise AttachmentError(N_("Could not find a free name in %(path)s; choose another folder."), path=folder)
    except OSError as failure:
        raise AttachmentError(N_("Could not write in %(path)s: %(why)s."), path=folder,
                              why=failure.strerror or "input/output error") from None  # fmt: skip
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial)
    return final, digest.hexdigest(), size


def save_original(blobs: BlobStore, attachment: Attachment, folder: Path) -> Saved:
    """The file exactly as the person sent it, into ``folder``; its SHA-256 is the manifest's."""
    path, digest, size = write_new(folder, safe_file_name(attachment.name),
                                   lambda write: _stream(blobs, attachment.entry, write))  # fmt: skip
    return Saved(path, digest, size)
