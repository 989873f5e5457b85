"""A multipart/form-data body read as a stream: text parts become the form's fields, files are sealed as they arrive.

Only the request form and the status page's follow-up form post multipart (intake.uploads decides). The body
is read in bounded pieces (``READ`` bytes) and handed to python-multipart's low-level ``MultipartParser``,
which keeps no part whole and never touches a disk (its ``FormParser``, which spools files, is not used;
neither is werkzeug's form parser, which spools parts to temporary files). Each text part is collected up
to the text bound; each file part goes straight into a ``crypto.filestream.FileSealer`` whose ciphertext
goes to a blob writer (intake.blobs), so at most one sealed chunk and one chunk row are in memory.

A limit crossed by the files (too many, one too large, all too large, the server's space) does not stop the
reading: the files are dropped, and the rest of the text is still read so that the person's answers come
back to them (``Upload.refused`` says why). A body that is not well-formed multipart (no boundary, a part
without an end, bad headers, too many parts, too much text) raises ``MalformedUpload``: nothing of it is
kept. In both cases the caller deletes what was staged (``Upload.staged``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from werkzeug.datastructures import MultiDict

from crypto.filestream import FileSealer, SealedFile
from crypto.manifest import clean_type, sanitize_name
from intake.database import DiskFullError, StorageFullError

READ = 64 * 1024
FILE_FIELD = "files"
_HEADER_BYTES = 4096  # the most a part's headers may take in all
# python-multipart logs the byte it stumbled on: a byte of the body must never reach a log (invariant 2).
_SILENT = logging.getLogger("intake.multipart.silent")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False
_SILENT.setLevel(logging.CRITICAL + 1)


class MalformedUpload(Exception):
    """The body is not a multipart form we can read; ``reason`` says which way (never any of its bytes)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BlobSink(Protocol):
    blob_id: bytes

    def write(self, ciphertext: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class FileLimits:
    max_files: int
    max_file_bytes: int
    max_total_bytes: int
    max_text_bytes: int
    max_parts: int

    @property
    def max_body_bytes(self) -> int:
        """Past this a body is not read at all: too large even to give the answers back (a 413 page)."""
        return 2 * (self.max_total_bytes + self.max_text_bytes) + (1 << 20)


@dataclass(frozen=True)
class ReceivedFile:
    blob_id: bytes
    name: str
    claimed_type: str
    sealed: SealedFile


@dataclass
class Upload:
    fields: MultiDict[str, str] = field(default_factory=MultiDict)
    files: list[ReceivedFile] = field(default_factory=list)
    staged: list[bytes] = field(default_factory=list)
    refused: str | None = None  # "too_many", "too_large", "total_too_large", "full", "disk_full"
    chose_files: bool = False  # a file was chosen (kept or not): a page shown instead of the receipt says so


def boundary_of(content_type: str) -> bytes:
    mimetype, options = parse_options_header(content_type)
    boundary = options.get(b"boundary", b"")
    if mimetype != b"multipart/form-data" or not 1 <= len(boundary) <= 70:
        raise MalformedUpload("no_boundary")
    return boundary


def _text(raw: bytes) -> str:
    # Browsers send names and file names as UTF-8 (what the page is); python-multipart hands them as latin-1.
    return raw.decode("utf-8", "replace")


class _Reader:
    def __init__(self, limits: FileLimits, open_blob: Callable[[], BlobSink] | None,
                 allow_files: Callable[[MultiDict[str, str]], bool]) -> None:  # fmt: skip
        self.limits = limits
        self.open_blob = open_blob
        self.allow_files = allow_files
        self.upload = Upload()
        self.ended = False
        self.parts = 0
        self.text_bytes = 0
        self.file_bytes = 0
        self.checked = False
        self.discarding = open_blob is None
        self._reset()

    def _reset(self) -> None:
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.header_bytes = 0
        self.kind = ""  # "text", "file", "skip"
        self.name = ""
        self.value = bytearray()
        self.sealer: FileSealer | None = None
        self.sink: BlobSink | None = None
        self.file_name = ""
        self.file_type = ""
        self.this_file = 0

    # --- parser callbacks --------------------------------------------------------------------------------

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise MalformedUpload("too_many_parts")
        self._reset()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_grow(end - start)
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_grow(end - start)
        self.header_value += data[start:end]

    def _header_grow(self, n: int) -> None:
        self.header_bytes += n
        if self.header_bytes > _HEADER_BYTES:
            raise MalformedUpload("headers_too_large")

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_name).lower().strip()] = bytes(self.header_value).strip()
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self.headers.get(b"content-disposition", b"").decode("latin-1"))
        if disposition != b"form-data" or b"name" not in options:
            raise MalformedUpload("no_disposition")
        self.name = _text(options[b"name"])
        if b"filename" not in options:
            self.kind = "text"
            return
        if self.name != FILE_FIELD:
            raise MalformedUpload("file_in_a_text_field")
        raw_name = options[b"filename"]
        if not raw_name:
            self.kind = "skip"  # a file input left empty: browsers send a part with filename="" and no bytes
            return
        self._start_file(_text(raw_name), _text(self.headers.get(b"content-type", b"")))

    def _start_file(self, name: str, claimed_type: str) -> None:
        self.upload.chose_files = True
        if not self.checked:
            self.checked = True  # the fields before the first file decide (the CSRF token comes first)
            if not self.allow_files(self.upload.fields):
                self.discarding = True
        if self.discarding:
            self.kind = "skip"
            return
        if len(self.upload.files) >= self.limits.max_files:
            self._refuse("too_many")
            self.kind = "skip"
            return
        assert self.open_blob is not None
        self.kind = "file"
        self.sealer = FileSealer(max_size=self.limits.max_file_bytes)
        self.sink = self.open_blob()
        self.upload.staged.append(self.sink.blob_id)
        self.file_name, self.file_type = sanitize_name(name), clean_type(claimed_type)

    def _refuse(self, reason: str) -> None:
        if self.upload.refused is None:
            self.upload.refused = reason
        self.discarding = True
        self.sealer = self.sink = None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        if self.kind == "text":
            self.text_bytes += n
            if self.text_bytes > self.limits.max_text_bytes:
                raise MalformedUpload("text_too_large")
            self.value += data[start:end]
        elif self.kind == "file":
            assert self.sealer is not None and self.sink is not None
            self.file_bytes += n
            if self.file_bytes > self.limits.max_total_bytes:
                self._refuse("total_too_large")
                self.kind = "skip"
                return
            self.this_file += n
            if self.this_file > self.limits.max_file_bytes:
                self._refuse("too_large")
                self.kind = "skip"
                return
            try:
                self.sink.write(self.sealer.write(bytes(data[start:end])))
            except DiskFullError:
                self._refuse("disk_full")
                self.kind = "skip"
            except StorageFullError:
                self._refuse("full")
                self.kind = "skip"

    def on_part_end(self) -> None:
        if self.kind == "text":
            self.upload.fields.add(self.name, _text(bytes(self.value)))
        elif self.kind == "file":
            assert self.sealer is not None and self.sink is not None
            try:
                tail, facts = self.sealer.finish()
                self.sink.write(tail)
                self.sink.close()
            except DiskFullError:
                self._refuse("disk_full")
            except StorageFullError:
                self._refuse("full")
            else:
                self.upload.files.append(ReceivedFile(self.sink.blob_id, self.file_name, self.file_type, facts))
        self._reset()

    def on_end(self) -> None:
        self.ended = True


def read_multipart(
    read: Callable[[int], bytes], length: int | None, content_type: str, limits: FileLimits,
    open_blob: Callable[[], BlobSink] | None, allow_files: Callable[[MultiDict[str, str]], bool],
    *, upload: Upload | None = None,
) -> Upload:  # fmt: skip
    """Read the whole body (``length`` bytes, or to the end when None) and return its fields and files.

    ``open_blob`` None: files are read and dropped (a refused request whose answers go back). ``allow_files``
    is asked once, with the fields before the first file, whether to keep files at all. ``upload``, when
    given, is filled in as the reading goes, so that a caller can delete what was staged even when this
    raises. Raises MalformedUpload; any error of ``read`` or the blob writer passes through.
    """
    boundary = boundary_of(content_type)
    if length is not None and length > limits.max_body_bytes:
        raise MalformedUpload("body_too_large")
    reader = _Reader(limits, open_blob, allow_files)
    if upload is not None:
        reader.upload = upload
    callbacks: Any = {name: getattr(reader, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished", "on_end")}  # fmt: skip
    parser = MultipartParser(boundary, callbacks, max_header_count=8, max_header_size=2 * _HEADER_BYTES)
    parser.logger = _SILENT
    remaining = length if length is not None else limits.max_body_bytes + 1
    while remaining > 0:
        data = read(min(READ, remaining))
        if not data:
            break
        remaining -= len(data)
        if length is None and remaining <= 0:
            raise MalformedUpload("body_too_large")
        try:
            parser.write(data)
        except FormParserError:
            raise MalformedUpload("not_multipart") from None
        if reader.ended:
            break
    if length is not None and remaining > 0 and not reader.ended:
        raise MalformedUpload("body_cut_short")
    if not reader.ended:
        raise MalformedUpload("no_end")
    return reader.upload
