"""deploy/install.sh under a root prefix (``--root``), without systemd as PID 1: the files it lays down and their
modes and owners, the units enabled (the daily compaction timer among them: invariant 15 depends on it), the
installed units passing ``systemd-analyze verify``, the fingerprint it prints, a second run that changes
nothing, and every command it ran being one docs/OPERATIONS.md's install section shows.

The install is real: a virtual environment from requirements/server.lock (hash-checked, from the package
index or pip's cache) and the project wheel built from this checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.realparts import need, need_program

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "install.sh"
OPERATIONS = REPO / "docs" / "OPERATIONS.md"
ENABLED = {
    "sockets.target.wants/intake.socket": "intake.socket",
    "multi-user.target.wants/intake.service": "intake.service",
    "timers.target.wants/intake-compact.timer": "intake-compact.timer",
}


@dataclass
class Installed:
    root: Path
    wheel: Path
    first: str
    second: str
    before: dict[str, tuple[int, int, int, str, int]]
    after: dict[str, tuple[int, int, int, str, int]]

    def owner(self, name: str) -> tuple[int, int]:
        for line in (self.root / "etc" / "passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return int(fields[2]), int(fields[3])
        raise AssertionError(f"no user {name} in the prefix")


def run_install(root: Path, wheel: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    """The script's output: what it says (stdout) after the commands it ran (stderr, each after a "+")."""
    done = subprocess.run(["bash", str(INSTALL), "--root", str(root), "--wheel", str(wheel), *extra],
                          capture_output=True, text=True, timeout=900, check=False, env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stderr + done.stdout


def snapshot(root: Path) -> dict[str, tuple[int, int, int, str, int]]:
    """Every path under root: mode, owner, group, content (or link target) and modification time."""
    seen: dict[str, tuple[int, int, int, str, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            content = os.readlink(path)
        elif stat.S_ISREG(info.st_mode):
            import hashlib

            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = ""
        seen[str(path.relative_to(root))] = (info.st_mode, info.st_uid, info.st_gid, content, info.st_mtime_ns)
    return seen


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    need("root", os.geteuid() == 0, "run the install test as root: it sets owners and switches to the service user")
    need_program("systemd-sysusers", "apt-get install -y systemd")
    need_program("systemctl", "apt-get install -y systemd")
    need_program("setpriv", "apt-get install -y util-linux")
    base = Path(tempfile.mkdtemp(prefix="evac-install-"))
    os.chmod(base, 0o755)  # the service user must reach its instance folder inside
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(base / "dist"),
                        str(REPO)], check=True, timeout=600, capture_output=True)  # fmt: skip
        wheel = next((base / "dist").glob("evac_intake-*.whl"))
        root = base / "root"
        first = run_install(root, wheel)
        before = snapshot(root)
        second = run_install(root, wheel)
        yield Installed(root, wheel, first, second, before, snapshot(root))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_files_folders_and_their_modes(installed: Installed) -> None:
    root = installed.root
    uid, gid = installed.owner("intake")

    def mode_owner(path: str) -> tuple[str, int, int]:
        info = (root / path).stat()
        return oct(stat.S_IMODE(info.st_mode)), info.st_uid, info.st_gid

    # The instance folder and every file in it: the service user's alone
    assert mode_owner("var/lib/intake") == ("0o700", uid, gid)
    names = {p.name for p in (root / "var/lib/intake").iterdir()}
    assert {"server.key", "instance.secret", "intake.db"} <= names
    for name in names:
        assert mode_owner(f"var/lib/intake/{name}") == ("0o600", uid, gid), name
    # Settings: root's, readable by the service's group only; configuration and units root's, world-readable
    assert mode_owner("etc/intake/intake.env") == ("0o640", 0, gid)
    assert mode_owner("etc/intake/gunicorn.conf.py") == ("0o644", 0, 0)
    assert mode_owner("usr/local/sbin/intake-admin") == ("0o755", 0, 0)
    assert (root / "usr/local/sbin/intake-admin").read_bytes() == (REPO / "deploy/intake-admin").read_bytes()
    shipped = {
        "etc/intake/gunicorn.conf.py": "deploy/gunicorn.conf.py",
        "etc/systemd/system/intake.socket": "deploy/systemd/intake.socket",
        "etc/systemd/system/intake.service": "deploy/systemd/intake.service",
        "etc/systemd/system/intake-compact.service": "deploy/systemd/intake-compact.service",
        "etc/systemd/system/intake-compact.timer": "deploy/systemd/intake-compact.timer",
        "etc/systemd/system/tor@default.service.d/intake.conf": "deploy/systemd/tor-intake.conf",
        "etc/tor/torrc": "deploy/torrc",
        "etc/apparmor.d/local/system_tor": "deploy/apparmor-local-system_tor",
        "etc/sysusers.d/intake.conf": "deploy/systemd/intake.sysusers",
        "opt/intake/docs/OPERATIONS.md": "docs/OPERATIONS.md",
    }
    for target, source in shipped.items():
        assert (root / target).read_bytes() == (REPO / source).read_bytes(), target
        assert mode_owner(target) == ("0o644", 0, 0), target
    # The service user has no shell and lives in its instance folder
    line = next(x for x in (root / "etc/passwd").read_text().splitlines() if x.startswith("intake:"))
    assert line.endswith(":/var/lib/intake:/usr/sbin/nologin")
    # The application runs from the venv: the installed intake is the wheel's, not this checkout
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(root / "opt/intake/venv/bin/python"), "-c", "import intake; print(intake.__file__)"],
                          capture_output=True, text=True, timeout=60, check=True, cwd=root, env=clean)  # fmt: skip
    assert done.stdout.strip().startswith(str(root / "opt/intake/venv/lib"))


def test_the_socket_the_service_and_the_compaction_timer_are_enabled(installed: Installed) -> None:
    units = installed.root / "etc/systemd/system"
    for link, unit in ENABLED.items():
        path = units / link
        assert path.is_symlink(), f"{link} is not enabled"
        assert os.readlink(path) == f"/etc/systemd/system/{unit}"


def test_the_installed_units_verify(installed: Installed, tmp_path: Path) -> None:
    analyze = need_program("systemd-analyze", "apt-get install -y systemd")
    # Given the units as installed, their /opt/intake paths pointed into the prefix (verify checks they exist)
    units = []
    for name in ("intake.socket", "intake.service", "intake-compact.service", "intake-compact.timer"):
        text = (installed.root / "etc/systemd/system" / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/intake/", f"{installed.root}/opt/intake/"))
        units.append(str(tmp_path / name))
    done = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intake" not in done.stderr, done.stderr


def test_it_prints_the_fingerprint_and_what_to_do_next(installed: Installed) -> None:
    from intake.config import IntakeConfig
    from intake.instance import Instance

    server = Instance(IntakeConfig(instance_dir=installed.root / "var/lib/intake")).server_key()
    assert f"Server key fingerprint: {server.public.fingerprint}" in installed.first
    assert "recipients add" in installed.first and "Onion address:" in installed.first
    # No onion address yet: tor never ran in the prefix, and the script says where to read it later
    assert "cat /var/lib/tor/intake/hostname" in installed.first


def test_a_second_run_changes_nothing(installed: Installed) -> None:
    # The instance folder's own modification time is the one exception: `intake init` (run every time, it is
    # also the upgrade) opens the database, and SQLite creates and removes its journal beside it.
    folder = "var/lib/intake"
    before = {k: v for k, v in installed.before.items() if k != folder}
    after = {k: v for k, v in installed.after.items() if k != folder}
    assert before.keys() == after.keys()
    changed = [k for k in before if before[k] != after[k]]
    assert changed == []
    assert installed.before[folder][:4] == installed.after[folder][:4]
    # and it said so: nothing installed, no venv made, no pip run, no user created
    commands = [line for line in installed.second.splitlines() if line.startswith("+ ")]
    assert not [c for c in commands if re.match(r"\+ (install|.*pip |.*-m venv|systemd-sysusers)", c)], commands
    assert installed.first.count("Server key fingerprint") == installed.second.count("Server key fingerprint")


def _install_section() -> str:
    text = OPERATIONS.read_text()
    start = text.index("## 1. Install the server")
    return text[start:text.index("\n## 2.", start)]


def _as_an_operator_reads_it(command: str, installed: Installed) -> str:
    """A command the script printed, with the test's prefix and paths turned back into the real ones."""
    command = command.replace(str(installed.root), "")
    command = command.replace(f"{REPO}/", "")
    command = command.replace(str(installed.wheel), "evac_intake-*.whl")
    command = re.sub(r"setpriv --reuid=\d+ --regid=\d+ --clear-groups --", "runuser -u intake --", command)
    command = command.replace("systemctl --root= ", "systemctl ")
    command = re.sub(r"systemd-sysusers --root= (\S+)", r"systemd-sysusers \1", command)
    uid, gid = installed.owner("intake")
    names = {"0": "root", str(uid): "intake"}
    groups = {"0": "root", str(gid): "intake"}
    command = re.sub(r"-o (\d+) -g (\d+)", lambda m: f"-o {names[m.group(1)]} -g {groups[m.group(2)]}", command)
    return " ".join(command.split())


def test_every_command_it_ran_is_in_the_operations_guide(installed: Installed) -> None:
    section = " ".join(_install_section().split())
    ran = [line[2:] for line in installed.first.splitlines() if line.startswith("+ ")]
    assert ran, installed.first
    missing = [c for c in (_as_an_operator_reads_it(c, installed) for c in ran) if c not in section]
    assert missing == [], "\n".join(missing)


def test_every_command_of_a_live_install_is_in_the_operations_guide() -> None:
    # What the prefix run cannot reach (packages, AppArmor, tor's check, starting services): read from the
    # script itself, each `run ...` line as the guide must show it.
    section = " ".join(_install_section().split())
    live = [
        "apt-get install -y",
        "systemd-sysusers /etc/sysusers.d/intake.conf",
        "apparmor_parser -r /etc/apparmor.d/system_tor",
        "tor --verify-config --defaults-torrc /usr/share/tor/tor-service-defaults-torrc -f /etc/tor/torrc",
        "systemctl daemon-reload",
        "systemctl enable intake.socket intake.service intake-compact.timer",
        "systemctl start intake.socket intake.service intake-compact.timer",
        "systemctl restart tor@default",
        "systemctl restart intake.service",
        "runuser -u postgres -- psql",
    ]
    script = INSTALL.read_text()
    for command in live:
        assert command.split(" --")[0].split()[0] in script
        assert command in section, command


def test_postgres_role_database_and_setting_once(installed: Installed, pg_server: object) -> None:
    from tests.pgserver import PgServer

    assert isinstance(pg_server, PgServer)
    need_program("psql", "apt-get install -y postgresql-client")
    # Given the installed prefix (copied: the venv inside still runs), and a PostgreSQL server whose socket the
    # script reaches through PGHOST (as Debian's /var/run/postgresql), as its superuser
    root = installed.root.parent / "root-pg"  # beside the first: a folder the service user can reach
    subprocess.run(["cp", "-a", str(installed.root), str(root)], check=True, timeout=120)  # owners and modes too
    name = f"evac_install_{os.getpid()}"
    env = {**os.environ, "PGHOST": str(pg_server.socket_dir), "PGUSER": pg_server.superuser}
    # The service user must reach the server's socket folder (the throwaway server keeps its base private).
    base = pg_server.socket_dir.parent
    mode = stat.S_IMODE(base.stat().st_mode)
    os.chmod(base, mode | 0o011)
    try:
        # When the script runs with --postgres, twice
        first = run_install(root, installed.wheel, "--postgres", "--database", name, env=env)
        settings = (root / "etc/intake/intake.env").read_text()
        second = run_install(root, installed.wheel, "--postgres", "--database", name, env=env)
        # Then the role and the database exist, owned by intake, with the schema `intake init` made there
        assert pg_server.execute is not None
        import psycopg

        with psycopg.connect(pg_server.conninfo(name)) as conn:
            owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                                 (name,)).fetchone()  # fmt: skip
            assert owner == ("intake",)
            assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
        # and the setting was written once, pointing at the socket, and read by `intake init`
        url = f"INTAKE_DATABASE_URL=postgresql+psycopg://intake@/{name}?host={pg_server.socket_dir}"
        assert settings.count("INTAKE_DATABASE_URL=") - settings.count("#INTAKE_DATABASE_URL=") == 1
        assert url + "\n" in settings
        assert (root / "etc/intake/intake.env").read_text() == settings
        assert "CREATE ROLE" in first and "CREATE DATABASE" in first
        assert "CREATE" not in second
        assert f"env {url} INTAKE_INSTANCE_DIR=" in second.replace(str(root), "")
    finally:
        os.chmod(base, mode)
        pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg_server.execute("DROP ROLE IF EXISTS intake")
