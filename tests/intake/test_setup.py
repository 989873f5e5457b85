"""What a new operator meets first (issue 13): a laptop install without the server stack, a private key
given by mistake, an export refused without spending a bundle number, a taken port, whole --help summaries."""

from __future__ import annotations

import datetime
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import crypto
from intake.cli import main
from intake.config import IntakeConfig
from intake.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime.date(2026, 11, 22)
REQUEST = {"schema": 1, "locale": "ru", "submitted_on": DAY, "danger": "immediate", "people": 1,
           "contact_method": "signal", "contact": "@a", "story": "помогите", "consent": True}  # fmt: skip


@pytest.fixture
def env(sqlite_config: IntakeConfig) -> dict[str, str]:
    return {"INTAKE_INSTANCE_DIR": str(sqlite_config.instance_dir), "INTAKE_DATABASE_URL": sqlite_config.database_url}


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.fixture
def registered(env: dict[str, str], tmp_path: Path, identity: crypto.Identity) -> dict[str, str]:
    invoke(env, "init")
    pub = tmp_path / "Alice.pub"
    pub.write_text(identity.public.to_text())
    assert invoke(env, "recipients", "add", str(pub))[0] == 0
    return env


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def test_intake_without_the_server_libraries_says_what_to_install() -> None:
    # Given a Python where Flask, SQLAlchemy and Alembic cannot be imported (the laptop install)
    code = textwrap.dedent(
        """
        import importlib.abc, sys

        class Blocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("flask", "sqlalchemy", "alembic", "werkzeug"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, Blocker())
        sys.argv = ["intake", "init"]
        from intake.entry import main
        main()
        """
    )
    # When the `intake` console script's entry point runs
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    # Then it stops with one sentence naming what to install, not a ModuleNotFoundError
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "ModuleNotFoundError" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "requirements/server.lock" in lines[0] and "triage" in lines[0], done.stderr


def test_the_console_script_points_at_the_checking_entry() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'intake = "intake.entry:main"' in text


def test_recipients_add_refuses_a_private_key_file_and_copies_nothing(
    env: dict[str, str], tmp_path: Path, sqlite_config: IntakeConfig
) -> None:
    # Given the caseworker's locked private key file, brought to the server by mistake
    invoke(env, "init")
    caseworker = crypto.Identity.generate("Alice")
    key_file = tmp_path / "Alice.key"
    locked = crypto.lock_identity(caseworker, "six words of a test only passphrase", kdf=crypto.KDF_FOR_TESTS_ONLY)
    key_file.write_bytes(locked)
    # When the operator tries to register it
    code, output = invoke(env, "recipients", "add", str(key_file))
    # Then it is named as a PRIVATE key that must go back, and nothing of it is on the server
    assert code == 1 and "PRIVATE key" in output and "laptop" in output
    assert invoke(env, "recipients", "list")[1].startswith("No caseworker key")
    for stored in sqlite_config.instance_dir.rglob("*"):
        if stored.is_file():
            assert locked[-64:] not in stored.read_bytes(), stored


def test_a_refused_export_spends_no_bundle_number(
    registered: dict[str, str], tmp_path: Path, sqlite_config: IntakeConfig, identity: crypto.Identity
) -> None:
    storage = Storage(sqlite_config.database_url)
    storage.store_submission(crypto.seal_request(REQUEST, for_recipients=[identity.public]), b"\1" * 32, DAY, 10)
    storage.dispose()
    out = tmp_path / "export.bundle"
    code, output = invoke(registered, "export", "--out", str(out))
    assert code == 0 and "as bundle 1 " in output
    first = out.read_bytes()
    # When the same name is given again, it is refused and the file is untouched
    code, output = invoke(registered, "export", "--out", str(out))
    assert code == 1 and "--overwrite" in output and out.read_bytes() == first
    # Then the next export is bundle 2, not 3; and --overwrite replaces the file when asked
    code, output = invoke(registered, "export", "--out", str(tmp_path / "second.bundle"))
    assert code == 0 and "as bundle 2 " in output, output
    code, output = invoke(registered, "export", "--out", str(out), "--overwrite")
    assert code == 0 and "as bundle 3 " in output and out.read_bytes() != first
    assert not list(tmp_path.glob("*.partial"))
    # A file left by an export that did not finish is named, and again no number is spent
    (tmp_path / "third.bundle.partial").write_bytes(b"")
    code, output = invoke(registered, "export", "--out", str(tmp_path / "third.bundle"))
    assert code == 1 and "did not finish" in output
    (tmp_path / "third.bundle.partial").unlink()
    code, output = invoke(registered, "export", "--out", str(tmp_path / "third.bundle"))
    assert code == 0 and "as bundle 4 " in output, output


def test_serve_binds_before_it_prints(registered: dict[str, str], taken_port: int) -> None:
    code, output = invoke(registered, "serve", "--port", str(taken_port))
    assert code == 1
    assert "Serving on" not in output
    assert f"port {taken_port}" in output and "in use" in output and "--port" in output


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("group", [[], ["recipients"]])
def test_help_shows_every_summary_whole(group: list[str]) -> None:
    result = CliRunner().invoke(main, [*group, "--help"], terminal_width=80)
    assert result.exit_code == 0
    commands = result.output.split("Commands:")[1]
    assert "..." not in commands
    shown = _words(commands)
    for name in ("apply-ack", "init", "serve") if not group else ("add", "list", "remove"):
        command = main.commands[name] if not group else main.commands["recipients"].commands[name]  # type: ignore[attr-defined]
        first_sentence = _words(command.help or "").split(". ")[0].strip().rstrip(".")
        assert first_sentence in shown, (name, first_sentence)
