"""The `intake` command through click's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import crypto
from intake.cli import main
from intake.config import IntakeConfig
from intake.instance import SECRET_FILE, SERVER_KEY_FILE
from intake.storage import Storage

DAY = datetime.date(2026, 11, 22)


@pytest.fixture
def env(config: IntakeConfig) -> dict[str, str]:
    return {"INTAKE_INSTANCE_DIR": str(config.instance_dir), "INTAKE_DATABASE_URL": config.database_url}


def invoke(runner: CliRunner, env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def pubfile(tmp_path: Path, identity: crypto.Identity) -> Path:
    path = tmp_path / f"{identity.name.replace(' ', '_')}.pub"
    path.write_text(identity.public.to_text())
    return path


def test_init_creates_private_keys_and_prints_the_fingerprint(runner: CliRunner, env: dict[str, str],
                                                              config: IntakeConfig) -> None:  # fmt: skip
    code, output = invoke(runner, env, "init")
    assert code == 0
    server = crypto.ServerKey.from_bytes((config.instance_dir / SERVER_KEY_FILE).read_bytes())
    assert server.public.fingerprint in output
    for name in (SERVER_KEY_FILE, SECRET_FILE):
        assert stat.S_IMODE((config.instance_dir / name).stat().st_mode) == 0o600
    # Running it again keeps the keys
    assert invoke(runner, env, "init") == (0, output)


def test_recipients_add_list_remove(runner: CliRunner, env: dict[str, str], tmp_path: Path,
                                    identity: crypto.Identity) -> None:  # fmt: skip
    invoke(runner, env, "init")
    code, output = invoke(runner, env, "recipients", "add", str(pubfile(tmp_path, identity)))
    assert code == 0 and identity.fingerprint in output
    assert invoke(runner, env, "recipients", "add", str(pubfile(tmp_path, identity)))[0] == 1
    code, output = invoke(runner, env, "recipients", "list")
    assert code == 0 and identity.fingerprint in output and identity.name in output
    bad = tmp_path / "bad.pub"
    text = identity.public.to_text()
    at = text.index("self-signature: ") + len("self-signature: ")
    bad.write_text(text[:at] + ("B" if text[at] != "B" else "C") + text[at + 1 :])
    code, output = invoke(runner, env, "recipients", "add", str(bad))
    assert code == 1 and "not a valid caseworker public key" in output
    code, output = invoke(runner, env, "recipients", "remove", identity.fingerprint.replace("-", "").upper())
    assert code == 0 and "Removed" in output
    assert invoke(runner, env, "recipients", "remove", identity.fingerprint)[0] == 1
    assert invoke(runner, env, "recipients", "remove", "not-a-fingerprint")[0] == 1


def test_serve_refuses_without_a_recipient(runner: CliRunner, env: dict[str, str]) -> None:
    invoke(runner, env, "init")
    code, output = invoke(runner, env, "serve", "--port", "8099")
    assert code == 1 and "intake recipients add" in output


def test_commands_before_init_say_what_to_do(runner: CliRunner, env: dict[str, str]) -> None:
    for args in (["recipients", "list"], ["export", "--out", "/nonexistent/x"], ["serve"]):
        code, output = invoke(runner, env, *args)
        assert code == 1 and "intake init" in output, args
    code, output = invoke(runner, {}, "recipients", "list")
    assert code == 1 and "INTAKE_INSTANCE_DIR" in output


def test_export_then_apply_ack_deletes_and_refuses_replays(
    runner: CliRunner, env: dict[str, str], tmp_path: Path, config: IntakeConfig, identity: crypto.Identity
) -> None:
    # Given an instance with two sealed requests
    invoke(runner, env, "init")
    invoke(runner, env, "recipients", "add", str(pubfile(tmp_path, identity)))
    storage = Storage(config.database_url)
    request = {"schema": 1, "locale": "ru", "submitted_on": DAY, "danger": "immediate", "people": 1,
               "contact_method": "signal", "contact": "@a", "story": "помогите", "consent": True}  # fmt: skip
    for n in range(2):
        storage.store_submission(crypto.seal_request(request, for_recipients=[identity.public]), bytes([n]) * 32,
                                 DAY, 10)  # fmt: skip
    # When exporting
    out = tmp_path / "export.bundle"
    code, output = invoke(runner, env, "export", "--out", str(out))
    server = crypto.ServerKey.from_bytes((config.instance_dir / SERVER_KEY_FILE).read_bytes()).public
    assert code == 0 and "Exported 2 envelope(s) as bundle 1" in output and server.fingerprint in output
    assert invoke(runner, env, "export", "--out", str(out))[0] == 1, "never overwrites a bundle"
    bundle = crypto.read_bundle(out, expected_server=server)
    entries = list(bundle.entries())
    assert [crypto.open_request(e.envelope, identity)["story"] for e in entries] == ["помогите"] * 2
    # Then a forged acknowledgement deletes nothing, with one clear sentence
    ack_entries = [crypto.AckEntry(e.entry_id, crypto.envelope_digest(e.envelope)) for e in entries[:1]]
    forged = tmp_path / "forged.ack"
    forged.write_bytes(crypto.make_ack(ack_entries, identity=crypto.Identity.generate("Mallory"), server=server,
                                       bundle_sequence=1, created_on=DAY))  # fmt: skip
    code, output = invoke(runner, env, "apply-ack", str(forged))
    assert code == 1 and "not a registered caseworker" in output and storage.pending_count() == 2
    garbage = tmp_path / "garbage.ack"
    garbage.write_bytes(b"not an ack at all")
    code, output = invoke(runner, env, "apply-ack", str(garbage))
    assert code == 1 and "nothing was deleted" in output
    # And a real one deletes exactly what it names, once
    ack = tmp_path / "real.ack"
    ack.write_bytes(crypto.make_ack(ack_entries, identity=identity, server=server, bundle_sequence=1,
                                    created_on=DAY))  # fmt: skip
    code, output = invoke(runner, env, "apply-ack", str(ack))
    assert code == 0 and "deleted 1 envelope(s)" in output and storage.pending_count() == 1
    code, output = invoke(runner, env, "apply-ack", str(ack))
    assert code == 1 and "applied before" in output and storage.pending_count() == 1
    storage.dispose()


@pytest.mark.parametrize(
    "command",
    [[], ["init"], ["recipients"], ["recipients", "add"], ["recipients", "list"], ["recipients", "remove"],
     ["serve"], ["export"], ["apply-ack"]],
)  # fmt: skip
def test_help_on_every_command(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output and len(result.output.splitlines()) > 4


def test_init_leaves_the_database_and_its_companions_private(runner: CliRunner, sqlite_config: IntakeConfig) -> None:
    """Issue 20 item 4: intake.db and its -wal, -shm and lock files are 0600, even under umask 022."""
    env = {"INTAKE_INSTANCE_DIR": str(sqlite_config.instance_dir)}
    old = os.umask(0o022)
    try:
        assert invoke(runner, env, "init")[0] == 0
        storage = Storage(sqlite_config.database_url)
        storage.add_recipient(crypto.Identity.generate("Alice").public, DAY)  # opens the WAL, -shm and lock file
        database = sqlite_config.instance_dir / "intake.db"
        found = {p.name: stat.S_IMODE(p.stat().st_mode) for p in sqlite_config.instance_dir.iterdir()}
        storage.dispose()
        assert {"intake.db", "intake.db-wal", "intake.db-shm", "intake.db-writers"} <= found.keys()
        assert all(mode == 0o600 for mode in found.values()), found
        # An older instance left at 0644 is made private again by the next init
        database.chmod(0o644)
        assert invoke(runner, env, "init")[0] == 0
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
    finally:
        os.umask(old)
