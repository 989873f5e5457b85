"""`triage terminal` as a caseworker on Tails runs it: a real terminal (tmux, 100×30), a production-cost key.

The command has no test-only settings, so the key is made by the real `triage keygen` (a second or two
of argon2id) and the bundle imported by the real `triage import`. The screen is read back with tmux's
capture-pane, the way a person sees it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import crypto
from tests.realparts import need_program
from tests.triage.helpers import Server, make_request
from triage.i18n import translator

pytestmark = pytest.mark.slow
PASSPHRASE = "amber lantern orchid walrus pebble meadow"
BOUND = 180.0  # a loaded machine: generous, and only ever waited on a condition


class Terminal:
    def __init__(self, tmux: str, command: str, home: Path) -> None:
        self.tmux = [tmux, "-L", f"triage-{uuid.uuid4().hex[:12]}"]
        self.name = "desk"
        env = {**os.environ, "TERM": "xterm-256color", "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
               "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache"),
               "XDG_STATE_HOME": str(home / "state")}  # fmt: skip
        exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items() if name != "TERM")
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.name, "-x", "100", "-y", "30",
                        f"env {exports} {command}"], check=True, env=env)  # fmt: skip

    def screen(self) -> str:
        done = subprocess.run([*self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return done.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, found: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            text = self.screen()
            if found(text):
                return text
            time.sleep(0.2)  # polling a condition, not waiting for time
        raise AssertionError(f"the terminal never showed {what}:\n{self.screen()}")

    def scroll_until(self, text: str) -> None:
        """Press PageDown whenever the screen has settled without ``text`` on it, until it shows."""
        deadline = time.monotonic() + BOUND
        last, settled = "", 0
        while time.monotonic() < deadline:
            now = self.screen()
            if text in now:
                return
            settled = settled + 1 if now == last else 0
            if settled >= 3:  # drawn and unchanged for a few polls: the next page
                self.keys("PageDown")
                settled = 0
            last = now
            time.sleep(0.2)  # polling a condition, not waiting for time
        raise AssertionError(f"scrolling never showed {text!r}:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def test_triage_terminal_runs_in_a_real_terminal_in_russian_and_closes_forgetting_the_key(tmp_path: Path) -> None:
    tmux = need_program("tmux", "apt-get install tmux")
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    home = tmp_path / "home"
    base = [sys.executable, "-m", "triage.cli", "--home", str(home), "--passphrase-file", str(passphrase)]
    subprocess.run([*base, "keygen", "--name", "Alice"], check=True, capture_output=True, timeout=300)
    alice = crypto.PublicIdentity.from_text((home / "Alice.pub").read_text())
    server = Server()
    entries = [
        server.entry(make_request(danger="immediate", story="Нас ищут прямо сейчас.", location="chechnya"), [alice]),
        server.entry(make_request(story="Хотим уехать весной.", location="outside_russia"), [alice]),
    ]
    (tmp_path / "usb").mkdir()
    bundle = server.bundle(tmp_path / "usb" / "export-1.bundle", entries)
    subprocess.run([*base, "import", "--fingerprint", server.key.public.fingerprint, str(bundle)], check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    words = [*base, "--lang", "ru", "terminal", "--usb", str(tmp_path / "usb")]
    command = " ".join(shlex.quote(word) for word in words)
    user_home = tmp_path / "user"
    user_home.mkdir()
    terminal = Terminal(tmux, f"{command}; echo \"exit=$?\"; read wait", user_home)
    try:
        queue = terminal.wait_for(lambda s: "Enter: открыть обращение" in s and "2 обращения" in s,
                                  "the queue, with its count and key help in Russian")  # fmt: skip
        assert "Нас ищут" not in queue  # the story is on the case page, not in the queue
        assert "Enter: open" not in queue and "search" not in queue
        terminal.keys("Enter")
        why = translator("ru").gettext("Why this level")
        terminal.wait_for(lambda s: "s: статус" in s and why in s, "the case page, level and reasons first")
        terminal.scroll_until("Нас ищут прямо сейчас.")  # the story is further down: scroll as a person would
        terminal.keys("Escape")
        terminal.wait_for(lambda s: "Enter: открыть обращение" in s, "the queue again")
        terminal.keys("q")
        closed = terminal.wait_for(lambda s: "exit=" in s, "the command's end")
        assert "exit=0" in closed
        assert "ключ забыт" in closed
        assert "Traceback" not in closed
    finally:
        terminal.close()
    # Nothing decrypted reached a file: not the case store, the stick, the user's home or Textual's folders.
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert "Нас ищут".encode() not in path.read_bytes(), path
