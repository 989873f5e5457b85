"""Free text a caseworker types (notes, replies): from $EDITOR, a prompt or standard input, never argv.

Shell history keeps every argument, so a note such as a phone number and a meeting place must never be
one. An editor needs a file: it is made in a memory-backed folder ($XDG_RUNTIME_DIR or /dev/shm, never
the disk), readable by this user only, overwritten and removed as soon as the editor closes. Where no
such folder exists the text is asked at a prompt instead.

Editors keep what was typed in files of their own (vim's ~/.viminfo holds the last inserted text and the
registers, its undo and swap files hold all of it; nano and emacs keep histories and auto-saves under
$HOME). So the editor runs in a private folder in memory that is its HOME and every XDG_*_HOME, with
TMPDIR there too, and vi/vim/nvim also get ``-i NONE -n`` and no undo, backup or swap file; the whole
folder is overwritten and removed after. Only editors known to stay inside that folder are started
(TAMED): a client that hands the file to an editor already running (emacsclient, code, gedit, kate...)
would keep its state in the running program's real home, so for any other editor the prompt is used.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import click

from triage import environment
from triage.errors import TriageError
from triage.i18n import N_, Translator, translator

COMMENT = "#"

# Editors that keep their state under $HOME / $XDG_*_HOME / $TMPDIR or beside the file, all redirected below.
VI_LIKE = frozenset({"vi", "vim", "vim.basic", "vim.tiny", "vim.nox", "view", "nvim", "rvim"})
TAMED = VI_LIKE | frozenset({"nano", "rnano", "pico", "mg", "ed"})
# vi/vim/nvim: no viminfo/shada (-i NONE), no swap file (-n), and no undo or backup file even if a vimrc asks.
VI_FLAGS = ("-i", "NONE", "-n", "--cmd", "set noundofile nobackup nowritebackup",
            "-c", "set noundofile nobackup nowritebackup")  # fmt: skip
XDG_HOMES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
# Variables that would make vim read a vimrc from outside the folder.
DROPPED = ("VIMINIT", "EXINIT", "MYVIMRC", "MYGVIMRC", "GVIMINIT")


def editor_command(editor: str) -> list[str] | None:
    """The editor's argument list with its state turned off, or None for an editor that cannot be tamed."""
    try:
        words = shlex.split(editor)
    except ValueError:
        return None
    if not words or os.path.basename(words[0]) not in TAMED:
        return None
    if os.path.basename(words[0]) in VI_LIKE:
        return [words[0], *VI_FLAGS, *words[1:]]
    return words


def editor_environment(environ: Mapping[str, str], folder: Path) -> dict[str, str]:
    """The environment the editor runs in: its home, state and temporary files all inside ``folder``."""
    env = {name: value for name, value in environ.items() if name not in DROPPED}
    env["HOME"] = str(folder)
    env["TMPDIR"] = str(folder)
    for name in XDG_HOMES:
        env[name] = str(folder / name.lower())
    return env


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


def _wipe(folder: Path) -> None:
    """Overwrite every file the editor left in ``folder`` (in memory), then remove the folder."""
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                size = path.stat().st_size
                with open(path, "r+b") as wipe:
                    wipe.write(b"\0" * size)
                    wipe.flush()
                    os.fsync(wipe.fileno())
    shutil.rmtree(folder, ignore_errors=True)


def _edit(command: list[str], environ: Mapping[str, str], parent: Path, header: str, initial: str) -> str:
    folder = Path(tempfile.mkdtemp(dir=parent, prefix=".triage-"))  # mode 0700
    path = folder / "text.txt"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(header + initial)
        env = editor_environment(environ, folder)
        subprocess.run([*command, str(path)], check=True, env=env, cwd=folder)  # noqa: S603 (the user's own editor)
        return _strip_comments(path.read_text(encoding="utf-8"))
    except (OSError, subprocess.CalledProcessError, UnicodeDecodeError) as error:
        raise TriageError(f"The editor did not finish ({type(error).__name__}); nothing was saved.") from None
    finally:
        _wipe(folder)


# The words around the text, per kind of text, in the caseworker's language (triage.po).
WORDS = {
    "note": {
        "header": N_("Write the note below. Lines starting with # are left out."),
        "prompt": N_("Type the note (one line; Enter when done)"),
        "prompt_keep": N_("Type the note (one line; Enter when done; Enter alone keeps the text above)"),
        "empty": N_("The note is empty; nothing was saved."),
        "long": N_("The note has %(length)s characters; at most %(limit)s fit. Nothing was saved."),
    },
    "reply": {
        "header": N_("Write the reply below. Lines starting with # are left out."),
        "prompt": N_("Type the reply (one line; Enter when done)"),
        "prompt_keep": N_("Type the reply (one line; Enter when done; Enter alone keeps the text above)"),
        "empty": N_("The reply is empty; nothing was saved."),
        "long": N_("The reply has %(length)s characters; at most %(limit)s fit. Nothing was saved."),
    },
}


def read_text(
    what: str,
    *,
    limit: int,
    stdin: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    interactive: bool | None = None,
    initial: str = "",
    t: Translator | None = None,
) -> str:
    """The text of a ``what`` ("note" or "reply"): piped stdin, else $VISUAL/$EDITOR in memory, else a prompt.

    ``initial`` (a ready-made reply) is what the editor starts with, or what piped-in empty input means.
    The words around it are in ``t``'s language (English without one).
    """
    t = t or translator("en")
    words = WORDS[what]
    env = environment.variables() if environ is None else environ
    stream = sys.stdin if stdin is None else stdin
    is_tty = stream.isatty() if interactive is None else interactive
    if not is_tty:
        text = stream.read(limit * 4 + 1).strip() or initial.strip()
    else:
        command = editor_command(env.get("VISUAL") or env.get("EDITOR") or "")
        folder = memory_folder(env)
        if command is not None and folder is not None:
            header_words = words["header"]
            header = f"{COMMENT} {t.gettext(header_words)}\n"
            text = _edit(command, env, folder, header, initial)
        else:
            if initial:
                click.echo(initial, err=True)
            prompt_words = words["prompt_keep"] if initial else words["prompt"]
            prompt = t.gettext(prompt_words)
            text = str(click.prompt(prompt, err=True, default=initial, show_default=False)).strip()
    if not text:
        raise TriageError(words["empty"])
    if len(text) > limit:
        raise TriageError(words["long"], length=len(text), limit=limit)
    return text
