"""Free text a caseworker types (notes, replies): from $EDITOR, a prompt or standard input, never argv.

Shell history keeps every argument, so a note such as a phone number and a meeting place must never be
one. An editor needs a file: it is made in a memory-backed folder ($XDG_RUNTIME_DIR or /dev/shm, never
the disk), readable by this user only, overwritten and removed as soon as the editor closes. Where no
such folder exists the text is asked at a prompt instead.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import click

from triage import environment
from triage.errors import TriageError

COMMENT = "#"


def memory_folder(environ: Mapping[str, str]) -> Path | None:
    """A folder that lives in memory (tmpfs), or None."""
    for candidate in (environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):  # noqa: S108 (tmpfs on purpose)
        if candidate and _is_tmpfs(Path(candidate)):
            return Path(candidate)
    return None


def _is_tmpfs(path: Path) -> bool:
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    target = str(path.resolve())
    best = ""
    kind = ""
    for line in mounts:
        fields = line.split()
        inside = len(fields) >= 3 and (target == fields[1] or target.startswith(fields[1].rstrip("/") + "/"))
        if inside and len(fields[1]) >= len(best):
            best, kind = fields[1], fields[2]
    return kind in ("tmpfs", "ramfs")


def _strip_comments(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.startswith(COMMENT)]
    return "\n".join(lines).strip()


def _edit(editor: str, folder: Path, header: str, initial: str) -> str:
    fd, name = tempfile.mkstemp(dir=folder, prefix=".triage-", suffix=".txt")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(header + initial)
        subprocess.run([*shlex.split(editor), str(path)], check=True)  # noqa: S603 (the user's own editor)
        return _strip_comments(path.read_text(encoding="utf-8"))
    except (OSError, subprocess.CalledProcessError, UnicodeDecodeError) as error:
        raise TriageError(f"The editor did not finish ({type(error).__name__}); nothing was saved.") from None
    finally:
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            with open(path, "r+b") as wipe:
                wipe.write(b"\0" * size)
                wipe.flush()
                os.fsync(wipe.fileno())
        with contextlib.suppress(OSError):
            path.unlink()


def read_text(
    what: str,
    *,
    limit: int,
    stdin: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    interactive: bool | None = None,
    initial: str = "",
) -> str:
    """The text of a ``what`` (e.g. "note"): piped stdin, else $VISUAL/$EDITOR in memory, else a prompt.

    ``initial`` (a ready-made reply) is what the editor starts with, or what piped-in empty input means.
    """
    env = environment.variables() if environ is None else environ
    stream = sys.stdin if stdin is None else stdin
    is_tty = stream.isatty() if interactive is None else interactive
    if not is_tty:
        text = stream.read(limit * 4 + 1).strip() or initial.strip()
    else:
        editor = env.get("VISUAL") or env.get("EDITOR")
        folder = memory_folder(env)
        if editor and folder is not None:
            header = f"{COMMENT} Write the {what} below. Lines starting with {COMMENT} are left out.\n"
            text = _edit(editor, folder, header, initial)
        else:
            if initial:
                click.echo(initial, err=True)
            keep = "; Enter alone keeps the text above" if initial else ""
            text = str(click.prompt(f"Type the {what} (one line; Enter when done{keep})", err=True, default=initial,
                                    show_default=False)).strip()  # fmt: skip
    if not text:
        raise TriageError(f"The {what} is empty; nothing was saved.")
    if len(text) > limit:
        raise TriageError(f"The {what} has {len(text)} characters; at most {limit} fit. Nothing was saved.")
    return text
