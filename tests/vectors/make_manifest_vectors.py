"""Known-answer files for the file manifest (payload key ``files``, docs/FORMAT.md §13.3): kind ``request``.

Run alone (``python -m tests.vectors.make_manifest_vectors``) to write only the request-*-files-*.vec files;
also called by ``make_vectors.main``. The manifests are made from fixed keys and contents, so the files are
the same on every run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import crypto
from crypto import filestream
from crypto.manifest import manifest_entry
from crypto.request_schema import canonical_json

Write = Callable[..., None]
DIGITS = "123456789012345678901234567890"
SECRET = bytes(range(32))


def _entry(n: int, name: str, claimed: str, content: bytes) -> dict[str, Any]:
    _, facts = filestream.seal_bytes(content, key=bytes([n]) * 32)
    return manifest_entry(facts, bytes([0xa0 + n]) * 16, name, claimed)


def manifests(write: Write, b2: Callable[[bytes], str], base: dict[str, object]) -> None:
    reply_key = crypto.derive_reply_keypair(DIGITS, SECRET).public.to_b64()
    photo = _entry(1, "паспорт.jpg", "image/jpeg", b"\xff\xd8\xff" + b"photo" * 100)
    pdf = _entry(2, "summons.pdf", "application/pdf", b"%PDF-1.7 summons")
    v2 = {**base, "schema": 2, "kind": "request", "reply_key": reply_key, "files": [photo, pdf]}
    followup = {"schema": 2, "kind": "followup", "locale": "ru", "submitted_on": "2026-12-02", "reply_key": reply_key,
                "message": "Вот повестка.", "files": [pdf]}  # fmt: skip

    def dump(value: dict[str, object]) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")

    def canon(raw: bytes) -> str:
        return b2(canonical_json(crypto.decode_payload(raw)))

    for name, value, comment in [
        ("request-success-files", v2, "a schema 2 request with two files in its manifest (§13.3)"),
        ("request-success-followup-files", followup, "a follow-up with one file"),
    ]:
        good = canonical_json(value)
        write(name, good, kind="request", expect="success", payload_blake2b=canon(good), comment=comment)
    faults: list[tuple[str, Any, str]] = [
        ("empty", [], "files is absent when none was sent, never []"),
        ("null", None, "files is absent, never null"),
        ("six", [_entry(10 + i, f"{i}.jpg", "", b"x") for i in range(6)], "more than 5 files"),
        ("same-blob", [photo, {**pdf, "blob": photo["blob"]}], "two entries name one blob"),
        ("extra-key", [{**photo, "path": "/home"}], "a key outside the table"),
        ("missing-key", [{k: v for k, v in photo.items() if k != "type"}], "type is required"),
        ("blob-upper-case", [{**photo, "blob": photo["blob"].upper()}], "hex digits are lower case"),
        ("key-short", [{**photo, "key": photo["key"][:62]}], "a key is 64 hex digits"),
        ("name-with-slash", [{**photo, "name": "../etc/passwd"}], "a name the sanitising would change"),
        ("name-with-bidi", [{**photo, "name": "photo\u202egpj.exe"}], "a bidirectional control in the name"),
        ("name-not-nfc", [{**photo, "name": "e\u0301.jpg"}], "a name not in NFC"),
        ("name-too-long", [{**photo, "name": "я" * 121}], "121 characters"),
        ("type-control", [{**photo, "type": "image/jpeg\t"}], "a type that is not printable ASCII"),
        ("blob-size-wrong", [{**photo, "blob_size": photo["blob_size"] + 17}], "blob_size is not the size's"),
        ("size-negative", [{**photo, "size": -1}], "a size below 0"),
        ("size-true", [{**photo, "size": True}], "a size that is not an integer"),
    ]
    for name, files, comment in faults:
        write(f"request-malformed-files-{name}", dump({**v2, "files": files}), kind="request", expect="malformed",
              comment=comment)  # fmt: skip
    write("request-malformed-files-schema-1", dump({**base, "files": [photo]}), kind="request", expect="malformed",
          comment="files is not a schema 1 key")  # fmt: skip


def main() -> None:
    from tests.vectors.make_vectors import b2, request, write

    manifests(write, b2, request())


if __name__ == "__main__":
    main()
