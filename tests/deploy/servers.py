"""Start gunicorn with the deploy configuration (deploy/gunicorn.conf.py), only the bind address changed."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY_CONFIG = REPO / "deploy" / "gunicorn.conf.py"

# What systemd's MemoryDenyWriteExecute=yes enforces, done with the kernel's own switch (PR_SET_MDWE, Linux
# 6.3+): no memory may be writable and executable, for this process and everything it executes or forks.
# Exit code 77 when the kernel lacks it.
WX_DENIED_LAUNCHER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0 or libc.prctl(66, 0, 0, 0, 0) != 1:
    sys.exit(77)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def wait_for_unix_socket(path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{log.read_text(errors='replace')}")
        if path.exists():
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(str(path))
                return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not listen on {path} within {timeout} s:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def gunicorn(app: str, socket_path: Path, workdir: Path, *, env: dict[str, str] | None = None,
             workers: int = 1, extra: list[str] | None = None,
             wx_denied: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn -c deploy/gunicorn.conf.py APP, bound to socket_path; stopped (and reaped) on exit."""
    log = workdir / f"gunicorn-{socket_path.stem}.log"
    prefix = [sys.executable, "-c", WX_DENIED_LAUNCHER] if wx_denied else [sys.executable]
    argv = [*prefix, "-m", "gunicorn", "-c", str(DEPLOY_CONFIG), "--bind", f"unix:{socket_path}",
            "--workers", str(workers), "--worker-tmp-dir", str(workdir), *(extra or []), app]
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH", "")]))
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_unix_socket(socket_path, proc, log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def log_of(workdir: Path, socket_path: Path) -> str:
    return (workdir / f"gunicorn-{socket_path.stem}.log").read_text(errors="replace")
