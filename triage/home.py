"""The home folder: the caseworkers' key files, their public keys and the case store, nothing else.

Layout::

    HOME/                mode 0700
      NAME.key           the private key file (crypto.lock_identity), mode 0600
      NAME.pub           the public key file to hand to the operator
      cases.sqlite3      the case store (see triage.store), mode 0600
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from triage import environment
from triage.errors import HomeError

APP_NAME = "triage"
STORE_FILE = "cases.sqlite3"
KEY_SUFFIX = ".key"
PUB_SUFFIX = ".pub"


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """$TRIAGE_HOME, else the platform's per-user data folder (e.g. ~/.local/share/triage)."""
    env = environment.variables() if environ is None else environ
    if env.get("TRIAGE_HOME"):
        return Path(env["TRIAGE_HOME"]).expanduser()
    if sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_NAME


def key_stem(name: str) -> str:
    """A file name for a caseworker name: letters, digits, '-', '_' and '.', no path tricks."""
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name.strip()).strip(".")
    if not stem:
        raise HomeError("Choose a name with at least one letter or digit.")
    return stem


class Home:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def store_path(self) -> Path:
        return self.path / STORE_FILE

    def key_path(self, name: str) -> Path:
        return self.path / (key_stem(name) + KEY_SUFFIX)

    def pub_path(self, name: str) -> Path:
        return self.path / (key_stem(name) + PUB_SUFFIX)

    def key_files(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if p.suffix == KEY_SUFFIX and p.is_file())

    def ensure(self) -> None:
        """Create the folder readable by this user only."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            self.path.chmod(0o700)

    def require(self) -> None:
        if not self.key_files():
            raise HomeError(
                f"No caseworker key in {self.path}. Create one with `triage keygen --name NAME`, "
                "or point --home (or $TRIAGE_HOME) at the folder that holds yours."
            )


def write_private(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, readable by this user only where the file system allows.

    mkstemp creates the file 0600 before a byte is written. With ``overwrite`` the file replaces any
    old one (this also works on the FAT file systems of USB sticks); without, an existing file is kept.
    """
    if path.exists() and not overwrite:
        raise HomeError(f"{path} already exists; nothing was overwritten.")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(OSError):  # FAT has no modes; mkstemp already made it 0600 elsewhere
            os.chmod(tmp, 0o600)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if a file appeared meanwhile; never clobbers a key
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_passphrase_file(path: Path) -> str:
    """The first line of ``path`` (without its line ending): the passphrase for non-interactive use."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise HomeError(f"The passphrase file {path} is not UTF-8 text.") from None
    line = text.splitlines()[0] if text else ""
    if not line:
        raise HomeError(f"The passphrase file {path} is empty.")
    return line
