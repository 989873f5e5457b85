"""Known-answer files for sealed files (magic ITKF, docs/FORMAT.md §13): success and every refusal class.

Run alone (``python -m tests.vectors.make_file_vectors``) to write only the file-*.vec files; also called by
``make_vectors.main``. Each vector's header carries what the manifest would: the key, the size and both
SHA-256 digests; a refusal's header is the honest manifest of the file the blob was made from.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from nacl import bindings as sodium

from crypto import filestream as fs

Write = Callable[..., None]
KEY = bytes(range(32))
OTHER_KEY = bytes(range(32, 64))


def _header(facts: fs.SealedFile, blob: bytes) -> dict[str, str]:
    return {"key": base64.b64encode(facts.key).decode(), "size": str(facts.size), "sha256": facts.sha256,
            "blob_sha256": hashlib.sha256(blob).hexdigest()}  # fmt: skip


def _raw(chunks: list[tuple[bytes, int]], key: bytes = KEY, version: int = fs.VERSION) -> bytes:
    """A blob sealed chunk by chunk with the tags given: for streams no honest sealer writes."""
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    sealed = [sodium.crypto_secretstream_xchacha20poly1305_push(state, c, fs._AD, tag) for c, tag in chunks]
    return fs.MAGIC + bytes([version]) + header + b"".join(sealed)


def files(write: Write, b2: Callable[[bytes], str]) -> None:
    final, message = fs._FINAL, fs._MESSAGE
    small = "Повестка в военкомат. Summons.\n".encode() * 3
    two_chunks = bytes(range(256)) * 300  # 76,800 bytes: two chunks, padding, the length at the end
    for name, content, comment in [
        ("file-success-empty", b"", "an empty file: one final chunk holding the 8-byte length"),
        ("file-success-small", small, "a short file, padded to its PADMÉ length"),
        ("file-success-two-chunks", two_chunks, "a full chunk, then the rest, the padding and the length"),
    ]:
        blob, facts = fs.seal_bytes(content, key=KEY)
        write(name, blob, kind="file", expect="success", payload_blake2b=b2(content), comment=comment,
              **_header(facts, blob))  # fmt: skip

    blob, facts = fs.seal_bytes(two_chunks, key=KEY)
    honest = _header(facts, blob)
    head, body = blob[: fs.HEADER_SIZE], blob[fs.HEADER_SIZE :]
    first, second = body[: fs.SEALED_CHUNK], body[fs.SEALED_CHUNK :]

    def bad(name: str, data: bytes, expect: str, comment: str, **changes: str) -> None:
        header = {**honest, **changes}
        if "blob_sha256" not in changes:
            header["blob_sha256"] = hashlib.sha256(data).hexdigest()  # the manifest names this very blob
        write(name, data, kind="file", expect=expect, comment=comment, **header)

    bad("file-malformed-magic", b"ITKX" + blob[4:], "malformed", "another magic")
    bad("file-unsupported-version", blob[:4] + b"\x02" + blob[5:], "unsupported-version", "version 2")
    flipped = bytearray(blob)
    flipped[fs.HEADER_SIZE + 100] ^= 1
    bad("file-tampered-chunk-byte", bytes(flipped), "tampered", "one bit of the first chunk flipped")
    bad("file-tampered-wrong-key", blob, "tampered", "opened with another key",
        key=base64.b64encode(OTHER_KEY).decode())  # fmt: skip
    bad("file-tampered-not-the-manifests-blob", blob, "tampered", "the manifest names another blob's digest",
        blob_sha256=hashlib.sha256(b"another blob").hexdigest())  # fmt: skip
    bad("file-tampered-truncated", head + first, "tampered", "the final chunk cut off")
    other_blob, _ = fs.seal_bytes(two_chunks, key=OTHER_KEY)
    moved = head + other_blob[fs.HEADER_SIZE : fs.HEADER_SIZE + fs.SEALED_CHUNK] + second
    bad("file-tampered-chunk-from-another-file", moved, "tampered", "the first chunk taken from another file")
    stream = two_chunks + bytes(fs.stream_length(len(two_chunks)) - len(two_chunks) - 8)
    stream += len(two_chunks).to_bytes(8, "little")
    pieces = [stream[: fs.CHUNK], stream[fs.CHUNK :]]
    bad("file-tampered-reordered", _raw([(pieces[1] + bytes(fs.CHUNK - len(pieces[1])), message),
                                         (pieces[0][: len(pieces[1])], final)]),
        "tampered", "the chunks in the wrong order (each authentic in its place, the content not)")
    bad("file-tampered-no-final-tag", _raw([(pieces[0], message), (pieces[1], message)]), "tampered",
        "every chunk tagged MESSAGE: the stream never says it ended")  # fmt: skip
    bad("file-tampered-final-too-early", _raw([(pieces[0], final), (pieces[1], final)]), "tampered",
        "the first chunk already tagged FINAL")  # fmt: skip
    nonzero = bytearray(stream)
    nonzero[len(two_chunks) + 1] = 0x41
    bad("file-tampered-padding-not-zero", _raw([(bytes(nonzero[: fs.CHUNK]), message),
                                                (bytes(nonzero[fs.CHUNK :]), final)]),
        "tampered", "an authentic stream whose padding is not zeros")
    lying = bytearray(stream)
    lying[-8:] = (len(two_chunks) - 1).to_bytes(8, "little")
    bad("file-tampered-length-differs", _raw([(bytes(lying[: fs.CHUNK]), message),
                                              (bytes(lying[fs.CHUNK :]), final)]),
        "tampered", "an authentic stream whose own length differs from the manifest's")
    bad("file-tampered-content-differs", _raw([(b"X" + stream[1 : fs.CHUNK], message),
                                               (stream[fs.CHUNK :], final)]),
        "tampered", "an authentic stream whose content is not the manifest's SHA-256")
    bad("file-tampered-appended", blob + b"\x00" * 17, "tampered", "bytes after the final chunk")


def main() -> None:
    from tests.vectors.make_vectors import b2, write

    files(write, b2)


if __name__ == "__main__":
    main()
