"""A cleaned copy of a case's file: its metadata removed, for passing on or opening elsewhere.

``save_clean(blobs, attachment, folder)`` writes into ``folder`` (the one the caseworker chose) a copy
without metadata, by one of two paths, both offline:

* **mat2** (Debian's ``mat2`` package), where installed and the type is one it knows: the original is
  written into a private folder inside ``folder`` (the only plaintext copy, where the caseworker asked
  for one), mat2 cleans it in place in a process without network and with a time bound, and the cleaned
  bytes are placed under their final name; the private folder is removed whatever happens.
* **the safe view's pictures** otherwise (or when mat2 refuses the file): the file is decoded in the
  safe view's box (``triage.safeview``) and rebuilt from pixels only: a photo becomes a PNG, a PDF a PDF
  of page pictures (at most the safe view's page cap; the rest is counted, not kept). Text in a PDF
  becomes pictures of text. Other types cannot be cleaned this way: the caseworker is told so.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from triage.attachments import Attachment, AttachmentError, Saved, read_file, safe_file_name, write_new
from triage.blobs import BlobStore
from triage.file_words import REFUSAL_WORDS
from triage.i18n import N_
from triage.safeview import Limits, safe_view
from triage.safeview.sandbox import isolation_prefix

CLEAN_SIDE = 2400  # a cleaned page keeps more detail than the desk's view, within the box's memory
MAT2_SECONDS = 120
MAT2_EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/tiff": "tiff",
    "image/bmp": "bmp", "application/pdf": "pdf", "application/x-office": "docx", "application/zip": "zip",
    "text/plain": "txt",
}  # fmt: skip


def _stem(name: str) -> str:
    stem, dot, _ext = name.rpartition(".")
    return stem if dot and stem else name


def mat2_program() -> str | None:
    return shutil.which("mat2")


def _mat2_clean(program: str, data: bytes, extension: str, where: Path) -> bytes | None:
    """mat2's cleaned bytes, or None if it refused or failed. The plaintext lives only for this call, in a 0700
    folder inside the folder the caseworker chose to save into; mat2 runs without network where possible."""
    work = Path(tempfile.mkdtemp(prefix=".triage-clean-", dir=where))  # 0700, inside the chosen folder
    try:
        original = work / f"file.{extension}"
        original.write_bytes(data)
        original.chmod(0o600)
        argv = [*isolation_prefix(), program, "--inplace", str(original)]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=MAT2_SECONDS, check=False,  # noqa: S603
                                  env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(work)})  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0 or not original.is_file():
            return None
        return original.read_bytes()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def have_documents() -> bool:
    """Pillow and pdfium (the laptop kit's documents part) are what the safe view decodes and rebuilds with."""
    return all(importlib.util.find_spec(name) is not None for name in ("PIL", "pypdfium2"))


NO_DOCUMENTS = N_("The safe view is not installed on this laptop (the laptop kit's documents part: Pillow and "
                  "pypdfium2); nothing was shown or cleaned. Install the laptop kit again.")  # fmt: skip


def _as_pdf(pages: list[bytes]) -> bytes:
    from PIL import Image  # the documents extra: checked by have_documents() first

    pictures = [Image.open(io.BytesIO(page)).convert("RGB") for page in pages]
    out = io.BytesIO()
    pictures[0].save(out, format="PDF", save_all=True, append_images=pictures[1:], resolution=150.0)
    return out.getvalue()


def _pictures(data: bytes) -> tuple[bytes, str, int]:
    """The file rebuilt from pixels in the safe view's box: (bytes, extension, pages left out)."""
    if not have_documents():
        raise AttachmentError(NO_DOCUMENTS)
    view = safe_view(data, limits=Limits(max_side=CLEAN_SIDE))
    if view.refused is not None:
        if view.refused == "not_viewable":
            raise AttachmentError(N_("This type of file cannot be cleaned here (only photos, pictures and PDF "
                                     "documents can, or any type mat2 knows where mat2 is installed); save the "
                                     "original instead, and open it only on a machine never connected to a "
                                     "network."))  # fmt: skip
        raise AttachmentError(REFUSAL_WORDS[view.refused])
    if view.detected_type == "application/pdf" or len(view.pages) > 1:
        return _as_pdf(view.pages), "pdf", max(0, view.total_pages - len(view.pages))
    return view.pages[0], "png", 0


def save_clean(blobs: BlobStore, attachment: Attachment, folder: Path, *,
               mat2: Callable[[], str | None] = mat2_program) -> Saved:  # fmt: skip
    """A copy without metadata in ``folder`` (mat2 where installed, else pixels only), never over another file."""
    if not folder.is_dir():
        raise AttachmentError(N_("There is no folder %(path)s; create it first or choose another."), path=folder)
    data = read_file(blobs, attachment.entry)
    program = mat2()
    extension = MAT2_EXTENSIONS.get(attachment.detected)
    cleaned: bytes | None = None
    how, left_out = "mat2", 0
    if program is not None and extension is not None:
        cleaned = _mat2_clean(program, data, extension, folder)
    if cleaned is None:
        cleaned, extension, left_out = _pictures(data)
        how = "pictures"
    name = safe_file_name(f"{_stem(attachment.name)}.cleaned.{extension}")
    body = cleaned

    def fill(write: Callable[[bytes], Any]) -> None:
        write(body)

    path, digest, size = write_new(folder, name, fill)
    return Saved(path, digest, size, how, left_out)
