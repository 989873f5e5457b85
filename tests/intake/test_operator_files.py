"""Issue 18 item 12: every file the `intake` command reads is a regular file, bounded before it is read.

A symlink to /dev/zero, a FIFO, a folder or a file larger than its format allows gets one sentence and
exit status 1, never a MemoryError, a hang or a traceback; `-` reads standard input with the same bound.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from intake import files
from intake.cli import main
from intake.config import IntakeConfig

COMMANDS = {  # command, the format's maximum
    "apply-ack": (["apply-ack"], files.MAX_ACK_BYTES),
    "recipients add": (["recipients", "add"], files.MAX_PUBLIC_KEY_BYTES),
}


@pytest.fixture
def env(sqlite_config: IntakeConfig) -> dict[str, str]:
    env = {"INTAKE_INSTANCE_DIR": str(sqlite_config.instance_dir)}
    assert CliRunner().invoke(main, ["init"], env=env).exit_code == 0
    return env


def hostile(kind: str, tmp_path: Path, limit: int) -> Path:
    path = tmp_path / kind
    if kind == "symlink-to-dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "too-large":  # sparse: one byte over the format's maximum, no disk used
        with open(path, "wb") as out:
            out.truncate(limit + 1)
    elif kind == "missing":
        pass
    return path


def refused(result: object) -> str:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 1, output  # type: ignore[attr-defined]
    assert "Traceback" not in output and not isinstance(result.exception, (MemoryError, OSError))  # type: ignore[attr-defined]
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    return output


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", ["symlink-to-dev-zero", "fifo", "folder", "too-large", "missing"])
def test_hostile_files_are_refused_in_one_sentence(env: dict[str, str], tmp_path: Path, command: str,
                                                   kind: str) -> None:  # fmt: skip
    argv, limit = COMMANDS[command]
    path = hostile(kind, tmp_path, limit)
    output = refused(CliRunner().invoke(main, [*argv, str(path)], env=env))
    assert str(path) in output


@pytest.mark.parametrize("command", list(COMMANDS))
def test_standard_input_is_bounded_too(env: dict[str, str], command: str) -> None:
    argv, limit = COMMANDS[command]
    output = refused(CliRunner().invoke(main, [*argv, "-"], env=env, input=b"\0" * (limit + 1)))
    assert "standard input" in output


def test_a_public_key_on_standard_input_is_registered(env: dict[str, str]) -> None:
    identity = crypto.Identity.generate("Alice")
    result = CliRunner().invoke(main, ["recipients", "add", "-"], env=env, input=identity.public.to_text())
    assert result.exit_code == 0 and identity.fingerprint in result.output


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(0, 2 * files.MAX_PUBLIC_KEY_BYTES), fill=st.binary(min_size=1, max_size=64))
def test_any_regular_file_gets_a_clean_answer(env: dict[str, str], tmp_path: Path, size: int, fill: bytes) -> None:
    path = tmp_path / "any.pub"
    path.write_bytes((fill * (size // len(fill) + 1))[:size])
    for argv, limit in COMMANDS.values():
        result = CliRunner().invoke(main, [*argv, str(path)], env=env)
        assert result.exit_code == 1 and "Traceback" not in result.output
        if size > limit:
            assert "was not read" in result.output


@pytest.mark.parametrize("kind", ["symlink-to-dev-zero", "fifo", "folder", "too-large", "missing"])
def test_restore_refuses_hostile_files_in_one_sentence(env: dict[str, str], tmp_path: Path, kind: str) -> None:
    path = hostile(kind, tmp_path, 1 << 20)
    output = refused(CliRunner().invoke(main, ["restore", str(path)], env=env))
    assert str(path) in output
