"""`make run` (intake.demo): its printed steps work as pasted, twice over, with no .venv/bin on PATH; a taken
port is said before any step is printed; `make run PORT=...` reaches the demo."""

from __future__ import annotations

import datetime
import json
import socket
import subprocess
from pathlib import Path

import pytest

import crypto
from intake import demo
from intake.config import IntakeConfig
from intake.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime.date(2026, 11, 22)
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"  # no .venv/bin: the printed PATH line must supply it


def _request(story: str) -> dict[str, object]:
    reply_key = crypto.derive_reply_keypair("7" * 30, bytes(32)).public.to_b64()  # a reply can reach them
    return {"schema": 2, "kind": "request", "locale": "ru", "submitted_on": DAY, "danger": "serious", "people": 2,
            "contact_method": "signal", "contact": "@demo", "story": story, "consent": True,
            "reply_key": reply_key}  # fmt: skip


def _steps(printed: str) -> list[str]:
    lines = printed.split("paste these lines")[1].splitlines()[1:]
    return [line.strip() for line in lines if line.startswith("    ")]


def _shell(path_line: str, command: str) -> subprocess.CompletedProcess[str]:
    script = f"set -e\n{path_line}\n{command}\n"
    return subprocess.run(["bash", "-c", script], env={"PATH": BARE_PATH, "HOME": "/nonexistent"},
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.mark.slow
def test_the_printed_round_trip_works_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a prepared demo and the steps it prints
    base = tmp_path / "my demo"  # a space in the path: every printed path must still paste as one word
    assert demo.main(["--dir", str(base), "--prepare-only"]) == 0
    printed = capsys.readouterr().out
    steps = _steps(printed)
    path_line, rest = steps[0], steps[1:]
    assert path_line.startswith("export PATH=")
    assert any(" show ID" in s for s in rest) and any(" set ID " in s for s in rest)
    assert any(s.endswith(" reply ID") for s in rest), "the round trip includes a reply"
    assert "ru/status" in printed and "receipt" in printed
    config = IntakeConfig(instance_dir=base / "instance")
    demo_key = crypto.PublicIdentity.from_text((base / "caseworker" / "DEMO.pub").read_text())
    for round_ in (1, 2):
        # When a request arrives and every printed line is run as pasted
        storage = Storage(config.database_url)
        storage.store_submission(crypto.seal_request(_request(f"round {round_}"), for_recipients=[demo_key]),
                                 bytes([round_]) * 32, DAY, 100)  # fmt: skip
        storage.dispose()
        case_id = None
        for step in rest:
            if " ID" in step:
                if case_id is None:
                    listing = _shell(path_line, step.split(" show ID")[0].split(" set ID")[0] + " list --json")
                    assert listing.returncode == 0, listing.stderr
                    case_id = next(c["id"] for c in json.loads(listing.stdout)
                                   if c["request"]["story"] == f"round {round_}")  # fmt: skip
                step = step.replace(" ID ", f" {case_id} ").replace(" ID", f" {case_id}")
            done = _shell(path_line, step)
            # Then each works, the second time as well
            assert done.returncode == 0, (round_, step, done.stdout, done.stderr)
            if " export " in step:
                assert f"as bundle {round_} " in done.stdout, done.stdout
            if " apply-ack " in step:
                assert "deleted 1 envelope(s)" in done.stdout, done.stdout
            if step.endswith(f" reply {case_id}"):
                assert "sealed and queued" in done.stdout, done.stdout


@pytest.mark.slow
def test_a_taken_port_is_said_before_any_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        assert demo.main(["--dir", str(tmp_path / "demo"), "--port", str(port)]) == 1
    out, err = capsys.readouterr()
    assert "Open http" not in out and "paste these lines" not in out
    assert f"port {port}" in err and "in use" in err and "make run PORT=" in err


def test_make_run_takes_a_port() -> None:
    done = subprocess.run(["make", "-n", "run", "PORT=9123"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "intake.demo --port 9123" in done.stdout
