"""A built wheel, not only the editable install, works: the laptop's install has no Flask and runs triage."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


def test_wheel_carries_templates_translations_migrations_and_policy(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "crypto/envelope.py" in names and "triage/cli.py" in names and "intake/cli.py" in names
    assert any(n.startswith("intake/templates/") and n.endswith(".html") for n in names)
    assert any(n.startswith("intake/migrations/versions/") and n.endswith(".py") for n in names)
    assert "intake/migrations/env.py" in names
    assert any(n.endswith("ru/LC_MESSAGES/messages.mo") for n in names)
    assert any(n.startswith("triage/") and n.endswith(".toml") for n in names)
    # the desk's templates and stylesheet, and triage's own catalogue (used without Babel)
    assert {
        "triage/desk/templates/queue.html",
        "triage/desk/desk.css",
        "triage/locale/ru/LC_MESSAGES/triage.mo",
        "triage/locale/ru/LC_MESSAGES/click.mo",  # click's own words in Russian (triage/cli_language.py)
    } <= names
    assert not any(n.startswith("tests/") for n in names)


@pytest.mark.slow
def test_triage_runs_from_the_wheel_without_flask(wheel: Path, tmp_path: Path) -> None:
    # Given a clean virtual environment with only the wheel's core dependencies
    env_dir = tmp_path / "laptop"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=600)
    # Then Flask is absent, and triage answers --help from the installed wheel
    probe = subprocess.run([python, "-c", "import flask"], capture_output=True)
    assert probe.returncode != 0
    result = subprocess.run([env_dir / "bin" / "triage", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for command in ("keygen", "import", "list", "show", "set", "ack"):
        assert command in result.stdout
    located = subprocess.run(
        [python, "-c", "import triage, crypto; print(triage.__file__, crypto.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert str(ROOT) not in located.stdout  # really the installed copy, not the work tree
