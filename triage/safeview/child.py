"""The sandboxed half of the safe view: decode one untrusted file, hand back only pixels and a few facts.

Run by ``triage.safeview.sandbox`` as ``python -I -m triage.safeview.child PIXELS PAGES SIDE MEMORY CPU``
with the file on standard input. It first sets hard limits on itself (address space, CPU seconds, no
file writes, few open files, no core), then decodes; it runs without network where the system allows.
It writes to standard output, and nothing else anywhere:

    one line of JSON: {"type": ..., "pages": n, "facts": {...}}   (or {"refused": reason} and exit 3)
    then per page: width (4 bytes, big-endian), height (4 bytes), width × height × 3 bytes of RGB

Whatever a hostile file does to the decoders here, the parent only ever reads two numbers and raw
pixels from this process and rebuilds the picture itself (the approach of Dangerzone).
"""

from __future__ import annotations

import io
import json
import resource
import sys
import warnings
from typing import Any

FACT_CHARS = 200


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = "".join(ch for ch in str(value) if ch.isprintable()).strip()
    return text[:FACT_CHARS] or None


def _degrees(value: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError):
        return None
    sign = -1 if str(ref).upper().startswith(("S", "W")) else 1
    return round(sign * (d + m / 60 + s / 3600), 5)


def image_facts(image: Any) -> dict[str, str | None]:
    """What an image's metadata reveals: where (GPS), which device, when, with what software, by whom."""
    exif = image.getexif()
    facts: dict[str, str | None] = {
        "device": _text(" ".join(str(v) for v in (exif.get(0x010F), exif.get(0x0110)) if v)),
        "software": _text(exif.get(0x0131)),
        "author": _text(exif.get(0x013B) or image.info.get("Author")),
        "taken": _text(exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)),
        "comment": _text(image.info.get("Comment") or image.info.get("comment") or exif.get(0x010E)),
    }
    gps = exif.get_ifd(0x8825)
    latitude, longitude = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
    facts["gps"] = f"{latitude}, {longitude}" if latitude is not None and longitude is not None else None
    return facts


def _fit(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _refuse(reason: str) -> None:
    sys.stdout.buffer.write(json.dumps({"refused": reason}).encode() + b"\n")
    sys.stdout.buffer.flush()
    raise SystemExit(3)


def _page(out: Any, picture: Any, side: int) -> None:
    picture = picture.convert("RGB")
    if max(picture.size) > side:
        picture = picture.resize(_fit(picture.size[0], picture.size[1], side))
    out.write(picture.size[0].to_bytes(4, "big") + picture.size[1].to_bytes(4, "big") + picture.tobytes())


def convert(data: bytes, max_pixels: int, max_pages: int, max_side: int) -> None:
    out = sys.stdout.buffer
    if data.startswith(b"%PDF-"):
        import pypdfium2

        try:
            pdf = pypdfium2.PdfDocument(data)
        except Exception:  # whatever pdfium says, the answer is "cannot be read"
            _refuse("unreadable")
        count = len(pdf)
        meta = pdf.get_metadata_dict()
        facts = {"author": _text(meta.get("Author")), "software": _text(meta.get("Creator") or meta.get("Producer")),
                 "taken": _text(meta.get("CreationDate")), "title": _text(meta.get("Title"))}  # fmt: skip
        shown = min(count, max_pages)
        out.write(json.dumps({"type": "application/pdf", "pages": shown, "total_pages": count,
                              "facts": facts}).encode() + b"\n")  # fmt: skip
        for n in range(shown):
            page = pdf[n]
            width, height = page.get_size()
            if width <= 0 or height <= 0 or width * height > max_pixels:
                _refuse("too_many_pixels")
            scale = min(4.0, max_side / max(width, height))
            _page(out, page.render(scale=scale).to_pil(), max_side)
        out.flush()
        return
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        image = Image.open(io.BytesIO(data))
        if image.size[0] * image.size[1] > max_pixels:
            _refuse("too_many_pixels")
        facts = image_facts(image)
        frames = min(getattr(image, "n_frames", 1), max_pages)
        out.write(json.dumps({"type": Image.MIME.get(image.format or "", "image"), "pages": frames,
                              "facts": facts}).encode() + b"\n")  # fmt: skip
        for n in range(frames):
            image.seek(n)
            _page(out, image, max_side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        _refuse("too_many_pixels")
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError):
        _refuse("unreadable")
    out.flush()


def limit_self(memory: int, cpu_seconds: int) -> None:
    """Hard limits, set before a byte of the file is read; a hard limit cannot be raised again."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def main() -> None:
    max_pixels, max_pages, max_side, memory, cpu_seconds = (int(arg) for arg in sys.argv[1:6])
    limit_self(memory, cpu_seconds)
    convert(sys.stdin.buffer.read(), max_pixels, max_pages, max_side)


if __name__ == "__main__":
    main()
