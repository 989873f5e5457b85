"""Every file the ``intake`` command reads or writes for the operator, read and written one careful way.

Reading (``read_bounded``): only a regular file (a symlink is followed and its target must be one), opened
without blocking (a FIFO cannot hold the command), its size checked against the format's own maximum
before a byte is read, and never more than that maximum read even if the file grows meanwhile. ``-`` reads
standard input with the same bound, so that root can hand a file on a stick to the service user through a
pipe (docs/OPERATIONS.md). Writing (``create_private``): mode 0600 from the first instant, never over an
existing file unless asked. Each refusal is one ``FileRefused`` sentence that names the file.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from crypto import ack as ack_format
from crypto.bundle import MAX_ENTRIES
from crypto.signed import SIGNATURE_SIZE

# The largest return file the format allows: a full header, 1,000,000 entries, 1,000 replies (about 64 MB).
MAX_ACK_BYTES = (
    ack_format.HEADER_SIZE + MAX_ENTRIES * ack_format.ENTRY_SIZE + 4
    + ack_format.MAX_REPLIES * ack_format.REPLY_ENTRY_SIZE + SIGNATURE_SIZE
)  # fmt: skip
MAX_PUBLIC_KEY_BYTES = 4096  # crypto.PublicIdentity.from_text refuses anything longer
STDIN = "-"


class FileRefused(Exception):
    """A file the command will not read or write; the message is the sentence for the operator."""


def _size(n: int) -> str:
    return f"{n:,} bytes"


def read_bounded(path: Path | str, limit: int, what: str) -> bytes:
    """The whole of a regular file (or ``-``, standard input) of at most ``limit`` bytes."""
    if str(path) == STDIN:
        return _read_stream(sys.stdin.buffer, limit, what, "standard input")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise FileRefused(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise FileRefused(f"{path} is a folder, not {what}.") from None
    except PermissionError:
        raise FileRefused(f"{path} cannot be read by this user; copy it somewhere this user can read, "
                          "or pass it on standard input with `-`.") from None  # fmt: skip
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileRefused(f"{path} is a folder, not {what}.")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{path} is not a regular file (a device, a pipe or a socket); give {what} itself.")
        if info.st_size > limit:
            raise FileRefused(f"{path} holds {_size(info.st_size)}, more than {what} can ({_size(limit)}); "
                              "it was not read.")  # fmt: skip
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return _read_stream(stream, limit, what, str(path))
    finally:
        os.close(fd)


def open_regular(path: Path | str, what: str) -> BinaryIO:
    """A regular file opened for reading (no size bound: the caller streams it), or FileRefused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise FileRefused(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise FileRefused(f"{path} is a folder, not {what}.") from None
    except PermissionError:
        raise FileRefused(f"{path} cannot be read by this user.") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, a pipe or a socket)"
        raise FileRefused(f"{path} is {kind}; give {what} itself.")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _read_stream(stream: BinaryIO, limit: int, what: str, name: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(f"{name} holds more than {what} can ({_size(limit)}); it was not used.")
    return data


def create_private(path: Path, overwrite: bool) -> BinaryIO:
    """Open ``path`` for writing, mode 0600, refusing an existing file unless ``overwrite``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise FileRefused(f"{path} exists already; choose another name, or add --overwrite to replace it.") from None
    except IsADirectoryError:
        raise FileRefused(f"{path} is a folder; give the name of a file to write.") from None
    os.fchmod(fd, 0o600)  # an existing file replaced with --overwrite keeps no wider mode
    return os.fdopen(fd, "wb")
