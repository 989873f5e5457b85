"""``intake backup`` and ``intake restore``: one file holding everything the instance needs to come back.

A backup is an uncompressed tar archive of exactly these members, written mode 0600 and never over an
existing file unless asked:

* ``BACKUP`` — ``intake backup 1`` and ``database: sqlite`` or ``database: postgresql``;
* ``server.key`` and ``instance.secret`` — the bundle-signing key and the receipt secret (with a person's
  receipt, the secret opens that person's waiting replies and says whether their request was collected);
* ``intake.db`` — a consistent copy of the SQLite database made with SQLite's online backup API while the
  server keeps serving (a plain ``cp`` of the file misses what is still in the WAL), or ``database.pgdump``
  — ``pg_dump --format=custom`` of the PostgreSQL database.

``restore`` puts a backup back onto a **stopped** instance (it refuses while another process has the
SQLite database open or another session is connected to the PostgreSQL database), then runs the
migrations, so an older backup comes up at today's schema. Nothing in a backup is plaintext of a request;
docs/OPERATIONS.md §6 says what it exposes and how to keep it.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from intake.config import IntakeConfig
from intake.files import FileRefused, create_private, open_regular
from intake.instance import SECRET_FILE, SERVER_KEY_FILE, Instance
from intake.migrate import upgrade

FORMAT_LINE = "intake backup 1"
MARKER = "BACKUP"
SQLITE_MEMBER = "intake.db"
PG_MEMBER = "database.pgdump"
KEY_MEMBERS = (SERVER_KEY_FILE, SECRET_FILE)
MAX_SMALL_MEMBER = 4096
PG_DUMP_LINE = "runuser -u postgres -- pg_dump --format=custom intake > FILE"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message is the sentence for the operator."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    database: str
    size: int


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


@contextlib.contextmanager
def _scratch(path: Path) -> Iterator[Path]:
    """A 0600 file beside ``path`` for an intermediate copy, always removed afterwards."""
    scratch = path.with_name(f".{path.name}.scratch")
    scratch.unlink(missing_ok=True)
    os.close(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    try:
        yield scratch
    finally:
        scratch.unlink(missing_ok=True)


def _pg_env(url: str) -> dict[str, str]:
    """libpq settings for pg_dump/pg_restore from the SQLAlchemy URL, in the environment (never argv)."""
    parsed = make_url(url)
    env = dict(os.environ)
    values = {"PGHOST": parsed.query.get("host") or parsed.host, "PGPORT": parsed.port, "PGUSER": parsed.username,
              "PGPASSWORD": parsed.password, "PGDATABASE": parsed.database}  # fmt: skip
    for name, value in values.items():
        if value:
            env[name] = str(value if not isinstance(value, tuple) else value[0])
    return env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed here (apt-get install postgresql-client), so nothing was "
                          f"done; or back up the database yourself: {PG_DUMP_LINE}")  # fmt: skip
    return found


def _copy_sqlite(database: Path, into: Path) -> None:
    """SQLite's online backup: a consistent snapshot, WAL included, while writers go on.

    In one step, in one read transaction (writers go on in WAL mode): a backup copied in steps starts again
    whenever another connection writes between two of them, and on a busy server it never finished."""
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(into)
    try:
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("The copy of the database failed its integrity check; nothing was written.")
    finally:
        target.close()
        source.close()


def backup(config: IntakeConfig, out: Path, overwrite: bool) -> BackupResult:
    instance = Instance(config)
    keys = {name: (instance.folder / name).read_bytes() for name in KEY_MEMBERS if (instance.folder / name).exists()}
    if len(keys) != len(KEY_MEMBERS):
        raise BackupError(f"{instance.folder} has no server key or instance secret; run `intake init` first.")
    if out.exists() and not overwrite:
        raise FileRefused(f"{out} exists already; choose another name, or add --overwrite to replace it.")
    partial = _partial(out)
    partial.unlink(missing_ok=True)
    database = instance.sqlite_path()
    kind = "sqlite" if database is not None else "postgresql"
    try:
        with _scratch(out) as scratch:
            if database is not None:
                _copy_sqlite(database, scratch)
                member = SQLITE_MEMBER
            else:
                _pg_dump(config.database_url, scratch)
                member = PG_MEMBER
            with create_private(partial, overwrite=False) as stream, tarfile.open(fileobj=stream, mode="w") as tar:
                _add_bytes(tar, MARKER, f"{FORMAT_LINE}\ndatabase: {kind}\n".encode())
                for name, data in keys.items():
                    _add_bytes(tar, name, data)
                tar.add(scratch, arcname=member, recursive=False, filter=_private_member)
                tar.close()
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(out, kind, out.stat().st_size)


def _pg_dump(url: str, into: Path) -> None:
    done = subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(into)],  # noqa: S603
                          env=_pg_env(url), capture_output=True, text=True, timeout=3600, check=False)  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed ({done.stderr.strip().splitlines()[-1:] or ['no message']}); "
                          "nothing was written.")  # fmt: skip


def _private_member(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname, info.mtime = 0o600, 0, 0, "", "", 0
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = _private_member(tarfile.TarInfo(name))
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


# --- restore ---------------------------------------------------------------------------------------------


def _members(tar: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    """Exactly the members a backup has, each a regular file, the small ones small."""
    found: dict[str, tarfile.TarInfo] = {}
    for info in tar:
        if not info.isfile() or info.name in found or "/" in info.name:
            raise FileRefused(f"{path} is not an intake backup (unexpected member {info.name[:40]!r}).")
        found[info.name] = info
    kinds = {MARKER, *KEY_MEMBERS}
    if not kinds <= found.keys() or len(found.keys() - kinds) != 1 or not found.keys() & {SQLITE_MEMBER, PG_MEMBER}:
        raise FileRefused(f"{path} is not an intake backup (its members are not the ones `intake backup` writes).")
    if any(found[name].size > MAX_SMALL_MEMBER for name in kinds):
        raise FileRefused(f"{path} is not an intake backup (a key member is too large).")
    return found


def _read(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    stream = tar.extractfile(info)
    assert stream is not None  # a regular member, checked in _members
    return stream.read(MAX_SMALL_MEMBER + 1)


def _database_in_use(database: Path) -> int | None:
    """The pid of another process that has ``database`` (or its WAL) open, from /proc (Linux)."""
    targets = {str(database), str(database) + "-wal"}
    for proc in Path("/proc").glob("[0-9]*"):
        if int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in targets:
                        return int(proc.name)
    return None


def _check_keys(instance: Instance, keys: dict[str, bytes], overwrite: bool) -> None:
    for name, data in keys.items():
        present = instance.folder / name
        if present.exists() and present.read_bytes() != data and not overwrite:
            raise BackupError(f"{present} holds another key than the backup; nothing was restored. Add "
                              "--overwrite to replace this instance's keys with the backup's.")  # fmt: skip


def restore(config: IntakeConfig, path: Path, overwrite: bool) -> str:
    """Put the backup at ``path`` back onto this (stopped) instance; return the kind of database restored."""
    instance = Instance(config)
    try:
        return _restore(config, instance, path, overwrite)
    except tarfile.TarError:
        raise FileRefused(f"{path} is not an intake backup (not a tar archive, or a damaged one); "
                          "nothing was restored.") from None  # fmt: skip


def _restore(config: IntakeConfig, instance: Instance, path: Path, overwrite: bool) -> str:
    with open_regular(path, "an intake backup") as stream, tarfile.open(fileobj=stream, mode="r:") as tar:
        found = _members(tar, path)
        kind = "sqlite" if SQLITE_MEMBER in found else "postgresql"
        marker = _read(tar, found[MARKER]).decode("utf-8", "replace")
        if not marker.startswith(FORMAT_LINE + "\n"):
            raise FileRefused(f"{path} is a backup of a newer or unknown kind; upgrade intake first.")
        if (kind == "sqlite") != config.is_sqlite:
            raise BackupError(f"This backup holds a {kind} database and this instance uses another kind; set "
                              "INTAKE_DATABASE_URL to match the server the backup came from.")  # fmt: skip
        keys = {name: _read(tar, found[name]) for name in KEY_MEMBERS}
        _check_keys(instance, keys, overwrite)
        instance.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        database = instance.sqlite_path()
        if database is not None:
            _restore_sqlite(tar, found[SQLITE_MEMBER], database, overwrite)
        else:
            _restore_pg(tar, found[PG_MEMBER], config.database_url, instance.folder / "restore.pgdump", overwrite)
    for name, data in keys.items():
        (instance.folder / name).unlink(missing_ok=True)
        _write_key(instance.folder / name, data)
    upgrade(config.database_url)
    instance.initialize()  # modes, and nothing else: every key is there now
    return kind


def _write_key(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _restore_sqlite(tar: tarfile.TarFile, info: tarfile.TarInfo, database: Path, overwrite: bool) -> None:
    busy = _database_in_use(database)
    if busy is not None:
        raise BackupError(f"The database is open in process {busy}: stop the server first "
                          "(systemctl stop intake.socket intake.service); nothing was restored.")  # fmt: skip
    if database.exists() and _holds_data(database) and not overwrite:
        raise BackupError(f"{database} already holds envelopes or caseworker keys; nothing was restored. Add "
                          "--overwrite to replace it with the backup's database.")  # fmt: skip
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if shutil.disk_usage(database.parent).free < 2 * info.size:
        raise BackupError(f"Not enough free space in {database.parent} for the backup's database; "
                          "nothing was restored.")  # fmt: skip
    with _scratch(database) as scratch:
        stream = tar.extractfile(info)
        assert stream is not None
        with open(scratch, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.closing(sqlite3.connect(scratch)) as check:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError("The backup's database fails its integrity check; nothing was restored.")
        for suffix in ("-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
        os.replace(scratch, database)


def _holds_data(database: Path) -> bool:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
        try:
            return bool(db.execute("SELECT (SELECT count(*) FROM envelopes) + (SELECT count(*) FROM recipients)")
                        .fetchone()[0])  # fmt: skip
        except sqlite3.DatabaseError:
            return False  # no tables yet: an empty or a new file


def _restore_pg(tar: tarfile.TarFile, info: tarfile.TarInfo, url: str, dump: Path, overwrite: bool) -> None:
    from sqlalchemy import text

    from intake.database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            others = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid <> pg_backend_pid()")).scalar_one()  # fmt: skip
            tables = conn.execute(text("SELECT count(*) FROM information_schema.tables WHERE table_name = 'envelopes' "
                                       "AND table_schema = current_schema()")).scalar_one()  # fmt: skip
            filled = tables and conn.execute(text("SELECT (SELECT count(*) FROM envelopes) + "
                                                  "(SELECT count(*) FROM recipients)")).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    if others:
        raise BackupError(f"{others} other session(s) use the database: stop the server first "
                          "(systemctl stop intake.socket intake.service); nothing was restored.")  # fmt: skip
    if filled and not overwrite:
        raise BackupError("The database already holds envelopes or caseworker keys; nothing was restored. Add "
                          "--overwrite to replace it with the backup's database.")  # fmt: skip
    with _scratch(dump) as scratch:
        stream = tar.extractfile(info)
        assert stream is not None
        with open(scratch, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        done = subprocess.run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",  # noqa: S603
                               "--dbname", _pg_env(url)["PGDATABASE"], str(scratch)],
                              env=_pg_env(url), capture_output=True, text=True, timeout=3600, check=False)  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed ({done.stderr.strip().splitlines()[-1:] or ['no message']}); "
                          "the database is as it was (one transaction).")  # fmt: skip
