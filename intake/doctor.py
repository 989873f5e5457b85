"""``intake doctor``: check what an operator could get wrong, and say for each problem the command that fixes it.

Checks the service user; the mode and owner of the instance folder and of every file in it; the keys; the
database (SQLite's integrity check, or a PostgreSQL connection) and its schema; the caseworker keys; tor's
configuration and the app's socket where they are present; the compaction timer; the clock's day. Every
problem is one sentence and one command; ``intake doctor`` exits 1 if there is any. It prints nothing a
seized server would not show (paths, modes, owners, counts, days).
"""

from __future__ import annotations

import contextlib
import datetime
import grp
import pwd
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from intake.config import IntakeConfig
from intake.instance import SECRET_FILE, SERVER_KEY_FILE, Instance, InstanceError
from intake.rotation import unreadable_ids
from intake.status import COMPACTED_ON
from intake.storage import Storage
from intake.tables import applied_acks, counters, envelopes, recipients, replies

ADMIN = "intake-admin"  # deploy/intake-admin: `intake` as the service user with the instance's settings


@dataclass(frozen=True)
class Places:
    """Where the deployment puts things (deploy/): overridable for tests and unusual installs."""

    service_user: str = "intake"
    torrc: Path = Path("/etc/tor/torrc")
    socket: Path = Path("/run/intake/gunicorn.sock")
    socket_group: str = "debian-tor"
    timer: str = "intake-compact.timer"


@dataclass(frozen=True)
class Finding:
    ok: bool
    sentence: str
    fix: str = ""


Check = Callable[[IntakeConfig, Places, datetime.date], Iterator[Finding]]


def _owner(path: Path, user: str) -> Finding | None:
    try:
        expected = pwd.getpwnam(user).pw_uid
    except KeyError:
        return None  # reported once, by the service-user check
    if path.stat().st_uid != expected:
        return Finding(False, f"{path} belongs to {_name(path.stat().st_uid)}, not to the service user {user}.",
                       f"chown {user}:{user} {path}")  # fmt: skip
    return None


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def service_user(config: IntakeConfig, places: Places, today: datetime.date) -> Iterator[Finding]:
    try:
        pwd.getpwnam(places.service_user)
    except KeyError:
        yield Finding(False, f"The service user {places.service_user} does not exist.",
                      f"adduser --system --group --home {config.instance_dir} --no-create-home "
                      f"{places.service_user}")  # fmt: skip
        return
    yield Finding(True, f"the service user {places.service_user} exists")


def files(config: IntakeConfig, places: Places, today: datetime.date) -> Iterator[Finding]:
    folder = config.instance_dir
    if not folder.is_dir():
        yield Finding(False, f"The instance folder {folder} does not exist.", f"{ADMIN} init")
        return
    problems = 0
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        problems += 1
        yield Finding(False, f"{folder} is open to other users (mode {stat.S_IMODE(folder.stat().st_mode):04o}).",
                      f"chmod 0700 {folder}")  # fmt: skip
    paths = [folder, *sorted(p for p in folder.rglob("*"))]
    for path in paths:
        if path.is_symlink():
            problems += 1
            yield Finding(False, f"{path} is a symbolic link; the instance folder holds only its own files.",
                          f"rm {path}")  # fmt: skip
            continue
        owner = _owner(path, places.service_user)
        if owner is not None:
            problems += 1
            yield owner
        if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            problems += 1
            yield Finding(False, f"{path} can be read by other users (mode {stat.S_IMODE(path.stat().st_mode):04o}).",
                          f"chmod 0600 {path}")  # fmt: skip
    for name in (SERVER_KEY_FILE, SECRET_FILE):
        if not (folder / name).exists():
            problems += 1
            yield Finding(False, f"{folder / name} is missing.",
                          f"{ADMIN} restore BACKUP  (or, for a new instance, {ADMIN} init)")  # fmt: skip
    if not problems:
        yield Finding(True, f"modes and owners of the {len(paths)} entries in {folder}")


def keys(config: IntakeConfig, places: Places, today: datetime.date) -> Iterator[Finding]:
    instance = Instance(config)
    try:
        instance.server_key()
        instance.secret()
    except (InstanceError, ValueError, OSError) as error:
        yield Finding(False, f"The instance keys cannot be used ({str(error).rstrip('.')}).", f"{ADMIN} restore BACKUP")
        return
    except Exception:  # a damaged key file: crypto's errors
        yield Finding(False, f"{config.instance_dir / SERVER_KEY_FILE} is damaged.", f"{ADMIN} restore BACKUP")
        return
    yield Finding(True, "the server key and the instance secret")


def database(config: IntakeConfig, places: Places, today: datetime.date) -> Iterator[Finding]:
    path = Instance(config).sqlite_path()
    if path is not None:
        if not path.exists():
            yield Finding(False, f"The database {path} does not exist.", f"{ADMIN} init")
            return
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
            result = str(db.execute("PRAGMA integrity_check").fetchone()[0])
        if result != "ok":
            yield Finding(False, f"The database {path} fails SQLite's integrity check.",
                          f"systemctl stop intake.socket intake.service && {ADMIN} restore --overwrite "
                          "BACKUP")  # fmt: skip
            return
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from intake.migrate import alembic_config

    storage = Storage(config.database_url)
    try:
        with storage.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        storage.dispose()
    head = ScriptDirectory.from_config(alembic_config(config.database_url)).get_current_head()
    if current != head:
        yield Finding(False, f"The database schema is at revision {current}, not {head}.", f"{ADMIN} init")
        return
    yield Finding(True, f"the database ({'integrity check, ' if path else ''}schema {head})")


def caseworkers(config: IntakeConfig, places: Places, today: datetime.date) -> Iterator[Finding]:
    storage = Storage(config.database_url)
    try:
        with storage.reading() as conn:
            count = int(conn.execute(select(func.count()).select_from(recipients)).scalar_one())
            unreadable = len(unreadable_ids(conn))
    finally:
        storage.dispose()
    if not count:
        yield Finding(False, "No caseworker key is registered, so the form refuses every request.",
                      f"{ADMIN} recipients add - < NAME.pub")  # fmt: skip
    if unreadable:
        yield Finding(False, f"{unreadable} waiting envelope(s) can be read by no registered key.",
                      f"{ADMIN} recipients add - < OLD.pub  (or {ADMIN} recipients drop-unreadable "
                      "--force)")  # fmt: skip
    if count and not unreadable:
        yield Finding(True, f"{count} caseworker key(s), every waiting envelope readable by one")


def tor(config: IntakeConfig, places: Places, today: datetime.date) -> Iterator[Finding]:
    if places.torrc.exists():
        try:
            text = places.torrc.read_text(errors="replace")
        except OSError:
            yield Finding(False, f"{places.torrc} cannot be read by this user.", f"sudo {ADMIN} doctor")
            return
        if f"unix:{places.socket}" not in text:
            yield Finding(False, f"{places.torrc} does not send the onion service to {places.socket}.",
                          f"install -m 0644 deploy/torrc {places.torrc} && systemctl restart tor@default")  # fmt: skip
        else:
            yield Finding(True, f"{places.torrc} points the onion service at {places.socket}")
    if places.socket.exists() or places.socket.is_symlink():
        info = places.socket.lstat()
        try:
            group = grp.getgrgid(info.st_gid).gr_name
        except KeyError:
            group = f"gid {info.st_gid}"
        if not stat.S_ISSOCK(info.st_mode) or stat.S_IMODE(info.st_mode) != 0o660 or group != places.socket_group:
            yield Finding(False, f"{places.socket} is not a socket of mode 0660 and group {places.socket_group}.",
                          "systemctl restart intake.socket")  # fmt: skip
        else:
            yield Finding(True, f"{places.socket} (mode 0660, group {places.socket_group})")


def _newest_day(config: IntakeConfig) -> tuple[datetime.date | None, datetime.date | None, int]:
    storage = Storage(config.database_url)
    try:
        with storage.reading() as conn:
            columns = (envelopes.c.received_on, applied_acks.c.applied_on, replies.c.stored_on)
            days = [conn.execute(select(func.max(column))).scalar_one() for column in columns]
            compacted = conn.execute(select(counters.c.value).where(counters.c.name == COMPACTED_ON)).scalar()
            pending = int(conn.execute(select(func.count()).select_from(envelopes)).scalar_one())
    finally:
        storage.dispose()
    found = [d for d in days if d is not None]
    return (max(found) if found else None), (datetime.date.fromordinal(compacted) if compacted else None), pending


def timer_and_clock(config: IntakeConfig, places: Places, today: datetime.date) -> Iterator[Finding]:
    newest, compacted, pending = _newest_day(config)
    systemctl = shutil.which("systemctl")
    if systemctl and Path("/run/systemd/system").is_dir():
        done = subprocess.run([systemctl, "is-enabled", places.timer], capture_output=True, text=True,  # noqa: S603
                              timeout=30, check=False)  # fmt: skip
        if done.stdout.strip() != "enabled":
            yield Finding(False, f"The compaction timer {places.timer} is not enabled, so the database keeps "
                          "the order requests arrived in.", f"systemctl enable --now {places.timer}")  # fmt: skip
        else:
            yield Finding(True, f"{places.timer} is enabled")
    if pending and (compacted is None or (today - compacted).days > 2):
        since = "never" if compacted is None else f"last on {compacted.isoformat()}"
        yield Finding(False, f"Requests are waiting and the database was compacted {since}.",
                      f"{ADMIN} compact  (and systemctl enable --now {places.timer})")  # fmt: skip
    if newest is not None and newest > today:
        yield Finding(False, f"The clock says {today.isoformat()}, earlier than the newest day stored "
                      f"({newest.isoformat()}): it is wrong.", "timedatectl set-ntp true")  # fmt: skip
    else:
        yield Finding(True, f"the clock's day ({today.isoformat()} UTC) is not before any day stored")


CHECKS: tuple[Check, ...] = (service_user, files, keys, database, caseworkers, tor, timer_and_clock)


def examine(config: IntakeConfig, places: Places, today: datetime.date) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            findings.extend(check(config, places, today))
        except Exception as error:  # one broken part must not hide the others
            findings.append(Finding(False, f"The {check.__name__.replace('_', ' ')} check could not run "
                                    f"({type(error).__name__}).", f"{ADMIN} init"))  # fmt: skip
            if check is database:
                break  # the checks after it read the database
    return findings


def render(findings: list[Finding]) -> list[str]:
    lines = []
    for finding in findings:
        lines.append(f"ok       {finding.sentence}" if finding.ok else f"PROBLEM  {finding.sentence}")
        if not finding.ok:
            lines.append(f"         fix: {finding.fix}")
    problems = sum(not f.ok for f in findings)
    lines.append(f"{problems} problem(s)." if problems else "No problems found.")
    return lines

