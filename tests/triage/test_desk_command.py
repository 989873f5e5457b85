"""`triage desk` as a caseworker starts it: the passphrase once, a browser opened on a private file, Ctrl-C closes it.

This runs the real command in a subprocess with a production-cost key (a second or two of argon2id):
the command has no test-only settings to pass. The "browser" is a small program named by ``$BROWSER``
(as ``webbrowser`` honours it) that records what it was given and stays running, as a browser does; the
other user is ``nobody``, switched to with ``setpriv`` (the tests run as root).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need, need_module, need_program

need_module("flask")

pytestmark = pytest.mark.slow
# A bound, not a figure: a production-cost argon2id (256 MiB, 3 passes) on a machine with a load of 20 takes
# far longer than alone; the test waits for the command, however long that is within this.
GENEROUS = 900

PASSPHRASE = "a long enough passphrase for the desk test"
BROWSER_HEADERS = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
# A browser that keeps running with its command line in /proc, as a real one does.
FAKE_BROWSER = """#!{python}
import os, sys, time
record = os.environ["FAKE_BROWSER_RECORD"]
if os.fork() == 0:
    with open(record, "w") as out:
        out.write("\\n".join([str(os.getpid()), *sys.argv[1:]]))
    while not os.path.exists(record + ".stop"):
        time.sleep(0.1)
"""
# What another user on the laptop can see: every process's command line, and every file it may read in the
# places a program leaves things (temp folders, shared memory, the runtime folders, the desk's home).
SNOOP = r"""
import json, os, sys
needles = json.loads(sys.stdin.read())
found, unreadable_launch = [], None
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                data = f.read()
        except OSError:
            continue
        found += [f"cmdline {pid}: {n}" for n in needles["secrets"] if n.encode() in data]
for top in needles["folders"]:
    for root, dirs, files in os.walk(top, onerror=lambda e: None):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    data = f.read(1 << 20)
            except OSError:
                continue
            found += [f"file {path}: {n}" for n in needles["secrets"] if n.encode() in data]
try:
    open(needles["launch"], "rb").read()
    unreadable_launch = False
except OSError:
    unreadable_launch = True
print(json.dumps({"found": found, "launch_unreadable": unreadable_launch}))
"""


def _desk_base(tmp_path: Path) -> list[str]:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    base = [sys.executable, "-m", "triage.cli", "--home", str(tmp_path / "home"), "--passphrase-file", str(passphrase)]
    subprocess.run([*base, "keygen", "--name", "Alice"], check=True, capture_output=True, timeout=GENEROUS)
    return base


def _get(address: str, *, site: str, opener: Any | None = None) -> tuple[int, str, Any]:
    opener = opener or urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    request = urllib.request.Request(address, headers={**BROWSER_HEADERS, "Sec-Fetch-Site": site})
    try:
        with opener.open(request, timeout=GENEROUS) as response:
            return response.status, response.read().decode(), opener
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(), opener


@pytest.fixture
def closing() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for desk in started:
        if desk.poll() is None:
            desk.kill()
            desk.wait(timeout=GENEROUS)


def _close(desk: subprocess.Popen[str]) -> tuple[str, str]:
    desk.send_signal(signal.SIGINT)
    out, err = desk.communicate(timeout=GENEROUS)
    assert desk.returncode == 0, err
    return out, err


def test_show_address_prints_a_one_time_address_and_ctrl_c_closes_the_desk(
    tmp_path: Path, closing: list[subprocess.Popen[str]]
) -> None:
    base = _desk_base(tmp_path)
    desk = subprocess.Popen([*base, "desk", "--no-browser", "--show-address", "--lang", "en"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    closing.append(desk)
    assert desk.stdout is not None
    first = desk.stdout.readline()
    assert first.startswith("The desk is open at http://127.0.0.1:"), first
    address = first.split(" at ", 1)[1].strip()
    # The address, pasted into a browser (Sec-Fetch-Site: none), opens the queue once
    status, page, browser = _get(address, site="none")
    assert status == 200 and "No cases yet" in page
    status, page, _ = _get(address, site="none")  # a second time, from anywhere: the unlock page only
    assert status == 200 and "The desk is locked" in page and "No cases yet" not in page
    assert "No cases yet" in _get(address.split("/open")[0] + "/", site="same-origin", opener=browser)[1]
    out, err = _close(desk)
    assert "The desk is closed." in out
    assert "/open" not in err and "GET" not in err  # no request log on the terminal


def test_without_show_address_the_terminal_shows_no_code(tmp_path: Path, closing: list[subprocess.Popen[str]]) -> None:
    base = _desk_base(tmp_path)
    desk = subprocess.Popen([*base, "desk", "--no-browser", "--lang", "ru"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    closing.append(desk)
    assert desk.stdout is not None
    first = desk.stdout.readline()
    launch = Path(first.rsplit(" ", 1)[1].strip())
    url = re.search(r'url=([^"]+)"', launch.read_text()).group(1)  # type: ignore[union-attr]
    out, err = _close(desk)
    assert "Рабочее место открыто" in first and "http://" not in first + out + err
    code = url.split("key=", 1)[1]
    assert code not in first + out + err
    assert not launch.exists() and not launch.parent.exists()  # removed when the desk closed


def test_another_user_sees_no_working_code_and_a_used_code_opens_nothing(
    tmp_path: Path, closing: list[subprocess.Popen[str]]
) -> None:
    need("root, to run a check as another user", os.geteuid() == 0, "run the tests as root (CI does)")
    setpriv = need_program("setpriv", "apt-get install -y util-linux")
    need("/usr/bin/python3 for the other user", Path("/usr/bin/python3").exists(), "apt-get install -y python3")
    base = _desk_base(tmp_path)
    browser = tmp_path / "fake-browser"
    browser.write_text(FAKE_BROWSER.format(python=sys.executable))
    browser.chmod(0o755)
    record = tmp_path / "browser-argv"
    environment = {**os.environ, "BROWSER": f"{browser} %s", "FAKE_BROWSER_RECORD": str(record)}
    environment.pop("XDG_RUNTIME_DIR", None)  # root has none here: the launch file goes to /dev/shm
    # Given the desk started as a caseworker starts it, with a browser
    desk = subprocess.Popen([*base, "desk", "--lang", "en"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=environment)  # fmt: skip
    closing.append(desk)
    try:
        deadline = time.monotonic() + 120
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        _browser_pid, *browser_args = record.read_text().splitlines()
        # The browser was given a file's address, never the desk's
        assert len(browser_args) == 1 and browser_args[0].startswith("file:///"), browser_args
        launch = Path(browser_args[0][len("file://") :])
        assert launch.stat().st_mode & 0o777 == 0o600 and launch.parent.stat().st_mode & 0o777 == 0o700
        assert str(launch).startswith("/dev/shm/")  # in memory
        url = re.search(r'url=([^"]+)"', launch.read_text()).group(1)  # type: ignore[union-attr]
        code, prefix = url.split("key=", 1)[1], url.split("/")[3]
        assert len(code) >= 40 and len(prefix) >= 20

        # When another user looks at every command line and every file it may read
        needles = {"secrets": [code, prefix], "launch": str(launch),
                   "folders": ["/tmp", "/dev/shm", "/run", "/var/tmp", str(tmp_path)]}  # fmt: skip
        snoop = subprocess.run(
            [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c", SNOOP],
            input=json.dumps(needles), capture_output=True, text=True, timeout=GENEROUS, check=True, cwd="/",
        )  # fmt: skip
        seen = json.loads(snoop.stdout)
        # Then it finds neither the code nor the prefix anywhere, and cannot read the launch file
        assert seen == {"found": [], "launch_unreadable": True}, seen
        # (the check can see: the same search as root finds the code in the launch file)
        assert code in launch.read_text()

        # When the caseworker's browser follows the file (a navigation from file:, so cross-site)
        status, page, caseworker = _get(url, site="cross-site")
        # Then the desk opens, the launch file is gone, and the same code opens nothing a second time
        assert status == 200 and "The desk is open" in page and 'http-equiv="refresh"' in page
        queue = f"{url.split('/open')[0]}/"
        assert "No cases yet" in _get(queue, site="same-origin", opener=caseworker)[1]  # where the refresh goes
        assert not launch.exists()
        status, page, _ = _get(url, site="none")
        assert status == 200 and "The desk is locked" in page and "No cases yet" not in page
        status, page, _ = _get(url, site="cross-site")
        assert "No cases yet" not in page
    finally:
        (tmp_path / "browser-argv.stop").touch()
        out, err = _close(desk)
    assert code not in out + err and prefix not in out + err
