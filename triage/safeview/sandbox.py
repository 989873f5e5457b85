"""The caseworker's half of the safe view: run the decoder in a box, rebuild what it returns as clean PNGs.

``safe_view(data)`` starts ``triage.safeview.child`` in a fresh process with hard limits (address space,
CPU seconds, no file writes, few open files, no core dump), without network where the system allows it
(``unshare --net`` as an unprivileged user namespace, else bubblewrap), and a wall-clock bound. It reads
back at most the pixels its limits allow, checks every number, and encodes each page as a PNG itself, so
no byte of the original and none of its metadata reaches the desk. A file that is too large, too many
pixels, malformed, or that makes the decoder crash or hang gives a ``SafeView`` with ``refused`` set,
never an exception the desk would have to survive.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache

MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo decodes; a decompression bomb does not
MAX_PAGES = 20
MAX_SIDE = 1600  # what the desk shows: enough to read a document, small to carry back
MEMORY_BYTES = 1024 * 1024 * 1024
CPU_SECONDS = 20
WALL_SECONDS = 60.0
FACT_KEYS = ("gps", "device", "taken", "software", "author", "comment", "title")
# What the content says it is, from its first bytes (never from the name or the claimed type).
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"), (b"PK\x03\x04", "application/zip"), (b"\xd0\xcf\x11\xe0", "application/x-ole-storage"),
    (b"{\\rtf", "text/rtf"), (b"\x1f\x8b", "application/gzip"), (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!", "application/vnd.rar"), (b"OggS", "audio/ogg"), (b"ID3", "audio/mpeg"),
)  # fmt: skip
VIEWABLE = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "image/bmp", "application/pdf"}


def detect_type(data: bytes) -> str:
    """The type the content's first bytes give; "application/octet-stream" if none is known."""
    for signature, kind in SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "image/heic" if brand in (b"heic", b"heix", b"mif1", b"msf1") else "video/mp4"
    return "application/octet-stream"


@dataclass
class SafeView:
    """Rebuilt pages (PNG, no metadata) and what the original's metadata said, or why nothing is shown."""

    detected_type: str
    pages: list[bytes] = field(default_factory=list)
    total_pages: int = 0
    facts: dict[str, str] = field(default_factory=dict)
    refused: str | None = None  # too_large, not_viewable, too_many_pixels, unreadable, crashed, too_slow
    isolated: bool = False  # True when the decoder ran without network


@dataclass(frozen=True)
class Limits:
    max_input: int = MAX_INPUT_BYTES
    max_pixels: int = MAX_PIXELS
    max_pages: int = MAX_PAGES
    max_side: int = MAX_SIDE
    memory: int = MEMORY_BYTES
    cpu_seconds: int = CPU_SECONDS
    wall_seconds: float = WALL_SECONDS


@cache
def isolation_prefix() -> tuple[str, ...]:
    """How to take the network away from the decoder here: a user namespace, bubblewrap, or nothing."""
    unshare = shutil.which("unshare")
    if unshare is not None:
        probe = subprocess.run([unshare, "--net", "--map-root-user", "true"], capture_output=True, timeout=30)  # noqa: S603
        if probe.returncode == 0:
            return (unshare, "--net", "--map-root-user")
        if os.geteuid() == 0:
            probe = subprocess.run([unshare, "--net", "true"], capture_output=True, timeout=30)  # noqa: S603
            if probe.returncode == 0:
                return (unshare, "--net")
    bwrap = shutil.which("bwrap")
    if bwrap is not None:
        probe = subprocess.run([bwrap, "--unshare-net", "--ro-bind", "/", "/", "--dev", "/dev", "true"],  # noqa: S603
                               capture_output=True, timeout=30)  # fmt: skip
        if probe.returncode == 0:
            return (bwrap, "--unshare-net", "--unshare-ipc", "--die-with-parent", "--ro-bind", "/", "/", "--dev",
                    "/dev", "--proc", "/proc", "--tmpfs", "/tmp")  # noqa: S108 - a fresh tmpfs inside the box
    return ()


def child_command(limits: Limits) -> list[str]:
    # The child sets these limits on itself before it reads a byte (preexec_fn is not safe in the threaded desk).
    numbers = (limits.max_pixels, limits.max_pages, limits.max_side, limits.memory, limits.cpu_seconds)
    return [*isolation_prefix(), sys.executable, "-I", "-m", "triage.safeview.child", *map(str, numbers)]


def _pages(stream: io.BytesIO, count: int, limits: Limits) -> list[bytes]:
    from PIL import Image  # here, not at the top: `triage` runs without the documents extra (detect_type needs none)

    pages = []
    for _ in range(count):
        head = stream.read(8)
        if len(head) != 8:
            raise ValueError("short page header")
        width, height = int.from_bytes(head[:4], "big"), int.from_bytes(head[4:], "big")
        if not (1 <= width <= limits.max_side and 1 <= height <= limits.max_side):
            raise ValueError("page size out of bounds")
        raw = stream.read(width * height * 3)
        if len(raw) != width * height * 3:
            raise ValueError("short page")
        out = io.BytesIO()
        Image.frombytes("RGB", (width, height), raw).save(out, format="PNG")  # no metadata is written
        pages.append(out.getvalue())
    if stream.read(1):
        raise ValueError("bytes after the last page")
    return pages


def safe_view(data: bytes, *, limits: Limits = Limits(), command: list[str] | None = None) -> SafeView:
    """Rebuild ``data`` as clean pictures in a box; ``command`` replaces the decoder (tests only)."""
    detected = detect_type(data)
    view = SafeView(detected)
    if len(data) > limits.max_input:
        view.refused = "too_large"
        return view
    if detected not in VIEWABLE:
        view.refused = "not_viewable"
        return view
    argv = command or child_command(limits)
    view.isolated = command is None and bool(isolation_prefix())
    most = limits.max_pages * (8 + limits.max_side * limits.max_side * 3) + 64 * 1024
    try:
        # Our own interpreter and module, fixed arguments; the file goes in on standard input only.
        done = subprocess.run(  # noqa: S603
            argv, input=data, capture_output=True, timeout=limits.wall_seconds, start_new_session=True,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, check=False,
        )
    except subprocess.TimeoutExpired:
        view.refused = "too_slow"
        return view
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        view.refused = "too_slow"  # past its CPU seconds
        return view
    if len(done.stdout) > most:
        view.refused = "crashed"
        return view
    stream = io.BytesIO(done.stdout)
    try:
        info = json.loads(stream.readline(64 * 1024))
        if done.returncode == 3 and isinstance(info, dict) and info.get("refused") in ("too_many_pixels", "unreadable"):
            view.refused = str(info["refused"])
            return view
        if done.returncode != 0 or not isinstance(info, dict):
            view.refused = "crashed"
            return view
        count = int(info["pages"])
        if not 0 <= count <= limits.max_pages:
            raise ValueError("page count out of bounds")
        view.pages = _pages(stream, count, limits)
        view.total_pages = max(count, min(int(info.get("total_pages", count)), 1_000_000))
        facts = info.get("facts") or {}
        view.facts = {k: str(v)[:200] for k, v in facts.items() if k in FACT_KEYS and isinstance(v, str) and v}
    except (ValueError, KeyError, TypeError, OSError):
        view.refused, view.pages = "crashed", []
    return view
