"""Tor's proof of work under a sustained introduction flood, in a private Tor network on this machine.

    python -m bench.pow_bench [--seconds 420] [--flooders 16] [--queue-rate 2] [--every 30]

The onion service runs deploy/torrc (``HiddenServicePoWDefensesEnabled 1``) with two additions: tor's
MetricsPort, to read its proof-of-work queue and the effort it suggests, and a queue served at
``--queue-rate`` introductions a second instead of tor's default 250, so that one machine running every relay,
the flood and the person can overflow it (the default needs a flood this machine cannot make). A flooding tor
client opens a new circuit for every attempt from ``--flooders`` threads; a real person on a tor client of their
own tries every ``--every`` seconds. The app behind the onion is a listener that accepts and closes: this bench
measures tor's side only (bench/flood_bench.py measures the app's limits under a flood of journeys).

tor recomputes the suggested effort every 300 seconds, so a run shorter than that cannot see it rise. Not part
of ``python -m bench`` (it takes minutes and needs tor). Every figure is reported, none is a verdict: what a
person meets depends on the flood's CPU against theirs, and here both run on the same two cores.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.common import Row, print_rows
from tests.tornet import DEPLOY_TORRC, Socks5Error, TorNetwork, free_port, gauge, metrics_port, socks5_connect

_EFFORT_SEEN = re.compile(rb"pqueue with effort: (\d+)")


def _listener(path: Path) -> socket.socket:
    """The app's socket: accept every stream and close it (tor needs something to hand streams to)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    os.chmod(path, 0o777)  # a throwaway socket in the bench's own folder, for tor's user
    server.listen(1024)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server


def measure(seconds: float, flooders: int, queue_rate: int, every: float) -> dict[str, object]:
    base = Path(tempfile.mkdtemp(prefix="evac-pow-", dir="/tmp"))
    os.chmod(base, 0o755)
    net = TorNetwork(base, relays=4, tor=shutil.which("tor") or "tor", gencert=shutil.which("tor-gencert") or "")
    metrics = free_port()
    server = _listener(base / "app.sock")
    try:
        net.start_relays()
        torrc = DEPLOY_TORRC.read_text() + metrics_port(metrics)
        torrc += f"HiddenServicePoWQueueRate {queue_rate}\nHiddenServicePoWQueueBurst {queue_rate}\n"
        net.onion = net.add_onion_service("onion", torrc, base / "app.sock",
                                          extra=f"Log info file {base / 'onion' / 'info.log'}\n")  # fmt: skip
        net.start_client()
        person_port = free_port()
        person = net.add_node("person", f"SocksPort 127.0.0.1:{person_port} IsolateSOCKSAuth\n")
        person.socks_port = person_port
        address = net.onion_address()
        assert net.client is not None
        net.wait_bootstrapped(timeout=180, nodes=[net.client, net.onion, person])
        for client in (net.client, person):  # each client fetches the descriptor once
            net.connect_onion(address, username="first", timeout=180, client=client).close()
        stop = threading.Event()
        names = itertools.count()
        flood = {"through": 0, "failed": 0}
        counted = threading.Lock()  # += on a shared dict is not atomic across threads

        def flooder() -> None:
            while not stop.is_set():
                try:
                    socks5_connect(("127.0.0.1", net.client.socks_port), address, 80,  # type: ignore[union-attr]
                                   username=f"flood{next(names)}", password="x", timeout=60).close()  # fmt: skip
                    outcome = "through"
                except (OSError, Socks5Error):
                    outcome = "failed"
                with counted:
                    flood[outcome] += 1

        threads = [threading.Thread(target=flooder, daemon=True) for _ in range(flooders)]
        for thread in threads:
            thread.start()
        start = time.monotonic()
        attempts: list[tuple[float, float | None]] = []  # (when, seconds to get through or None)
        samples: list[tuple[float, int, int]] = []  # (when, queue, suggested effort)
        next_attempt = start
        while time.monotonic() - start < seconds:
            samples.append((time.monotonic() - start, gauge(metrics, "tor_hs_rdv_pow_pqueue_count"),
                            gauge(metrics, "tor_hs_pow_suggested_effort")))  # fmt: skip
            if time.monotonic() >= next_attempt:
                began = time.monotonic()
                try:
                    socks5_connect(("127.0.0.1", person_port), address, 80, username=f"person{len(attempts)}",
                                   password="x", timeout=120).close()  # fmt: skip
                    attempts.append((began - start, time.monotonic() - began))
                except (OSError, Socks5Error):
                    attempts.append((began - start, None))
                next_attempt = began + every
            time.sleep(1.0)
        stop.set()
        efforts = [int(e) for e in _EFFORT_SEEN.findall((base / "onion" / "info.log").read_bytes())]
    finally:
        net.stop()
        server.close()
        shutil.rmtree(base, ignore_errors=True)
    risen = [when for when, _, effort in samples if effort > 0]
    return {"attempts": attempts, "samples": samples, "flood": flood, "introductions": len(efforts),
            "introductions_with_work": sum(e > 0 for e in efforts), "first_rise": risen[0] if risen else None,
            "max_effort": max((e for _, _, e in samples), default=-1),
            "max_queue": max((q for _, q, _ in samples), default=-1)}  # fmt: skip


def rows(m: dict[str, object], seconds: float, queue_rate: int) -> list[Row]:
    attempts = m["attempts"]
    assert isinstance(attempts, list)
    through = [took for _, took in attempts if took is not None]
    flood = m["flood"]
    assert isinstance(flood, dict)
    times = f"p50 {statistics.median(through):.1f} s, max {max(through):.1f} s" if through else "none got through"
    rise = m["first_rise"]
    return [
        Row(f"a person's attempts that got through ({seconds:.0f} s of flood, queue {queue_rate}/s)",
            f"{len(through)} of {len(attempts)}", "reported", None),
        Row("  their time to a stream", times, "reported", None),
        Row("  each attempt: second it began, seconds it took (- for a timeout after 120 s)",
            ", ".join(f"{when:.0f}:{'-' if took is None else f'{took:.1f}'}" for when, took in attempts),
            "reported", None),
        Row("tor's suggested effort: highest, and when it first rose above 0",
            f"{m['max_effort']}, " + (f"at {rise:.0f} s" if isinstance(rise, float) else "never"), "reported", None),
        Row("introductions queued with work done (effort > 0) / all queued", f"{m['introductions_with_work']} / "
            f"{m['introductions']}", "reported", None),
        Row("tor's proof-of-work queue, most introductions waiting", f"{m['max_queue']}", "reported", None),
        Row("flood streams through / failed", f"{flood['through']} / {flood['failed']}", "reported", None),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=420,
                        help="how long the flood runs (tor's effort moves every 300 s)")
    parser.add_argument("--flooders", type=int, default=16, help="threads of the flooding client, each a new circuit")
    parser.add_argument("--queue-rate", type=int, default=2, help="introductions a second tor's queue serves")
    parser.add_argument("--every", type=float, default=30, help="seconds between the person's attempts")
    args = parser.parse_args(argv)
    m = measure(args.seconds, args.flooders, args.queue_rate, args.every)
    print_rows(f"tor's proof of work under an introduction flood (machine load {os.getloadavg()[0]:.1f})",
               rows(m, args.seconds, args.queue_rate))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
