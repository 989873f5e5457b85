"""The file manifest: what a request or follow-up envelope says about the files sent with it.

docs/FORMAT.md §13.3. A payload's ``files`` key (absent when no file was sent) is a list of 1 to
``MAX_FILES`` entries, one per sealed file (``crypto.filestream``), each with exactly the keys of
``FileEntry``. The manifest travels inside the one-size envelope: it holds the only copy of each file's
key, and the blob's SHA-256, so a blob swapped from another request or replaced is refused when it is
opened. Its worst-case encoded size, ``MANIFEST_WORST_BYTES``, is part of every size computation
(``crypto.request_schema``, ``crypto.questionnaire_size``), so a request with files seals to the same one
size as a request without.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crypto.errors import MalformedError
from crypto.filestream import MAX_FILE_BYTES, SealedFile, blob_size

MAX_FILES = 5  # the format's bound; a server may accept fewer (INTAKE_FILES_MAX)
MAX_NAME_CHARS = 120
MAX_TYPE_CHARS = 100
BLOB_ID_BYTES = 16
FALLBACK_NAME = "file"
ENTRY_KEYS = ("blob", "blob_sha256", "blob_size", "key", "name", "sha256", "size", "type")

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
# Unicode categories never kept in a name: control (Cc), format (Cf: bidi overrides and isolates, zero-width
# characters), surrogates (Cs), private use (Co), unassigned (Cn), and line and paragraph separators (Zl, Zp).
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@dataclass(frozen=True)
class FileEntry:
    blob: bytes
    key: bytes
    name: str
    type: str
    size: int
    sha256: str
    blob_size: int
    blob_sha256: str

    def sealed(self) -> SealedFile:
        """The facts ``crypto.filestream.open_file`` checks a blob against."""
        return SealedFile(self.key, self.size, self.sha256, self.blob_size, self.blob_sha256)


def sanitize_name(name: str) -> str:
    """A file name as given, safe to show: NFC, no path separator, no control, bidi or format character.

    What a browser sends may be a path (old browsers sent ``C:\\Users\\...``): only its last part is kept.
    Dropped characters are removed, not replaced; white space is collapsed; the result is cut to
    ``MAX_NAME_CHARS`` characters; a name left empty becomes ``"file"``.
    """
    if not isinstance(name, str):
        return FALLBACK_NAME
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(" " if c.isspace() else c for c in name)  # a tab or a line break is a space, not nothing
    kept = "".join(c for c in name if unicodedata.category(c) not in _DROPPED_CATEGORIES and c not in "/\\")
    kept = " ".join(kept.split())
    kept = unicodedata.normalize("NFC", kept)[:MAX_NAME_CHARS]
    # Cutting may leave a trailing combining mark's base out, or NFC may change once more: settle it.
    while kept and unicodedata.normalize("NFC", kept) != kept:
        kept = unicodedata.normalize("NFC", kept)[:MAX_NAME_CHARS]
    kept = kept.strip()
    if kept in ("", ".", ".."):
        return FALLBACK_NAME
    return kept


def clean_type(claimed: str) -> str:
    """The claimed media type as the manifest keeps it: printable ASCII, at most 100 characters, else ""."""
    if not isinstance(claimed, str):
        return ""
    claimed = claimed.strip()
    if len(claimed) > MAX_TYPE_CHARS or not _PRINTABLE_ASCII.fullmatch(claimed):
        return ""
    return claimed


def manifest_entry(sealed: SealedFile, blob_id: bytes, name: str, claimed_type: str) -> dict[str, Any]:
    """The manifest entry of one sealed file, in the form ``check_manifest`` accepts."""
    if len(blob_id) != BLOB_ID_BYTES:
        raise ValueError("a blob id is 16 bytes")
    return {
        "blob": blob_id.hex(), "key": sealed.key.hex(), "name": sanitize_name(name), "type": clean_type(claimed_type),
        "size": sealed.size, "sha256": sealed.sha256, "blob_size": sealed.blob_size, "blob_sha256": sealed.blob_sha256,
    }  # fmt: skip


def _hex(entry: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise MalformedError(f"a file entry's {key} is not {what}")
    return value


def _int(entry: Mapping[str, Any], key: str, top: int) -> int:
    value = entry.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise MalformedError(f"a file entry's {key} is not a whole number from 0 to {top}")
    return value


def check_entry(entry: Any) -> FileEntry:
    if not isinstance(entry, Mapping):
        raise MalformedError("a file entry is an object")
    if sorted(entry) != list(ENTRY_KEYS):
        raise MalformedError("a file entry has exactly the keys " + ", ".join(ENTRY_KEYS))
    name = entry["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS or sanitize_name(name) != name:
        raise MalformedError("a file entry's name is not a sanitised name of 1 to 120 characters")
    claimed = entry["type"]
    if not isinstance(claimed, str) or clean_type(claimed) != claimed:
        raise MalformedError("a file entry's type is not printable ASCII of at most 100 characters")
    size = _int(entry, "size", MAX_FILE_BYTES)
    stored = _int(entry, "blob_size", blob_size(MAX_FILE_BYTES))
    if stored != blob_size(size):
        raise MalformedError("a file entry's blob_size is not the sealed size of its size")
    return FileEntry(
        blob=bytes.fromhex(_hex(entry, "blob", _HEX32, "32 lowercase hex digits")),
        key=bytes.fromhex(_hex(entry, "key", _HEX64, "64 lowercase hex digits")),
        name=name, type=claimed, size=size, sha256=_hex(entry, "sha256", _HEX64, "64 lowercase hex digits"),
        blob_size=stored, blob_sha256=_hex(entry, "blob_sha256", _HEX64, "64 lowercase hex digits"),
    )  # fmt: skip


def check_manifest(value: Any) -> tuple[FileEntry, ...]:
    """A payload's ``files`` value checked: 1 to MAX_FILES entries, distinct blobs (MalformedError otherwise)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_FILES:
        raise MalformedError(f"a payload's files are a list of 1 to {MAX_FILES} entries")
    entries = tuple(check_entry(entry) for entry in value)
    if len({entry.blob for entry in entries}) != len(entries):
        raise MalformedError("a payload names the same blob twice")
    return entries


def normalize_manifest(value: Any) -> list[dict[str, Any]]:
    """The ``files`` value as the canonical payload holds it (entries in the order given)."""
    return [manifest_entry(e.sealed(), e.blob, e.name, e.type) for e in check_manifest(value)]


def worst_entry() -> dict[str, Any]:
    # Each name character at its widest (4 UTF-8 bytes), each type character escaped (2 bytes: '"' or '\'),
    # the sizes at the format's bound.
    return {"blob": "f" * 32, "key": "f" * 64, "name": "\U0001f600" * MAX_NAME_CHARS, "type": '"' * MAX_TYPE_CHARS,
            "size": MAX_FILE_BYTES, "sha256": "f" * 64, "blob_size": blob_size(MAX_FILE_BYTES),
            "blob_sha256": "f" * 64}  # fmt: skip


def manifest_bytes(value: Any) -> int:
    """What ``"files":value`` and the comma before it add to a canonical payload."""
    text = json.dumps({"files": value}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return len(text.encode("utf-8")) - 2 + 1


def worst_manifest() -> list[dict[str, Any]]:
    """A valid manifest of the largest encoded size (distinct blobs, each entry at its widest)."""
    return [{**worst_entry(), "blob": f"{i:032x}"} for i in range(MAX_FILES)]


MANIFEST_WORST_BYTES = manifest_bytes([worst_entry()] * MAX_FILES)

__all__ = ["MANIFEST_WORST_BYTES", "MAX_FILES", "FileEntry", "check_manifest", "clean_type", "manifest_entry",
           "normalize_manifest", "sanitize_name"]  # fmt: skip
