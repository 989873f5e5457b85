"""Issue 20 item 2, invariant 19: a backup taken while the server is under load restores every receipted
submission, and every receipt still answers.

A real gunicorn (deploy configuration, embedded SQLite in WAL mode) serves visitors submitting on fresh
circuits while the backup is taken; it is restored onto a new instance with `intake restore`. Everything
receipted before the backup began must be there with its exact words and be found from its own receipt,
on the restored server's status page. (A plain copy of the database file at that moment misses the
newest submissions, still in the WAL: seeded here, it lost 34 of 34.)
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from intake.app import create_app
from intake.backup import backup
from intake.config import IntakeConfig
from tests.deploy.intake_helpers import run_intake
from tests.intake.helpers import check_status, opened
from tests.system.crashloop import CrashResult, Visitors
from tests.system.running import Gunicorn, SystemInstance

pytestmark = pytest.mark.slow


def wait_for(condition: object, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_backup_under_load_restores_every_receipted_submission(tmp_path: Path) -> None:
    # Given a running server with 4 visitors submitting all the time
    instance = SystemInstance.create(tmp_path / "live")
    server = Gunicorn(instance)
    result = CrashResult(kills=0)
    out = tmp_path / "intake.backup"
    server.start()
    try:
        with Visitors(server, 4, result) as visitors:
            wait_for(lambda: len(result.receipted) >= 30, "30 receipted submissions")
            with visitors.lock:
                before = dict(result.receipted)
            # When the backup is taken while they keep submitting (what `intake backup` runs, in this process so
            # that it starts the moment the receipts above are counted, while the newest still sit in the WAL)
            backup(IntakeConfig(instance_dir=instance.folder), out, overwrite=False)
            with visitors.lock:
                after = len(result.receipted)
            wait_for(lambda: len(result.receipted) >= after + 5, "submissions after the backup")
    finally:
        server.stop()
    assert set(result.answers) == {200}, result.answers
    # Then the backup restores onto a new instance
    restored = tmp_path / "restored" / "instance"
    env = {**instance.env, "INTAKE_INSTANCE_DIR": str(restored)}
    run_intake(["restore", str(out)], env)
    database = restored / "intake.db"
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        envelopes = [bytes(row[0]) for row in db.execute("SELECT envelope FROM envelopes")]
    caseworker = instance.caseworker()
    stories = {str(opened(envelope, caseworker)["story"]) for envelope in envelopes}
    missing = [marker for marker, (story, _) in before.items() if story not in stories]
    assert missing == [], f"{len(missing)} of {len(before)} receipted submissions are not in the backup"
    # And every receipt answers on the restored server's status page
    app = create_app(IntakeConfig(instance_dir=restored, default_locale="en"))
    client = app.test_client()
    unanswered = [m for m, (_, receipt) in before.items() if not check_status(client, receipt).startswith("Received")]
    app.extensions["intake"].storage.dispose()
    assert unanswered == [], f"{len(unanswered)} receipts do not answer after the restore"
