"""The systemd units in deploy/systemd load cleanly (`systemd-analyze verify`), and the service's sandbox
scores as exposed as systemd's own "OK" level at worst (`systemd-analyze security --offline`)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realparts import need_program

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
GUNICORN = Path(sys.executable).parent / "gunicorn"


@pytest.fixture
def unit_dir() -> Iterator[Path]:
    """A copy of the units with ExecStart pointing at this environment's gunicorn (verify checks it exists)."""
    path = Path(tempfile.mkdtemp(prefix="evac-units-"))
    try:
        for unit in UNITS.glob("intake.*"):
            text = unit.read_text().replace("/opt/intake/venv/bin/gunicorn", str(GUNICORN))
            (path / unit.name).write_text(text)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_units_verify(unit_dir: Path) -> None:
    analyze = need_program("systemd-analyze", "apt-get install -y systemd")
    done = subprocess.run([analyze, "verify", "--man=no", str(unit_dir / "intake.socket"),
                           str(unit_dir / "intake.service")], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intake" not in done.stderr, done.stderr  # any complaint names the unit


def test_service_sandbox_exposure_is_low(unit_dir: Path) -> None:
    analyze = need_program("systemd-analyze", "apt-get install -y systemd")
    # exposure is 0-10; --threshold is on a 0-100 scale. 2.0 and below is systemd's "OK".
    done = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", "--no-pager",
                           str(unit_dir / "intake.service")], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def _service() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / "intake.service").read_text())
    return parser


def test_service_settings_the_threat_model_relies_on() -> None:
    service = _service()["Service"]
    assert service["User"] == "intake" and service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["ProtectHome"] == "yes"
    assert service["PrivateTmp"] == "yes" and service["PrivateDevices"] == "yes"
    assert service["LimitCORE"] == "0"  # a core dump would hold requests in plaintext
    assert service["UMask"] == "0077"
    assert service["ReadWritePaths"] == "/var/lib/intake"
    assert service["RestrictAddressFamilies"] == "AF_UNIX"
    assert service["IPAddressDeny"] == "any"
    assert service["MemoryDenyWriteExecute"] == "yes"
    socket_unit = configparser.ConfigParser(interpolation=None)
    socket_unit.optionxform = str  # type: ignore[assignment,method-assign]
    socket_unit.read_string((UNITS / "intake.socket").read_text())
    sock = socket_unit["Socket"]
    assert sock["ListenStream"].startswith("/run/") and sock["SocketMode"] == "0660"
    assert sock["SocketGroup"] == "debian-tor"


def test_the_daily_compaction_units_verify_and_share_the_sandbox(unit_dir: Path) -> None:
    analyze = need_program("systemd-analyze", "apt-get install -y systemd")
    for unit in UNITS.glob("intake-compact.*"):
        text = unit.read_text().replace("/opt/intake/venv/bin/intake", str(GUNICORN.parent / "intake"))
        (unit_dir / unit.name).write_text(text)
    done = subprocess.run([analyze, "verify", "--man=no", str(unit_dir / "intake-compact.timer"),
                           str(unit_dir / "intake-compact.service")], capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intake" not in done.stderr, done.stderr
    security = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", "--no-pager",
                               str(unit_dir / "intake-compact.service")], capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip
    assert security.returncode == 0, security.stdout[-3000:] + security.stderr
    assert "ExecStart=" in (UNITS / "intake-compact.service").read_text() and "compact" in (
        UNITS / "intake-compact.service").read_text()  # fmt: skip


def test_the_service_limits_malloc_arenas_and_the_benchmarks_run_it_so() -> None:
    # glibc's per-thread arenas kept each upload's freed buffers resident (above 2 MiB per upload at 8 at once);
    # the benchmarks' servers must start with what the unit sets, or they measure another program.
    from bench.intake_bench import PRODUCTION_ENV

    lines = (UNITS / "intake.service").read_text().splitlines()
    environment = dict(line.split("=", 2)[1:] for line in lines if line.startswith("Environment="))
    assert environment["MALLOC_ARENA_MAX"] == "2"
    assert {k: v for k, v in environment.items() if k != "INTAKE_INSTANCE_DIR"} == PRODUCTION_ENV
