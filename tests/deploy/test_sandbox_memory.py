"""intake.service sets MemoryDenyWriteExecute=yes. The app must really work under it: here gunicorn and the
intake app run with the kernel refusing writable+executable memory (PR_SET_MDWE), take a submission (Flask,
PyNaCl via cffi, SQLite) and the envelope opens with the caseworker key."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.deploy.rawhttp import Connection
from tests.deploy.servers import WX_DENIED_LAUNCHER, gunicorn
from tests.realparts import need


def kernel_can_deny_wx() -> bool:
    done = subprocess.run([sys.executable, "-c", WX_DENIED_LAUNCHER, "-c", "pass"], timeout=30, check=False)
    return done.returncode == 0


def test_the_launcher_really_denies_wx_memory() -> None:
    need("a kernel with PR_SET_MDWE", kernel_can_deny_wx(), "Linux 6.3 or later; Debian 12's 6.1 has none")
    probe = "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)"
    denied = subprocess.run([sys.executable, "-c", WX_DENIED_LAUNCHER, "-c", probe], capture_output=True,
                            timeout=30, check=False)
    allowed = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30, check=False)
    assert denied.returncode != 0 and b"PermissionError" in denied.stderr
    assert allowed.returncode == 0
    # and the switch survives exec and fork, so gunicorn's workers have it too
    inherited = ("import ctypes, os, sys\n"
                 "pid = os.fork()\n"
                 "if pid == 0:\n    os._exit(0 if ctypes.CDLL(None).prctl(66, 0, 0, 0, 0) == 1 else 3)\n"
                 "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))")
    assert subprocess.run([sys.executable, "-c", WX_DENIED_LAUNCHER, "-c", inherited], timeout=30,
                          check=False).returncode == 0


def test_the_app_works_without_wx_memory(short_tmp: Path) -> None:
    need("a kernel with PR_SET_MDWE", kernel_can_deny_wx(), "Linux 6.3 or later; Debian 12's 6.1 has none")
    import crypto
    from tests.deploy.intake_helpers import Browser, export_and_open, receipt_of, set_up_instance

    folder = short_tmp / "instance"
    folder.mkdir(mode=0o700)
    env = {**os.environ, "INTAKE_INSTANCE_DIR": str(folder)}
    caseworker = crypto.Identity.generate("caseworker")
    set_up_instance(folder, env, caseworker)
    path = short_tmp / "app.sock"
    words = "Под запретом W^X всё работает, marker 5d1e77."
    with gunicorn("intake.wsgi:app", path, short_tmp, env=env, wx_denied=True):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(30)
        client.connect(str(path))
        conn = Connection(client)
        conn.send_raw(b"PROXY TCP6 fc00:dead:beef:4dad::3:3 ::1 1 0\r\n")
        response = Browser(conn, "intake.onion").submit(words)
        client.close()
        assert response.status == 200, response.body[:300]
        receipt_of(response.body)
    assert [r["story"] for r in export_and_open(folder, env, caseworker)] == [words]
