"""Through a real, private Tor network: the onion service from deploy/torrc, gunicorn with
deploy/gunicorn.conf.py and the CircuitWorker, a Tor client speaking SOCKS5.

Proves: a request sent over Tor to the .onion address is sealed and opens with the caseworker key, word for
word; each Tor circuit reaches the app as its own circuit id, on every request of a keep-alive stream; the
per-circuit limit stops one circuit without stopping another; deploy/torrc's proof-of-work defence puts
every introduction in tor's priority queue, so visitors reach the app at the rate tor serves that queue; and a
circuit asking for more streams than deploy/torrc allows is torn down by tor with all its streams.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from intake.proxy_protocol import MAX_LINE_BYTES, ProxyHeaderError, parse_tor_proxy_line
from tests.deploy.rawhttp import Connection
from tests.deploy.servers import gunicorn, log_of
from tests.realparts import need_program
from tests.tornet import DEPLOY_TORRC, Socks5Error, TorNetwork, free_port, gauge, metrics_port, socks5_connect

pytestmark = [pytest.mark.tor, pytest.mark.slow]


@dataclass
class Onion:
    net: TorNetwork
    address: str
    app_socket: Path
    base: Path

    def visitor(self, name: str) -> Connection:
        # tor's IsolateSOCKSAuth: another SOCKS username means another circuit.
        return Connection(self.net.connect_onion(self.address, username=name))


@pytest.fixture(scope="module")
def onion() -> Iterator[Onion]:
    tor = need_program("tor", "apt-get install -y tor")
    gencert = need_program("tor-gencert", "apt-get install -y tor (it ships tor-gencert)")
    base = Path(tempfile.mkdtemp(prefix="evac-tor-", dir="/tmp"))
    os.chmod(base, 0o755)
    net = TorNetwork(base, relays=4, tor=tor, gencert=gencert)
    try:
        # The onion service points at this socket; each test starts its own gunicorn on it.
        app_socket = base / "app.sock"
        net.start(app_socket=app_socket)
        address = net.onion_address()
        net.wait_bootstrapped(timeout=120)
        yield Onion(net, address, app_socket, base)
    finally:
        net.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_every_request_on_a_tor_stream_carries_its_own_circuit(onion: Onion) -> None:
    with gunicorn("tests.deploy.echo_app:app", onion.app_socket, onion.base):
        # Given two visitors, each on their own circuit
        alice = onion.visitor("alice")
        # When alice sends two requests over one keep-alive stream, and bob one
        first = json.loads(alice.request("GET", "/1", host=onion.address).body)
        second = json.loads(alice.request("GET", "/2", host=onion.address).body)
        bob = json.loads(onion.visitor("bob").request("GET", "/3", host=onion.address).body)
        # and alice opens another stream on her circuit
        again = json.loads(onion.visitor("alice").request("GET", "/4", host=onion.address).body)
    # Then tor's circuit id reached the app on every request, and no address did
    assert first["circuit"] and first["circuit"].isdigit()
    assert second["circuit"] == first["circuit"] == again["circuit"]
    assert bob["circuit"] and bob["circuit"] != first["circuit"]
    assert all(seen["address_keys"] == [] for seen in (first, second, bob, again))


def test_a_request_sent_over_tor_opens_with_the_caseworker_key(onion: Onion) -> None:
    import crypto
    from tests.deploy.intake_helpers import Browser, export_and_open, receipt_of, set_up_instance

    # Given an instance with one caseworker, served by gunicorn with the deploy configuration, and a limit of
    # one submission per circuit per minute
    folder = onion.base / "instance"
    folder.mkdir(mode=0o700)
    env = {**os.environ, "INTAKE_INSTANCE_DIR": str(folder), "INTAKE_CIRCUIT_PER_MINUTE": "1",
           "INTAKE_GLOBAL_PER_MINUTE": "600"}
    caseworker = crypto.Identity.generate("caseworker")
    set_up_instance(folder, env, caseworker)
    words = "Меня ищут родственники. They found my address — please help, marker 7f3a9c."
    other_words = "A second person, another circuit: marker 41be02."
    with gunicorn("intake.wsgi:app", onion.app_socket, onion.base, env=env):
        # When alice loads the form through the .onion address and submits it
        alice = Browser(onion.visitor("alice"), onion.address)
        sent = alice.submit(words)
        assert sent.status == 200, sent.body[:500]
        receipt = receipt_of(sent.body)
        # and submits again on the same circuit (same keep-alive stream): the per-circuit limit stops her
        assert alice.submit("one too many, marker 000000").status == 429
        # while bob, on another circuit, is not stopped
        bob = Browser(onion.visitor("bob"), onion.address)
        other = bob.submit(other_words)
        assert other.status == 200, other.body[:500]
        assert receipt_of(other.body) != receipt
        app_log = log_of(onion.base, onion.app_socket)
    # Then the export holds exactly the two accepted requests, and the caseworker reads the exact words
    opened = export_and_open(folder, env, caseworker)
    assert sorted(str(r["story"]) for r in opened) == sorted([words, other_words])
    # and nothing the visitors sent, nor their circuits, is in the server's log
    for secret in ("7f3a9c", "41be02", "someone_safe", receipt.split()[0] + " " + receipt.split()[1]):
        assert secret not in app_log


def test_the_onion_service_runs_in_tors_seccomp_sandbox(onion: Onion) -> None:
    # deploy/torrc says Sandbox 1: the tor process holding the onion key is under a seccomp filter (mode 2).
    assert onion.net.onion is not None and onion.net.onion.proc is not None
    status = Path(f"/proc/{onion.net.onion.proc.pid}/status").read_text()
    assert "Seccomp:\t2" in status
    # The client (no Sandbox line) shows the check can tell the difference.
    assert onion.net.client is not None and onion.net.client.proc is not None
    assert "Seccomp:\t2" not in Path(f"/proc/{onion.net.client.proc.pid}/status").read_text()


# Test-only knobs on top of deploy/torrc for the proof-of-work test: tor's queue of introductions served at one
# a second (its defaults, 250 a second with a burst of 2,500, are for a real flood), and tor's MetricsPort.
POW_VISITORS = 10
POW_QUEUE = "HiddenServicePoWQueueRate 1\nHiddenServicePoWQueueBurst 1\n"


def test_proof_of_work_queues_introductions_before_the_app(onion: Onion) -> None:
    """deploy/torrc's ``HiddenServicePoWDefensesEnabled 1``: tor on the server puts every introduction in its
    proof-of-work priority queue (served in order of the work a client did) and launches rendezvous from it at
    the queue's rate, so visitors reach the app only as fast as tor lets them. With the queue made to serve one
    a second, ten visitors arriving at once fill it (tor's own gauge) and reach the app about a second apart.
    Seeded with ``HiddenServicePoWDefensesEnabled 0`` the queue stays empty and all ten arrive within a second."""
    metrics = free_port()
    torrc = DEPLOY_TORRC.read_text() + POW_QUEUE + metrics_port(metrics)
    app_socket = onion.base / "pow.sock"
    node = onion.net.add_onion_service("powonion", torrc, app_socket)
    address = onion.net.onion_address(node=node)
    onion.net.wait_bootstrapped(timeout=120, nodes=[node])
    onion.net.wait_published(node)
    with gunicorn("tests.deploy.echo_app:app", app_socket, onion.base):
        # Given a first visit (the client fetches the descriptor; the queue is empty again afterwards)
        first = Connection(onion.net.connect_onion(address, username="first"))
        assert first.request("GET", "/", host=address).status == 200
        peak, stop = [0], threading.Event()

        def watch() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], gauge(metrics, "tor_hs_rdv_pow_pqueue_count"))
                stop.wait(0.05)

        arrived: list[float] = []
        failed: list[str] = []
        start = time.monotonic()

        def visit(name: str) -> None:
            try:
                conn = Connection(onion.net.connect_onion(address, username=name, timeout=180))
                seen = json.loads(conn.request("GET", "/", host=address).body)
                assert seen["circuit"], seen
                arrived.append(time.monotonic() - start)
            except Exception as error:  # reported below, with every other visitor's outcome
                failed.append(f"{name}: {error!r}")

        watcher = threading.Thread(target=watch)
        watcher.start()
        visitors = [threading.Thread(target=visit, args=(f"pow{n}",)) for n in range(POW_VISITORS)]
        try:
            for thread in visitors:
                thread.start()
            for thread in visitors:
                thread.join()
        finally:
            stop.set()
            watcher.join()
    # Then every visitor got through, tor held their introductions in its queue, and let them on one by one
    assert failed == []
    assert peak[0] >= POW_VISITORS // 3, f"tor's proof-of-work queue never held more than {peak[0]}"
    arrived.sort()
    assert arrived[-1] - arrived[0] >= 0.5 * (POW_VISITORS - 1), arrived


class _HoldingListener:
    """The onion service's target socket, held by the test instead of gunicorn: it accepts every stream tor
    opens, reads its PROXY line (which names tor's circuit) and keeps the stream open, so that what closes a
    stream can only be tor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.circuits: list[str] = []
        self.held: list[socket.socket] = []  # referenced until the end: a dropped socket object closes its stream
        self.changed = threading.Condition()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        os.chmod(path, 0o666)  # tor may run as its own user
        self.server.listen(64)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            conn.settimeout(30)
            line = b""
            with contextlib.suppress(OSError):
                while not line.endswith(b"\r\n") and len(line) < MAX_LINE_BYTES:
                    line += conn.recv(1)
            try:
                circuit = parse_tor_proxy_line(line)  # as the app's worker reads it
            except ProxyHeaderError:
                circuit = ""
            with self.changed:
                self.held.append(conn)
                self.circuits.append(circuit)
                self.changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> list[str]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.circuits) >= count, timeout):
                raise AssertionError(f"tor opened {len(self.circuits)} streams to the app, not {count}")
            return list(self.circuits)

    def close(self) -> None:
        self.server.close()
        with self.changed:
            for conn in self.held:
                conn.close()
        self.path.unlink(missing_ok=True)


def _closed_by_tor(stream: socket.socket, deadline: float) -> bool:
    """Whether tor closed this SOCKS stream before ``deadline`` (it sends nothing on a held stream)."""
    stream.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        return stream.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True  # reset


def test_a_circuit_opening_more_streams_than_allowed_is_closed(onion: Onion) -> None:
    """deploy/torrc's ``HiddenServiceMaxStreams 8`` with ``HiddenServiceMaxStreamsCloseCircuit 1``: a circuit that
    asks for a ninth stream is torn down by tor on the server, its eight open streams with it, before the app
    sees the ninth; another circuit is not touched. Seeded with ``HiddenServiceMaxStreamsCloseCircuit 0``, the
    eight stay open (only the ninth is refused)."""
    assert onion.net.client is not None
    proxy = ("127.0.0.1", onion.net.client.socks_port)
    listener = _HoldingListener(onion.app_socket)
    streams: list[socket.socket] = []
    try:
        # Given a visitor on one circuit holding eight streams to the service (the first fetches the descriptor)
        streams.append(onion.net.connect_onion(onion.address, username="crowd"))
        for _ in range(7):
            streams.append(socks5_connect(proxy, onion.address, 80, username="crowd", password="x", timeout=60))
        circuits = listener.wait_for(8, timeout=60)
        assert len(set(circuits)) == 1 and circuits[0], circuits  # all eight on one circuit, as tor numbers it
        # and a second visitor on a circuit of their own
        other = onion.net.connect_onion(onion.address, username="bystander")
        other_circuit = listener.wait_for(9, timeout=60)[8]
        assert other_circuit not in ("", circuits[0])
        # When the first visitor asks for a ninth stream on the same circuit
        with contextlib.suppress(OSError, Socks5Error):
            streams.append(socks5_connect(proxy, onion.address, 80, username="crowd", password="x", timeout=60))
        # Then tor closed the circuit: every one of its first eight streams is gone
        deadline = time.monotonic() + 60
        still_open = [n for n, stream in enumerate(streams[:8]) if not _closed_by_tor(stream, deadline)]
        assert still_open == [], f"streams {still_open} of the crowded circuit stayed open"
        # and the ninth never reached the app on that circuit (a retry may come on a new circuit)
        assert listener.circuits.count(circuits[0]) == 8
        # while the other visitor's stream is untouched
        assert not _closed_by_tor(other, time.monotonic() + 1)
        other.close()
    finally:
        for stream in streams:
            stream.close()
        listener.close()
