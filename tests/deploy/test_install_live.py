"""deploy/install.sh as on a real server (no ``--root``), inside a private mount namespace: /etc, /var and /opt
are overlays whose writes land in a temporary folder, /run is empty but for /run/systemd/system (so the script
believes systemd runs), and ``systemctl`` is a stand-in on PATH that records each call (``enable`` is passed
to the real ``systemctl --root=/``, which works without a running systemd; ``restart tor@default`` writes an
onion hostname as tor would). Everything else is real: systemd-sysusers, runuser, ``intake init`` as the
service user, ``tor --verify-config`` with Debian's service defaults on the installed torrc.

Proves the live path: the commands it runs on a server, that the address is printed once tor wrote it, and
that a second run restarts nothing and reloads nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.realparts import need, need_program

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
FAKE_ONION = "intakeliveinstalltestxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"

SYSTEMCTL = f"""#!/bin/sh
# Stand-in for systemctl: record the call, keep a little state, enable for real (offline, --root=/).
echo "$*" >> "$STATE/systemctl.log"
case "$1" in
    enable) shift; exec /usr/bin/systemctl --root=/ enable "$@" ;;
    is-active) [ -e "$STATE/active-$3" ]; exit $? ;;
    start) shift; for unit in "$@"; do touch "$STATE/active-$unit"; done ;;
    restart)
        touch "$STATE/active-$2"
        if [ "$2" = tor@default ]; then
            install -d -o debian-tor -g debian-tor -m 0700 /var/lib/tor/intake
            echo {FAKE_ONION} > /var/lib/tor/intake/hostname && chown debian-tor: /var/lib/tor/intake/hostname
        fi ;;
esac
exit 0
"""

NAMESPACE = """
set -e
for top in etc var opt; do
    mkdir -p "$LAYERS/$top/up" "$LAYERS/$top/work"
    mount -t overlay overlay -o "lowerdir=/$top,upperdir=$LAYERS/$top/up,workdir=$LAYERS/$top/work" "/$top"
done
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system
exec bash "$INSTALL" --wheel "$WHEEL"
"""


@dataclass
class Live:
    layers: Path
    state: Path
    first: str
    second: str
    first_calls: list[str]
    second_calls: list[str]


def _run(base: Path, wheel: Path) -> tuple[str, list[str]]:
    state = base / "state"
    log = state / "systemctl.log"
    log.unlink(missing_ok=True)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "PATH": f"{base / 'bin'}:{os.environ['PATH']}", "STATE": str(state), "LAYERS": str(base / "layers"),
           "INSTALL": str(REPO / "deploy" / "install.sh"), "WHEEL": str(wheel)}  # fmt: skip
    done = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", NAMESPACE], env=env,
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    calls = log.read_text().splitlines() if log.exists() else []
    return done.stderr + done.stdout, calls


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    need("root", os.geteuid() == 0, "the live install test runs as root (mount namespace, owners)")
    need_program("unshare", "apt-get install -y util-linux")
    need_program("tor", "apt-get install -y tor")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=60, check=False)
    need("mount namespaces", probe.returncode == 0, "run where unshare -m is allowed (root, no seccomp block)")
    base = Path(tempfile.mkdtemp(prefix="evac-live-"))
    os.chmod(base, 0o755)
    try:
        (base / "bin").mkdir()
        (base / "state").mkdir()
        stub = base / "bin" / "systemctl"
        stub.write_text(SYSTEMCTL)
        stub.chmod(0o755)
        for name in ("apt-get", "apparmor_parser"):  # must not be reached here: say so loudly if they are
            fake = base / "bin" / name
            fake.write_text(f"#!/bin/sh\necho 'unexpected {name} $*' >&2\nexit 97\n")
            fake.chmod(0o755)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(base / "dist"),
                        str(REPO)], check=True, timeout=600, capture_output=True)  # fmt: skip
        wheel = next((base / "dist").glob("evac_intake-*.whl"))
        first, first_calls = _run(base, wheel)
        second, second_calls = _run(base, wheel)
        yield Live(base / "layers", base / "state", first, second, first_calls, second_calls)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_live_install_enables_starts_and_prints_the_address(live: Live) -> None:
    # The units are enabled (the compaction timer among them), started, tor restarted; in that order
    assert "daemon-reload" in live.first_calls
    enable = live.first_calls.index("enable intake.socket intake.service intake-compact.timer")
    start = live.first_calls.index("start intake.socket intake.service intake-compact.timer")
    assert enable < start < live.first_calls.index("restart tor@default")
    wants = live.layers / "etc/up/systemd/system/timers.target.wants/intake-compact.timer"
    assert wants.is_symlink()
    # intake was not running yet: nothing to restart
    assert "restart intake.service" not in live.first_calls
    # The service user exists in the machine's own files, and tor accepted the installed torrc
    assert "intake:" in (live.layers / "etc/up/passwd").read_text()
    assert "+ tor --verify-config --defaults-torrc /usr/share/tor/tor-service-defaults-torrc" in live.first
    assert "+ systemd-sysusers /etc/sysusers.d/intake.conf" in live.first
    init = "+ runuser -u intake -- env INTAKE_INSTANCE_DIR=/var/lib/intake /opt/intake/venv/bin/intake init"
    assert init in live.first
    # The address tor wrote, and the fingerprint, are printed
    assert f"Onion address:          {FAKE_ONION}" in live.first
    assert "Server key fingerprint: " in live.first


def test_a_second_live_run_restarts_and_reloads_nothing(live: Live) -> None:
    assert "daemon-reload" not in live.second_calls
    assert not [call for call in live.second_calls if call.startswith("restart")], live.second_calls
    # Starting what already runs is a no-op for systemd; it is the only thing repeated
    assert set(live.second_calls) <= {"enable intake.socket intake.service intake-compact.timer",
                                      "start intake.socket intake.service intake-compact.timer",
                                      "is-active --quiet intake.service", "is-active --quiet tor@default"}
    assert "+ install" not in live.second and "pip install" not in live.second
