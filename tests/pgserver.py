"""A throwaway PostgreSQL server for the test session (pytest plugin: ``pytest_plugins = ["tests.pgserver"]``).

``pg_server`` (session) runs ``initdb`` and ``pg_ctl`` from the Debian PostgreSQL packages into a temporary
directory, listening on a Unix socket in that directory only (no TCP port, nothing another machine could
reach), and removes everything at the end. PostgreSQL refuses to run as root, so under root the cluster
belongs to the ``postgres`` system user (``runuser``); otherwise it runs as the current user.

``postgres_url`` (function) creates a fresh, empty database for one test and returns its SQLAlchemy URL
(``postgresql+psycopg://...``); the database is dropped after the test, open connections included.

Without the binaries the tests are skipped on a laptop and fail in CI (``tests.realparts``).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import realparts

SUPERUSER = "evac_test"
_HOW = "apt-get install -y postgresql (Debian ships initdb and pg_ctl in /usr/lib/postgresql/*/bin)"
_counter = itertools.count(1)


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin holding initdb and pg_ctl, or the ones on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    return None


@dataclass(frozen=True)
class PgServer:
    socket_dir: Path
    superuser: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.superuser}@/{database}?host={self.socket_dir}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={self.socket_dir} user={self.superuser} dbname={database}"

    def execute(self, sql: str) -> None:
        import psycopg  # imported here: a laptop without the server extra still collects the tests

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql)


def _as_owner(argv: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *argv] if owner else argv


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = find_bindir()
    realparts.need("PostgreSQL", bindir is not None, _HOW)
    assert bindir is not None
    owner: str | None = None
    if os.geteuid() == 0:
        realparts.need("runuser", shutil.which("runuser") is not None, "util-linux provides runuser")
        owner = "postgres"
        try:
            pw = pwd.getpwnam(owner)
        except KeyError:
            realparts.need("the postgres system user", False, _HOW)
            raise
    base = Path(tempfile.mkdtemp(prefix="evac-pg-"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    if owner:
        os.chown(base, pw.pw_uid, pw.pw_gid)
        os.chown(sockets, pw.pw_uid, pw.pw_gid)
    os.chmod(base, 0o700)
    log = base / "server.log"
    try:
        _run(
            _as_owner(
                [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                 "--locale=C", "--no-sync"],
                owner,
            ),
            "initdb",
        )
        # Unix socket only, in a private directory; no durability work the tests do not need (the
        # crash tests kill the app, never this server).
        options = f"-c listen_addresses='' -c unix_socket_directories={sockets} -c fsync=off " \
                  "-c full_page_writes=off -c max_connections=200"
        _run(
            _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options,
                       "start"], owner),
            "pg_ctl start",
        )
        yield PgServer(socket_dir=sockets, superuser=SUPERUSER)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                                     owner), capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(pg_server: PgServer) -> Iterator[str]:
    name = f"evac_{os.getpid()}_{next(_counter)}"
    pg_server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.url(name)
    finally:
        pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
