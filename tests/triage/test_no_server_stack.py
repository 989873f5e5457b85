"""triage runs on a laptop without Flask, SQLAlchemy or the intake package."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    class Blocker(importlib.abc.MetaPathFinder):
        BLOCKED = ("flask", "sqlalchemy", "intake", "werkzeug", "jinja2", "alembic", "wtforms", "flask_wtf")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError(f"{name} is blocked: triage must not need it")
            return None

    sys.meta_path.insert(0, Blocker())
    """
)


def run_blocked(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_blocker_really_blocks() -> None:
    result = run_blocked("import flask")
    assert result.returncode != 0 and "blocked" in result.stderr


def test_triage_imports_and_runs_help_without_flask() -> None:
    result = run_blocked(
        """
        import triage.cli, triage.parallel, triage.importer
        from click.testing import CliRunner
        for args in (["--help"], ["list", "--help"], ["import", "--help"], ["ack", "--help"], ["keygen", "--help"],
                     ["desk", "--help"]):
            out = CliRunner().invoke(triage.cli.main, args)
            assert out.exit_code == 0, (args, out.output)
            assert "Usage" in out.output
        print("ok", sorted(m for m in sys.modules if m.split(".")[0] in ("flask", "sqlalchemy", "intake")))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok []"


def test_every_command_has_help() -> None:
    from click.testing import CliRunner

    from triage.cli import main

    for name, command in main.commands.items():
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert command.help and len(command.help) > 20, name
        for param in command.params:
            if param.param_type_name == "option":
                assert getattr(param, "help", None), f"{name} {param.name} has no help"


def test_the_desk_without_flask_names_the_kit_option_not_a_package_index() -> None:
    result = run_blocked(
        """
        import triage.cli
        from click.testing import CliRunner
        for lang, words in (("en", "LAPTOP_DESK=1"), ("ru", "LAPTOP_DESK=1")):
            out = CliRunner().invoke(triage.cli.main, ["--lang", lang, "--home", "/nonexistent", "desk"])
            assert out.exit_code == 1 and "Traceback" not in out.output, out.output
            assert words in out.output and "pip install" not in out.output, out.output
            assert ("комплекта" in out.output) if lang == "ru" else ("laptop kit" in out.output), out.output
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
