"""Issue 20 item 2: `intake backup` and `intake restore`, on SQLite and PostgreSQL.

A backup restored onto a new, stopped instance has every stored envelope and answers every receipt; the
backup file is 0600 and never replaces a file unless asked; restore refuses a running or a filled
instance, and anything that is not a backup, in one sentence.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
import subprocess
import sys
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import crypto
from intake.app import create_app
from intake.backup import backup
from intake.cli import main
from intake.config import IntakeConfig
from tests.intake.helpers import check_status, opened, receipt_of, submit


def env_of(config: IntakeConfig) -> dict[str, str]:
    return {"INTAKE_INSTANCE_DIR": str(config.instance_dir), "INTAKE_DATABASE_URL": config.database_url}


def intake(config: IntakeConfig, *args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env_of(config))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def target(config: IntakeConfig, tmp_path: Path, request: pytest.FixtureRequest) -> IntakeConfig:
    """Another instance (a new folder; on PostgreSQL a new, empty database) to restore onto."""
    url = ""
    if not config.is_sqlite:
        pg = request.getfixturevalue("pg_server")
        name = f"restored_{os.getpid()}_{tmp_path.name[-20:]}".replace("-", "_")
        pg.execute(f'CREATE DATABASE "{name}"')
        request.addfinalizer(lambda: pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        url = pg.url(name)
    return IntakeConfig(instance_dir=tmp_path / "restored", database_url=url, default_locale="en")


def filled(config: IntakeConfig, tmp_path: Path, identity: crypto.Identity, count: int) -> dict[str, str]:
    assert intake(config, "init")[0] == 0
    (tmp_path / "cw.pub").write_text(identity.public.to_text())
    assert intake(config, "recipients", "add", tmp_path / "cw.pub")[0] == 0
    app = create_app(config)
    client = app.test_client()
    receipts = {f"story {n}": receipt_of(submit(client, story=f"story {n}")) for n in range(count)}
    app.extensions["intake"].storage.dispose()
    return receipts


def test_a_backup_restores_every_envelope_and_receipt(config: IntakeConfig, target: IntakeConfig, tmp_path: Path,
                                                      identity: crypto.Identity) -> None:  # fmt: skip
    # Given an instance with four waiting requests
    receipts = filled(config, tmp_path, identity, 4)
    # When it is backed up and restored onto a new instance
    out = tmp_path / "intake.backup"
    code, output = intake(config, "backup", "--out", out)
    assert code == 0, output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    code, output = intake(target, "restore", out)
    assert code == 0, output
    # Then the new instance holds the same keys, every request (opened by the caseworker) and every receipt
    for name in ("server.key", "instance.secret"):
        assert (target.instance_dir / name).read_bytes() == (config.instance_dir / name).read_bytes()
        assert stat.S_IMODE((target.instance_dir / name).stat().st_mode) == 0o600
    app = create_app(target)
    storage = app.extensions["intake"].storage
    stories = {opened(e, identity)["story"] for _, e in storage.envelope_bytes()}
    assert stories == set(receipts)
    client = app.test_client()
    assert all(check_status(client, receipt).startswith("Received") for receipt in receipts.values())
    storage.dispose()


def test_a_backup_finishes_while_submissions_keep_arriving(sqlite_config: IntakeConfig, tmp_path: Path,
                                                          identity: crypto.Identity) -> None:  # fmt: skip
    # Given a database of about 40 MB (SQLite's online backup, copied in steps of some pages, starts again
    # whenever another connection writes between two steps) and a writer committing every few milliseconds
    receipts = filled(sqlite_config, tmp_path, identity, 2)
    database = sqlite_config.instance_dir / "intake.db"
    with sqlite3.connect(database) as db:
        db.executemany("INSERT INTO envelopes (rowid, id, envelope, received_on, sealed_to) VALUES (?, ?, ?, ?, 'x')",
                       [(secrets.randbits(63), secrets.token_bytes(16), secrets.token_bytes(33_000), "2026-11-22")
                        for _ in range(1200)])  # fmt: skip
    assert database.stat().st_size > 32 * 1024 * 1024
    stop, writes = threading.Event(), [0]

    def writer() -> None:
        with sqlite3.connect(database, isolation_level=None, timeout=30) as db:
            while not stop.is_set():
                db.execute("INSERT INTO used_tokens (digest, forget_after) VALUES (?, '2026-11-23')",
                           (secrets.token_bytes(32),))  # fmt: skip
                writes[0] += 1
                stop.wait(0.005)

    out = tmp_path / "intake.backup"
    writing = threading.Thread(target=writer)
    taking = threading.Thread(target=backup, args=(IntakeConfig(instance_dir=sqlite_config.instance_dir), out, False))
    writing.start()
    try:
        while writes[0] < 10:
            stop.wait(0.01)
        # When a backup is taken while the writer goes on
        taking.start()
        taking.join(timeout=60)
        finished = not taking.is_alive()
    finally:
        stop.set()
        writing.join()
        if taking.ident is not None:  # started: a livelocked copy ends once the writer stops
            taking.join()
    # Then it finishes while the writes go on (before, it began again after every step, for ever)
    assert finished, "the backup did not finish while another connection kept writing"
    target = IntakeConfig(instance_dir=tmp_path / "restored", default_locale="en")
    assert intake(target, "restore", out)[0] == 0
    app = create_app(target)
    storage = app.extensions["intake"].storage
    stories = {opened(e, identity)["story"] for _, e in storage.envelope_bytes() if len(e) != 33_000}
    storage.dispose()
    assert stories == set(receipts)


def test_a_backup_never_replaces_a_file_unless_asked(config: IntakeConfig, tmp_path: Path,
                                                     identity: crypto.Identity) -> None:  # fmt: skip
    filled(config, tmp_path, identity, 1)
    out = tmp_path / "kept"
    out.write_bytes(b"something else")
    code, output = intake(config, "backup", "--out", out)
    assert code == 1 and "--overwrite" in output and out.read_bytes() == b"something else"
    out.chmod(0o644)
    assert intake(config, "backup", "--out", out, "--overwrite")[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and tarfile.is_tarfile(out)


def test_restore_refuses_a_filled_instance_unless_asked(config: IntakeConfig, tmp_path: Path,
                                                        identity: crypto.Identity) -> None:  # fmt: skip
    filled(config, tmp_path, identity, 2)
    out = tmp_path / "intake.backup"
    intake(config, "backup", "--out", out)
    code, output = intake(config, "restore", out)
    assert code == 1 and "--overwrite" in output
    code, output = intake(config, "restore", out, "--overwrite")
    assert code == 0, output


def test_restore_refuses_while_the_sqlite_database_is_open(sqlite_config: IntakeConfig, tmp_path: Path,
                                                           identity: crypto.Identity) -> None:  # fmt: skip
    filled(sqlite_config, tmp_path, identity, 1)
    out = tmp_path / "intake.backup"
    intake(sqlite_config, "backup", "--out", out)
    database = sqlite_config.instance_dir / "intake.db"
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                               "c.execute('select 1 from envelopes'); print('open', flush=True); sys.stdin.read()",
                               str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        code, output = intake(sqlite_config, "restore", out, "--overwrite")
        assert code == 1 and f"process {holder.pid}" in output and "systemctl stop" in output
    finally:
        holder.communicate(b"")


@pytest.mark.parametrize("content", [b"", b"not a tar file at all" * 100, "members"])
def test_restore_refuses_what_is_not_a_backup(sqlite_config: IntakeConfig, tmp_path: Path, content: Any) -> None:
    path = tmp_path / "fake.backup"
    if content == "members":
        with tarfile.open(path, "w") as tar:
            (tmp_path / "x").write_bytes(b"x")
            tar.add(tmp_path / "x", arcname="../../etc/passwd")
    else:
        path.write_bytes(content)
    code, output = intake(sqlite_config, "restore", path)
    assert code == 1 and str(path) in output and "not an intake backup" in output
    assert not (sqlite_config.instance_dir / "intake.db").exists()
