"""The instance folder: the database (by default), the server's bundle-signing key and the instance secret.

``initialize`` is what ``intake init`` does. Key files are created with mode 0600 by ``os.open`` (never
world-readable, not even for an instant) and are never overwritten once they exist. The SQLite database is
created the same way before Alembic opens it, and SQLite gives its ``-wal`` and ``-shm`` files the mode of
the database file; ``init`` also brings an older instance's files back to 0600.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import crypto
from intake.config import IntakeConfig
from intake.migrate import upgrade
from intake.receipts import SECRET_BYTES

SERVER_KEY_FILE = "server.key"
SECRET_FILE = "instance.secret"  # noqa: S105 - a file name, not a secret
# The SQLite database's companions: the WAL, its index, and the writers' lock file (intake.database).
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-writers")


class InstanceError(Exception):
    """The instance folder is missing something; the message says how to fix it."""


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_private(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InstanceError(f"{path.name} is missing from {path.parent}; run `intake init` first") from None


@dataclass(frozen=True)
class Instance:
    config: IntakeConfig

    @property
    def folder(self) -> Path:
        return self.config.instance_dir

    def server_key(self) -> crypto.ServerKey:
        return crypto.ServerKey.from_bytes(_read_private(self.folder / SERVER_KEY_FILE))

    def secret(self) -> bytes:
        data = _read_private(self.folder / SECRET_FILE)
        if len(data) != SECRET_BYTES:
            raise InstanceError(f"{SECRET_FILE} is damaged (it must hold {SECRET_BYTES} bytes)")
        return data

    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for another database."""
        if not self.config.is_sqlite:
            return None
        name = self.config.database_url.split("///", 1)[-1].split("?", 1)[0]
        return Path(name) if name and name != ":memory:" else None

    def private_files(self) -> list[Path]:
        """Every file of the instance that must be 0600: keys, and the SQLite database with its companions."""
        files = [self.folder / SERVER_KEY_FILE, self.folder / SECRET_FILE]
        database = self.sqlite_path()
        if database is not None:
            files += [database.with_name(database.name + suffix) for suffix in SQLITE_SUFFIXES]
        return files

    def initialize(self) -> crypto.ServerPublicKey:
        """Create the folder, keys and database, or upgrade the database; never replaces a key."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not (self.folder / SERVER_KEY_FILE).exists():
            _write_private(self.folder / SERVER_KEY_FILE, crypto.ServerKey.generate().to_bytes())
        if not (self.folder / SECRET_FILE).exists():
            _write_private(self.folder / SECRET_FILE, secrets.token_bytes(SECRET_BYTES))
        database = self.sqlite_path()
        if database is not None:
            database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))  # before SQLite creates it 0644
        upgrade(self.config.database_url)
        for path in self.private_files():
            if path.exists() and path.stat().st_mode & 0o077:
                path.chmod(0o600)
        return self.server_key().public
