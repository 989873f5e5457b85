"""Issue 20 item 6: `intake status`, `intake doctor`, `intake --version`; and `export --out -` for a stick root mounted.

status prints counts, sizes, days and public fingerprints (what a seized database shows), never a secret.
doctor finds each seeded problem, says one sentence and the command that fixes it, and exits 1.
"""

from __future__ import annotations

import datetime
import getpass
import io
import socket
from importlib.metadata import version
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import crypto
from intake.cli import main
from intake.config import IntakeConfig
from intake.instance import Instance
from intake.storage import Storage
from intake.tables import envelopes
from tests.intake.test_queue_integrity import submit

ME = getpass.getuser()


def intake(config: IntakeConfig, *args: str | Path, input: bytes | None = None) -> tuple[int, str, bytes]:
    env = {"INTAKE_INSTANCE_DIR": str(config.instance_dir), "INTAKE_DATABASE_URL": config.database_url}
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, input=input)
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr if args[:3] == ("export", "--out", "-") else result.output, \
        result.stdout_bytes


@pytest.fixture
def ready(config: IntakeConfig, tmp_path: Path) -> IntakeConfig:
    assert intake(config, "init")[0] == 0
    alice = crypto.Identity.generate("Alice")
    (tmp_path / "a.pub").write_text(alice.public.to_text())
    assert intake(config, "recipients", "add", tmp_path / "a.pub")[0] == 0
    return config


def doctor(config: IntakeConfig, tmp_path: Path, *extra: str) -> tuple[int, str]:
    code, output, _ = intake(config, "doctor", "--service-user", ME, "--torrc", str(tmp_path / "no-torrc"),
                             "--socket", str(tmp_path / "no-socket"), *extra)  # fmt: skip
    return code, output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and version("evac-intake") in result.output


def test_status_says_what_waits_and_nothing_secret(ready: IntakeConfig, tmp_path: Path) -> None:
    storage = Storage(ready.database_url)
    try:
        for _ in range(3):
            submit(storage)
        size = sum(len(e) for _, e in storage.envelope_bytes())
    finally:
        storage.dispose()
    code, output, _ = intake(ready, "status")
    assert code == 0, output
    assert "3 envelope(s)" in output and f"{size / (1 << 20):,.1f} MiB" in output
    assert "Oldest waiting since:  2026-11-22" in output and "Alice" in output
    assert "Last export:           never" in output and "Last compaction:       never" in output
    intake(ready, "export", "--out", tmp_path / "b")
    intake(ready, "compact")
    code, output, _ = intake(ready, "status")
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert f"Last export:           {today} (today), bundle number 1" in output
    assert f"Last compaction:       {today} (today)" in output
    secret = Instance(ready).secret()
    assert secret.hex() not in output and secret.hex()[:8] not in output


def test_doctor_passes_a_sound_instance(ready: IntakeConfig, tmp_path: Path) -> None:
    code, output = doctor(ready, tmp_path)
    assert code == 0, output
    assert "No problems found." in output and "PROBLEM" not in output
    secret, key = Instance(ready).secret(), (ready.instance_dir / "server.key").read_bytes()
    assert secret.hex()[:8] not in output and key.hex()[:8] not in output


def test_doctor_names_each_seeded_problem_and_its_fix(ready: IntakeConfig, tmp_path: Path) -> None:
    folder = ready.instance_dir
    # Given a world-readable key, a tor configuration that points elsewhere, a socket of the wrong mode,
    # a day stored after today's (the clock is wrong), and requests waiting with no compaction yet
    (folder / "instance.secret").chmod(0o644)
    torrc = tmp_path / "torrc"
    torrc.write_text("HiddenServiceDir /var/lib/tor/intake/\nHiddenServicePort 80 127.0.0.1:8080\n")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s.sock"))
    storage = Storage(ready.database_url)
    try:
        submit(storage)
        with storage.writing() as conn:
            conn.execute(sa.update(envelopes).values(received_on=datetime.date.today() + datetime.timedelta(days=9)))
    finally:
        storage.dispose()
    code, output, _ = intake(ready, "doctor", "--service-user", ME, "--torrc", str(torrc),
                             "--socket", str(tmp_path / "s.sock"))  # fmt: skip
    sock.close()
    # Then doctor exits 1 and names every one with the command that fixes it
    assert code == 1
    expected = {
        "instance.secret can be read by other users": f"chmod 0600 {folder / 'instance.secret'}",
        "does not send the onion service to": "install -m 0644 deploy/torrc",
        "is not a socket of mode 0660": "systemctl restart intake.socket",
        "earlier than the newest day stored": "timedatectl set-ntp true",
        "compacted never": "intake-admin compact",
    }
    lines = output.splitlines()
    for problem, fix in expected.items():
        at = next(i for i, line in enumerate(lines) if problem in line)
        assert lines[at].startswith("PROBLEM") and fix in lines[at + 1], output
    assert "5 problem(s)." in output


def test_doctor_finds_a_missing_service_user_and_a_database_behind_its_schema(ready: IntakeConfig,
                                                                              tmp_path: Path) -> None:  # fmt: skip
    from intake.migrate import downgrade

    downgrade(ready.database_url, "0004")
    code, output = doctor(ready, tmp_path, "--service-user", "no-such-user-here")
    assert code == 1
    assert "The service user no-such-user-here does not exist." in output and "adduser --system" in output
    assert "schema is at revision 0004" in output and "fix: intake-admin init" in output


def test_export_to_standard_output_is_a_whole_signed_bundle(ready: IntakeConfig) -> None:
    storage = Storage(ready.database_url)
    try:
        submit(storage)
    finally:
        storage.dispose()
    code, output, data = intake(ready, "export", "--out", "-")
    assert code == 0 and "Exported 1 envelope(s) as bundle 1 to standard output" in output
    bundle = crypto.read_bundle(io.BytesIO(data).getvalue(), expected_server=Instance(ready).server_key().public)
    assert bundle.header.count == 1


def test_status_counts_the_sealed_files_against_their_cap(ready: IntakeConfig) -> None:
    from intake.tables import blobs

    # Given two sealed files stored (what a seized database shows too: their count and sizes, no content)
    engine = sa.create_engine(ready.database_url)
    with engine.begin() as conn:
        for n, size in enumerate((3 << 20, 1 << 20)):
            conn.execute(sa.insert(blobs).values(id=bytes([n]) * 16, envelope_id=b"\x09" * 16, stager=None,
                                                 size=size, staged_on=datetime.date(2026, 11, 22)))  # fmt: skip
    engine.dispose()
    code, output, _ = intake(ready, "status")
    assert code == 0, output
    assert "Files (sealed) stored: 2, 4.0 MiB of the 4,096.0 MiB" in output, output
