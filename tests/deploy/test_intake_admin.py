"""deploy/intake-admin (issue 20 item 7): `intake` as the service user, with the instance's settings and nothing
of root's environment; standard input and output pass through (files on a stick root mounted)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realparts import need, need_program

REPO = Path(__file__).resolve().parents[2]
WRAPPER = REPO / "deploy" / "intake-admin"
FAKE_INTAKE = """#!/bin/sh
echo "user=$(id -un) cwd=$(pwd)"
env | sort | grep -E '^(INTAKE_|ROOT_ONLY|PATH=)'
echo "args=$*"
cat
"""


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A folder the service user (nobody) can traverse: pytest's own tmp_path is under a 0700 folder."""
    folder = Path(tempfile.mkdtemp(prefix="intake-admin-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def wrapper_in(tmp_path: Path, env_file_text: str) -> tuple[Path, Path]:
    folder = tmp_path / "instance"
    folder.mkdir()
    os.chown(folder, pwd.getpwnam("nobody").pw_uid, -1)
    tmp_path.chmod(0o755)
    fake = tmp_path / "intake"
    fake.write_text(FAKE_INTAKE)
    fake.chmod(0o755)
    env_file = tmp_path / "intake.env"
    env_file.write_text(env_file_text)
    text = WRAPPER.read_text()
    places = {"SERVICE_USER=intake": "SERVICE_USER=nobody", "/var/lib/intake": str(folder),
              "/etc/intake/intake.env": str(env_file), "/opt/intake/venv/bin/intake": str(fake)}  # fmt: skip
    for old, new in places.items():
        assert old in text
        text = text.replace(old, new)
    copy = tmp_path / "intake-admin"
    copy.write_text(text)
    copy.chmod(0o755)
    return copy, folder


def test_the_wrapper_runs_intake_as_the_service_user_with_the_instance_settings(open_tmp: Path) -> None:
    need("root", os.geteuid() == 0, "the wrapper becomes the service user with runuser, which needs root")
    need_program("runuser", "util-linux provides runuser")
    copy, folder = wrapper_in(open_tmp, "# a comment\nINTAKE_DEFAULT_LOCALE=ru\nINTAKE_MAX_PENDING=500\nOTHER=x\n")
    done = subprocess.run([str(copy), "apply-ack", "-"], input="the return file", capture_output=True, text=True,
                          env={**os.environ, "ROOT_ONLY": "secret", "INTAKE_EXIT_URL": "https://root.example"},
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"user=nobody cwd={folder}" in out
    assert f"INTAKE_INSTANCE_DIR={folder}" in out
    assert "INTAKE_DEFAULT_LOCALE=ru" in out and "INTAKE_MAX_PENDING=500" in out
    assert "ROOT_ONLY" not in out and "root.example" not in out and "OTHER" not in out
    assert "args=apply-ack -" in out and out.endswith("the return file")


def test_the_wrapper_refuses_a_setting_with_a_space(open_tmp: Path) -> None:
    need("root", os.geteuid() == 0, "the wrapper refuses to run as another user than root")
    copy, _ = wrapper_in(open_tmp, "INTAKE_EXIT_URL=https://a.example/ b\n")
    done = subprocess.run([str(copy), "status"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "has a space in its value" in done.stderr
