"""The ways the server is started: gunicorn's ``intake.wsgi:app``, ``intake serve``'s quiet dev server, the demo."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import crypto
from intake import demo
from intake.config import IntakeConfig
from intake.devserver import QuietHandler
from intake.instance import Instance
from intake.storage import Storage
from tests.intake.conftest import make_app


def test_wsgi_module_builds_the_app_from_the_environment(sqlite_config: IntakeConfig) -> None:
    Instance(sqlite_config).initialize()
    code = "import intake.wsgi as w; print(w.app.name, w.app.testing, w.app.config['SESSION_COOKIE_SAMESITE'])"
    env = {"INTAKE_INSTANCE_DIR": str(sqlite_config.instance_dir), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["intake", "False", "Strict"]


def test_wsgi_without_an_initialised_instance_fails_clearly(tmp_path: Path) -> None:
    env = {"INTAKE_INSTANCE_DIR": str(tmp_path / "missing"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", "import intake.wsgi"], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode != 0 and "intake init" in done.stderr


def test_dev_server_sends_no_server_or_date_header_and_logs_nothing(
    sqlite_config: IntakeConfig, identity: crypto.Identity, capfd: pytest.CaptureFixture[str]
) -> None:
    app = make_app(sqlite_config, identity)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/en/") as response:
            assert response.status == 200
            assert response.headers.get("Server") is None and response.headers.get("Date") is None
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/en/missing")
    finally:
        server.shutdown()
        thread.join(timeout=10)
    out, err = capfd.readouterr()
    assert "127.0.0.1" not in out + err and "GET" not in out + err


@pytest.mark.slow
def test_demo_prepares_a_loudly_marked_demo_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "demo"
    config, home, passphrase_file = demo.prepare(base)
    assert (home / "DEMO.key").is_file() and (home / "DEMO.pub").is_file()
    assert stat.S_IMODE(passphrase_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "DEMO.key").stat().st_mode) == 0o600
    identity = crypto.unlock_identity((home / "DEMO.key").read_bytes(), passphrase_file.read_text().strip())
    storage = Storage(config.database_url)
    assert [r.public for r in storage.recipients()] == [identity.public]
    storage.dispose()
    key_before = (home / "DEMO.key").read_bytes()
    demo.prepare(base)  # a second run keeps the key and registers nothing twice
    assert (home / "DEMO.key").read_bytes() == key_before
    storage = Storage(config.database_url)
    assert len(storage.recipients()) == 1
    storage.dispose()
    steps = demo.next_steps(base, home, passphrase_file, "http://127.0.0.1:8080/")
    assert "DEMO ONLY" in steps and "intake --instance" in steps and "triage --home" in steps
