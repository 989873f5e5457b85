"""The laptop kit: built on a connected machine, installed on a laptop with no network, then used.

The install runs inside a new network namespace (`unshare -n`: not even loopback is up), and the test
first proves, in that same namespace, that a connection to a listener it opened outside fails.
"""

from __future__ import annotations

import json
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import crypto
from tests.realparts import need
from tests.triage.helpers import Server, make_request

ROOT = Path(__file__).resolve().parent.parent
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)  # not this venv: a laptop has no venv yet
PASSPHRASE = "lantern orchid pebble meadow thistle raven yarrow"
NO_NETWORK_PROBE = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)\n"
    "except OSError:\n"
    "    sys.exit(0)\n"
    "sys.exit('the network is reachable: this is not an offline test')\n"
)


def offline(*command: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a fresh network namespace: no interface, not even loopback, is up."""
    return subprocess.run(["unshare", "-n", *map(str, command)], capture_output=True, text=True, timeout=600,
                          **kwargs)  # type: ignore[call-overload]  # fmt: skip


def _unshare_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(["unshare", "-n", "true"]).returncode == 0


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("a Linux x86_64 machine", sys.platform == "linux" and platform.machine() == "x86_64",
         "the kit's compiled wheels are chosen for manylinux2014_x86_64")  # fmt: skip
    out = tmp_path_factory.mktemp("usb") / "laptop-kit"
    done = subprocess.run(
        [sys.executable, ROOT / "deploy" / "laptop_kit.py", "--out", out, "--python-version", PYTHON_VERSION,
         "--platform", "manylinux2014_x86_64"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "SHA-256 of SHA256SUMS" in done.stdout
    return out


def test_the_kit_holds_every_locked_wheel_a_checksum_list_and_one_script(kit: Path) -> None:
    names = {p.name for p in (kit / "wheels").iterdir()}
    lock = (ROOT / "requirements" / "laptop.lock").read_text()
    for line in lock.splitlines():
        if "==" in line and not line.startswith("#"):
            project = line.split("==")[0].strip().replace("-", "_").lower()
            assert any(n.lower().startswith(project + "-") for n in names), project
    assert any(n.startswith("evac_intake-") for n in names) and any(n.startswith("pip-") for n in names)
    assert all(n.endswith(".whl") for n in names), "only wheels: nothing is built on the laptop"
    listed = {line.split("  ", 1)[1] for line in (kit / "SHA256SUMS").read_text().splitlines()}
    assert listed == {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert (kit / "install.sh").is_file() and (kit / "PYTHON_VERSION").read_text().strip() == PYTHON_VERSION


def test_a_changed_file_stops_the_install(kit: Path, tmp_path: Path) -> None:
    copy = tmp_path / "kit"
    shutil.copytree(kit, copy)
    (copy / "requirements.txt").write_text((copy / "requirements.txt").read_text() + "\n# changed\n")
    done = subprocess.run(["sh", copy / "install.sh", tmp_path / "venv"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": BASE_PYTHON})  # fmt: skip
    assert done.returncode != 0 and "does not match SHA256SUMS" in done.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.slow
def test_the_kit_installs_offline_and_triage_imports_a_bundle(kit: Path, tmp_path: Path) -> None:
    need("unshare -n (root, util-linux)", _unshare_works(), "run the test as root on Linux")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": BASE_PYTHON, "LANG": "C.UTF-8"}
    # Given a listener that is reachable from here
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = str(listener.getsockname()[1])
        socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()
        # When the kit is installed in a namespace where that listener (and every network) is unreachable
        probe = offline(BASE_PYTHON, "-c", NO_NETWORK_PROBE, port)
        assert probe.returncode == 0, probe.stderr
        venv = tmp_path / "triage-venv"
        done = offline("sh", "-c", f'{BASE_PYTHON} -c "$1" {port} && exec sh "$2" "$3"', "sh", NO_NETWORK_PROBE,
                       kit / "install.sh", venv, env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Installed triage" in done.stdout
    triage = venv / "bin" / "triage"
    located = offline(venv / "bin" / "python", "-c", "import triage; print(triage.__file__)", cwd=tmp_path)
    assert located.stdout.startswith(str(venv)), located.stdout
    assert offline(venv / "bin" / "python", "-c", "import flask").returncode != 0
    # Then triage, from the installed copy and still offline, makes a key and imports a bundle
    home, passphrase = tmp_path / "home", tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    made = offline(triage, "--home", home, "--passphrase-file", passphrase, "keygen", "--name", "Alice", env=env)
    assert made.returncode == 0, made.stderr
    alice = (home / "Alice.pub").read_text()
    server = Server()
    story = "Нас трое, нужна помощь до пятницы."
    entry = server.entry(make_request(story=story), [crypto.PublicIdentity.from_text(alice)])
    bundle = server.bundle(tmp_path / "export.bundle", [entry])
    imported = offline(triage, "--home", home, "--passphrase-file", passphrase, "import", bundle,
                       "--fingerprint", server.key.public.fingerprint, env=env)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    listed = offline(triage, "list", "--json", "--home", home, "--passphrase-file", passphrase, env=env)
    assert listed.returncode == 0, listed.stderr
    assert [case["request"]["story"] for case in json.loads(listed.stdout)] == [story]
    # And the policy guide that --policy's help points at is in the installed copy
    guide = offline(triage, "policy", env=env)
    assert guide.returncode == 0 and "# The priority policy" in guide.stdout
    # And running the installer again (a newer kit) reinstalls in place, keeping the home untouched
    again = offline("sh", kit / "install.sh", venv, env=env)
    assert again.returncode == 0 and "Upgrading" in again.stdout, again.stderr
    assert (home / "Alice.key").is_file()
    # And `intake` there says in one sentence what it would need
    server_cmd = offline(venv / "bin" / "intake", "init", env=env)
    assert server_cmd.returncode == 1 and "Traceback" not in server_cmd.stderr
    assert "requirements/server.lock" in server_cmd.stderr


def test_a_laptop_with_another_python_is_told_which_kit_to_build(kit: Path, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "python3"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 3.99\n")
    fake.chmod(0o755)
    done = subprocess.run(["sh", kit / "install.sh", tmp_path / "venv"], capture_output=True, text=True,
                          env={"PATH": f"{fake.parent}:/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert done.returncode != 0 and f"This kit is for Python {PYTHON_VERSION}" in done.stderr
    # in the words the person typed to build the kit (make laptop-kit LAPTOP_PYTHON=...), and the script's own
    assert "LAPTOP_PYTHON=3.99" in done.stderr and "--python-version 3.99" in done.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.slow
def test_a_kit_with_the_desk_installs_offline_and_the_desk_imports(tmp_path: Path) -> None:
    need("unshare -n (root, util-linux)", _unshare_works(), "run the test as root on Linux")
    out = tmp_path / "usb" / "desk-kit"
    done = subprocess.run(
        ["make", "laptop-kit", f"KIT={out}", f"LAPTOP_PYTHON={PYTHON_VERSION}", "LAPTOP_PLATFORM=manylinux2014_x86_64",
         "LAPTOP_DESK=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "with the desk" in done.stdout
    assert "evac-intake[desk]==" in (out / "requirements.txt").read_text()
    venv = tmp_path / "triage-venv"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": BASE_PYTHON}
    installed = offline("sh", out / "install.sh", venv, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    desk = offline(venv / "bin" / "python", "-c", "import flask, triage.desk, triage.desk.serve; print('desk ok')",
                   cwd=tmp_path)  # fmt: skip
    assert desk.returncode == 0 and "desk ok" in desk.stdout, desk.stderr
    assert offline(venv / "bin" / "python", "-c", "import sqlalchemy").returncode != 0, "no server stack"


def test_a_malformed_python_version_is_named_as_the_person_typed_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, ROOT / "deploy" / "laptop_kit.py", "--out", tmp_path / "kit", "--python-version", "3.13.1",
         "--platform", "manylinux2014_x86_64"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "LAPTOP_PYTHON" in done.stdout + done.stderr and "3.13.1" in done.stdout + done.stderr
