"""`triage desk` as a caseworker starts it: the passphrase once, an address printed, Ctrl-C closes it.

This runs the real command in a subprocess with a production-cost key (a second or two of argon2id):
the command has no test-only settings to pass.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.realparts import need_module

need_module("flask")

pytestmark = pytest.mark.slow
# A bound, not a figure: a production-cost argon2id (256 MiB, 3 passes) on a machine with a load of 20 takes
# far longer than alone; the test waits for the command, however long that is within this.
GENEROUS = 900


def test_triage_desk_prints_an_address_that_opens_the_desk_and_closes_on_ctrl_c(tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("a long enough passphrase for the desk test\n")
    base = [sys.executable, "-m", "triage.cli", "--home", str(tmp_path / "home"), "--passphrase-file", str(passphrase)]
    subprocess.run([*base, "keygen", "--name", "Alice"], check=True, capture_output=True, timeout=GENEROUS)
    desk = subprocess.Popen(
        [*base, "desk", "--no-browser", "--lang", "en"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert desk.stdout is not None
        first = desk.stdout.readline()
        assert first.startswith("The desk is open at http://127.0.0.1:"), first
        address = first.split(" at ", 1)[1].strip()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(address, timeout=GENEROUS) as response:
            assert "No cases yet" in response.read().decode()
    finally:
        desk.send_signal(signal.SIGINT)
        out, err = desk.communicate(timeout=GENEROUS)
    assert desk.returncode == 0, err
    assert "The desk is closed." in out
    assert "/open" not in err and "GET" not in err  # no request log on the terminal
