"""The file that opens the desk: the one-time address never goes into another program's command line.

A browser started with an address in its arguments shows it to every user of the machine
(``/proc/*/cmdline``). So ``triage desk`` writes the address into a small page that only the
caseworker can read (mode 0600, in a new 0700 folder, in memory where the system has a tmpfs:
``$XDG_RUNTIME_DIR``, else ``/dev/shm``), and opens the browser on that *file*. The page moves on to
the address by itself (a meta refresh: no script). The desk deletes the file as soon as the code in it
is used, and when it closes; the code is good once anyway.
"""

from __future__ import annotations

import contextlib
import html
import os
import stat
import tempfile
from pathlib import Path

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0; url={url}"><title>triage desk</title></head>
<body><p><a href="{url}">triage desk</a></p></body></html>
"""


def _private_base(path: str | None, *, shared: bool) -> bool:
    """True if ``path`` is a folder where a new 0700 folder of ours is safe (and, where we can tell, in memory)."""
    if not path:
        return False
    try:
        info = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False
    if shared:  # /dev/shm: anyone may create there, so only a sticky folder will do (mkdtemp is then safe)
        return bool(info.st_mode & stat.S_ISVTX)
    return info.st_uid == os.getuid() and not info.st_mode & 0o077


def private_folder() -> Path:
    """A new folder only this user can enter: in ``$XDG_RUNTIME_DIR`` or ``/dev/shm`` (tmpfs), else the temp folder."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if _private_base(runtime, shared=False):
        return Path(tempfile.mkdtemp(prefix="triage-desk-", dir=runtime))
    # A sticky tmpfs that anyone may write to: mkdtemp makes a new 0700 folder of ours there.
    shared_memory = "/dev/shm"  # noqa: S108  # nosec B108
    if _private_base(shared_memory, shared=True):
        return Path(tempfile.mkdtemp(prefix="triage-desk-", dir=shared_memory))
    return Path(tempfile.mkdtemp(prefix="triage-desk-"))


class LaunchFile:
    """The page holding the one-time address; ``remove()`` (safe to call twice) overwrites and deletes it."""

    def __init__(self, address: str) -> None:
        self.folder = private_folder()
        self.path = self.folder / "open-desk.html"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        data = PAGE.format(url=html.escape(address, quote=True)).encode("utf-8")
        descriptor = os.open(self.path, flags, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        self._size = len(data)

    @property
    def uri(self) -> str:
        return self.path.as_uri()

    def remove(self) -> None:
        # tmpfs keeps no old blocks, but a temp folder on a disk might
        with contextlib.suppress(OSError), open(self.path, "r+b") as out:
            out.write(bytes(self._size))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            self.folder.rmdir()
