"""A Russian morning on the command line in a real 100×30 terminal (a pty), issue 19 item 11.

import, list, show, set, reply and ack run as a caseworker runs them: on a terminal of 100 columns and
30 rows, with $EDITOR for the note and the ready-made reply, and the pager for a case taller than the
screen. Nothing English may show outside names, ids and command lines; every line fits the width; the
queue fits the height; `show` starts with the level and the reasons.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.realparts import need_module
from tests.triage.helpers import PASSPHRASE, TODAY, Server, make_request
from tests.triage.test_cli_russian import english_words
from tests.triage.test_conversation import v2_request

ROOT = Path(__file__).resolve().parents[2]
ROWS, COLUMNS = 30, 100
DRIVER = (
    "import sys; from tests.triage.helpers import TEST_CONFIG; from triage.cli import main; "
    "main.main(sys.argv[1:], prog_name='triage', obj=TEST_CONFIG)"
)
# The caseworker's editor: writes the note, or fills the ready-made reply's placeholders.
EDITOR = """import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
if "[" in text:
    text = re.sub(r"\\[[^\\]]*\\]", "«сирень»", text)
else:
    text += "Перезвонили, она в безопасном месте до пятницы.\\n"
open(path, "w", encoding="utf-8").write(text)
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")
NAMES = {"triage", "intake", "apply", "ack", "reply", "template", "language", "list", "each", "limit", "all",
         "Alice", "eva", "Signal", "Telegram", "out", "FILE", "contact"}  # fmt: skip


def run_in_terminal(args: list[str], env: dict[str, str], timeout: float = 120.0) -> str:
    """Run triage on a fresh pty of ROWS×COLUMNS; everything it wrote, escapes removed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, *args], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
        close_fds=True,
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end closed: the command has finished
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(master)
    assert process.returncode == 0, b"".join(chunks).decode("utf-8", "replace")
    return ANSI.sub("", b"".join(chunks).decode("utf-8").replace("\r\n", "\n"))


@pytest.fixture
def terminal_env(tmp_path: Path) -> dict[str, str]:
    # Named like an editor triage starts (freetext.TAMED): a script standing in for the caseworker typing.
    editor = tmp_path / "bin" / "nano"
    editor.parent.mkdir()
    editor.write_text(f"#!{sys.executable}\n" + EDITOR, encoding="utf-8")
    editor.chmod(0o700)
    pager = tmp_path / "pager.sh"
    pager.write_text("#!/bin/sh\necho ПЕЙДЖЕР\ncat\n", encoding="utf-8")
    pager.chmod(0o700)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONHASHSEED", "SYSTEMROOT")}
    return {**keep, "TRIAGE_LANG": "ru", "LANG": "C.UTF-8", "TERM": "xterm-256color", "PYTHONPATH": str(ROOT),
            "EDITOR": str(editor), "PAGER": str(pager), "XDG_RUNTIME_DIR": "/dev/shm"}  # fmt: skip


def test_a_russian_morning_in_a_100_by_30_terminal(terminal_env: dict[str, str], tmp_path: Path) -> None:
    need_module("rich")
    home, passphrase = tmp_path / "home", tmp_path / "pass"
    passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")
    base = ["--home", str(home), "--passphrase-file", str(passphrase)]
    run_in_terminal([*base, "keygen", "--name", "Alice"], terminal_env)
    import crypto

    alice = crypto.PublicIdentity.from_text((home / "Alice.pub").read_text())
    server = Server()
    long_story = "Муж нашёл меня через родственников и угрожает увезти детей обратно. " * 12
    requests = [v2_request("4" * 30, danger="immediate", threat_from=["family", "authorities"], alias="Марина",
                             location="chechnya", people=3, children=2, story=long_story, health="астма у сына",
                             safe_times="после 18:00", documents=["internal_passport"])]  # fmt: skip
    requests += [make_request(danger="serious", story=f"Соседи угрожают, {word} не выходим", alias=word)
                 for word in ("неделю", "месяц", "давно", "вторую неделю", "с весны")]  # fmt: skip
    requests += [make_request(story=f"Хотим уехать, потому что {w}") for w in ("страшно", "нет работы", "угрозы")]
    bundle = server.bundle(tmp_path / "b", [server.entry(r, [alice]) for r in requests])

    outputs = {"import": run_in_terminal([*base, "import", "--fingerprint", server.key.public.fingerprint,
                                          str(bundle)], terminal_env)}  # fmt: skip
    outputs["list"] = run_in_terminal([*base, "list"], terminal_env)
    case_id = re.search(r"^([0-9a-f]{8}) ", outputs["list"], re.M).group(1)  # type: ignore[union-attr]
    outputs["show"] = run_in_terminal([*base, "show", case_id], terminal_env)
    outputs["set"] = run_in_terminal([*base, "set", case_id, "--status", "на связи", "--note"], terminal_env)
    outputs["reply"] = run_in_terminal([*base, "reply", case_id, "--template", "received"], terminal_env)
    outputs["ack"] = run_in_terminal([*base, "ack", "--out", str(tmp_path / "ack.eva")], terminal_env)

    for name, output in outputs.items():
        text = output.replace(str(tmp_path), " ")
        assert english_words(text, tmp_path) == [] or set(english_words(text, tmp_path)) <= NAMES, (name, output)
        if name in ("list", "show"):  # the drawn ones; sentences are wrapped by the terminal itself
            assert all(len(line) <= COLUMNS for line in output.splitlines()), (name, output)
    assert len(outputs["list"].rstrip("\n").splitlines()) <= ROWS
    listed = outputs["list"]
    assert "Почему" in listed and "Рассказ" in listed
    marina = next(line for line in listed.splitlines() if line.startswith(case_id))
    assert re.search(r"экстренн", marina) and len(re.findall(r"[а-яё]{3,}", marina.split("экстренный", 1)[1])) >= 4
    shown = outputs["show"]
    assert "ПЕЙДЖЕР" in shown, "a case taller than the terminal goes through the pager"
    first = shown.split("ПЕЙДЖЕР", 1)[1].lstrip("\n").splitlines()[:12]
    assert any("экстренный" in line for line in first) and any("•" in line for line in first), first
    assert "на связи" in outputs["set"] and "1 заметка" in outputs["set"]
    assert "ack" in outputs["reply"] and "1 ответ" in outputs["ack"]
    assert TODAY.isoformat()[:4] in shown
    if os.environ.get("SHOW_TERMINAL"):
        print(*outputs.values(), sep="\n=====\n")
