"""A real intake instance served by gunicorn on 127.0.0.1, in its own process group so it can be SIGKILLed whole.

The instance is set up with the real ``intake`` CLI (tests/deploy/intake_helpers.py) and a caseworker whose
private key file is locked with the test-only KDF. gunicorn runs deploy/gunicorn.conf.py with only the bind
address and the heartbeat folder changed (``worker="deploy"``: tor's CircuitWorker, so every connection
starts with a PROXY line naming a circuit), or with plain sync workers (``worker="sync"``) for clients that
cannot send a PROXY line, such as a browser.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from tests.deploy.intake_helpers import set_up_instance
from tests.deploy.rawhttp import Connection, Response
from tests.deploy.servers import DEPLOY_CONFIG, REPO
from tests.tornet import free_port

PASSPHRASE = "system test passphrase"  # a test key's passphrase
HOST = "127.0.0.1"
BASE_MARKER = b'<a class="exit" href='  # the quick-exit link of templates/base.html: on every page of ours


def proxy_line(circuit: int) -> bytes:
    """What tor writes first on each stream (HiddenServiceExportCircuitID haproxy)."""
    return f"PROXY TCP6 fc00:dead:beef:4dad::{circuit >> 16:x}:{circuit & 0xFFFF:x} ::1 65535 0\r\n".encode()


@dataclass
class SystemInstance:
    """An initialised instance folder with one registered caseworker (key file locked, test KDF)."""

    root: Path
    folder: Path
    env: dict[str, str] = field(repr=False)
    key_file: Path

    @classmethod
    def create(cls, root: Path, *, locale: str = "en", **settings: str) -> SystemInstance:
        folder = root / "instance"
        env = {**os.environ, "INTAKE_INSTANCE_DIR": str(folder), "INTAKE_DEFAULT_LOCALE": locale,
               "INTAKE_CIRCUIT_PER_MINUTE": "100000", "INTAKE_GLOBAL_PER_MINUTE": "1000000", **settings}  # fmt: skip
        env.pop("INTAKE_DATABASE_URL", None)  # the embedded SQLite default
        caseworker = crypto.Identity.generate("caseworker")
        set_up_instance(folder, env, caseworker)
        key_file = root / "caseworker.key"
        key_file.write_bytes(crypto.lock_identity(caseworker, PASSPHRASE, kdf=crypto.KDF_FOR_TESTS_ONLY))
        return cls(root, folder, env, key_file)

    def __repr__(self) -> str:
        return f"SystemInstance({self.root})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints this, not every field
        printer.text(repr(self))

    def caseworker(self) -> crypto.Identity:
        return crypto.unlock_identity(self.key_file.read_bytes(), PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)

    @property
    def database(self) -> Path:
        return self.folder / "intake.db"

    def db(self) -> sqlite3.Connection:
        """A read-only look at the server's database (WAL readers do not block the server)."""
        return sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)

    def counts(self) -> tuple[int, int, int]:
        """(envelopes, receipts, received counter): a refused request must change none of them."""
        with contextlib.closing(self.db()) as db:
            envelopes = db.execute("SELECT count(*) FROM envelopes").fetchone()[0]
            receipts = db.execute("SELECT count(*) FROM receipts").fetchone()[0]
            received = db.execute("SELECT value FROM counters WHERE name = 'received'").fetchone()[0]
        return int(envelopes), int(receipts), int(received)

    def envelope_ids(self) -> set[bytes]:
        with contextlib.closing(self.db()) as db:
            return {bytes(row[0]) for row in db.execute("SELECT id FROM envelopes")}

    def envelope(self, entry_id: bytes) -> bytes:
        with contextlib.closing(self.db()) as db:
            return bytes(db.execute("SELECT envelope FROM envelopes WHERE id = ?", (entry_id,)).fetchone()[0])

    def integrity(self) -> str:
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as db:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])


@dataclass
class Gunicorn:
    """One gunicorn master and its workers; ``kill()`` SIGKILLs the whole process group at once."""

    instance: SystemInstance
    port: int = field(default_factory=free_port)
    worker: str = "deploy"
    app: str = "intake.wsgi:app"
    extra_env: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None  # logs and heartbeat files; default: the instance's root folder
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def __repr__(self) -> str:
        return f"Gunicorn({self.base}, worker={self.worker}, app={self.app})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints this, not every field
        printer.text(repr(self))

    @property
    def folder(self) -> Path:
        return self.workdir or self.instance.root

    @property
    def log(self) -> Path:
        return self.folder / f"gunicorn-{self.port}.log"

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY_CONFIG), "--bind", f"{HOST}:{self.port}",
                "--worker-tmp-dir", str(self.folder)]  # fmt: skip
        if self.worker == "sync":
            argv += ["--worker-class", "sync", "--threads", "1", "--workers", "2"]
        return [*argv, self.app]

    def start(self, timeout: float = 300.0) -> None:  # a bound for a loaded machine, not a figure
        env = {**self.instance.env, **self.extra_env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv(), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip
        self.starts += 1
        self.wait_ready(timeout)

    def connect(self, circuit: int | None = None, timeout: float = 30.0) -> Connection:
        sock = socket.create_connection((HOST, self.port), timeout=timeout)
        conn = Connection(sock)
        if self.worker == "deploy":
            conn.send_raw(proxy_line(circuit if circuit is not None else 1 + int.from_bytes(os.urandom(3), "big")))
        return conn

    def get(self, path: str) -> Response:
        conn = self.connect()
        try:
            return conn.request("GET", path, host=f"{HOST}:{self.port}")
        finally:
            conn.sock.close()

    def wait_ready(self, timeout: float) -> None:
        """Until a worker answers (the master alone would accept and queue the connection)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}):\n{self.log.read_text(errors='replace')}")
            with contextlib.suppress(OSError):
                if self.get("/").status == 302:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log.read_text(errors='replace')}")

    def kill(self) -> None:
        """SIGKILL the master and every worker at the same instant (no graceful anything)."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.contextmanager
def serving(instance: SystemInstance, **options: object) -> Iterator[Gunicorn]:
    server = Gunicorn(instance, **options)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()
