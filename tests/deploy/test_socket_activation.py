"""deploy/intake.socket hands gunicorn a socket systemd created (LISTEN_FDS). With the deploy configuration,
gunicorn serves on that socket (not the bind address in the config), and leaves it in place when it stops,
so tor can reach the next gunicorn after a restart."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.deploy.rawhttp import Connection
from tests.deploy.servers import DEPLOY_CONFIG, REPO
from tests.realparts import need_module

need_module("gunicorn")


def serve_once(path: Path) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        try:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(10)
            client.connect(str(path))
            conn = Connection(client)
            conn.send_raw(b"PROXY TCP6 fc00:dead:beef:4dad::1:1 ::1 1 0\r\n")
            response = conn.request("GET", "/activated")
            client.close()
            assert response.status == 200
            return dict(json.loads(response.body))
        except (ConnectionError, OSError):
            # The socket accepts at once (the kernel queues), but the answer comes once gunicorn runs.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_gunicorn_serves_on_the_socket_systemd_made(short_tmp: Path) -> None:
    # Given a listening socket made the way intake.socket makes it (mode 0660), passed as fd 3
    path = short_tmp / "gunicorn.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o660)
    listener.listen(16)
    fd = listener.fileno()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # What systemd does before exec: the socket as fd 3, LISTEN_FDS=1, LISTEN_PID = the process's own pid.
    launcher = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.environ['LISTEN_FDS'] = '1'; "
                "os.environ['LISTEN_PID'] = str(os.getpid()); "
                "os.execv(sys.executable, [sys.executable, '-m', 'gunicorn', *sys.argv[2:]])")
    argv = [sys.executable, "-c", launcher, str(fd), "-c", str(DEPLOY_CONFIG), "--workers", "1",
            "--worker-tmp-dir", str(short_tmp), "tests.deploy.echo_app:app"]
    log = open(short_tmp / "gunicorn.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(argv, cwd=REPO, env=env, pass_fds=(fd,), stdout=log, stderr=subprocess.STDOUT)
    try:
        listener.close()  # only gunicorn holds it now, as under systemd
        # When tor connects to it
        seen = serve_once(path)
        # Then the request reached the app with its circuit
        assert seen["circuit"] == str(0x10001)
        assert proc.poll() is None, (short_tmp / "gunicorn.log").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    # and stopping gunicorn leaves systemd's socket where it was, with its mode
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o660
