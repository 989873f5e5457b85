"""Onionbalance in the private Tor network: two backend onion services from deploy/onionbalance/torrc-backend,
a frontend tor from deploy/onionbalance/torrc-frontend (paths changed) and Debian's ``onionbalance`` 0.2.x
publishing one address for both.

Why the network votes every 20 s here: ``onionbalance --is-testnet`` computes the time period (and so the
blinded key, the descriptor's index and the HSDirs it uploads to) itself, with chutney's 20 s voting interval
written into its code (onionbalance/hs_v3/consensus.py, ``get_time_period_length`` and
``_get_srv_phase_duration``), while tor derives it from the consensus. With any other interval the two
disagree and the frontend descriptor is stored where no client looks.

Between tor and each backend's gunicorn sits a counting relay (``StreamCounter``), so a test can tell which
backend served a stream; it passes the bytes (the PROXY line included) untouched.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.tornet import REPO, Node, TorNetwork, TorNetworkError

ONIONBALANCE_DIR = REPO / "deploy" / "onionbalance"
# The PKCS#8 DER prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows.
_ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420")


def onion_address_of(public: bytes) -> str:
    """The v3 onion address of an Ed25519 public key (rend-spec-v3, [ONIONADDRESS])."""
    version = b"\x03"
    checksum = hashlib.sha3_256(b".onion checksum" + public + version).digest()[:2]
    return base64.b32encode(public + checksum + version).decode().lower()


def frontend_key(path: Path) -> str:
    """A new frontend identity key as a PEM file Onionbalance reads; returns its address (no .onion)."""
    import nacl.signing

    signing = nacl.signing.SigningKey.generate()
    der = _ED25519_PKCS8 + bytes(signing)
    pem = "-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PRIVATE KEY-----\n"
    path.write_text(pem)
    os.chmod(path, 0o600)
    return onion_address_of(bytes(signing.verify_key))


def frontend_torrc(control: Path, cookie: Path) -> str:
    """deploy/onionbalance/torrc-frontend with the control socket and cookie in the test's folder."""
    out = []
    for line in (ONIONBALANCE_DIR / "torrc-frontend").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("ControlSocket "):
            line = line.replace("/run/tor/control", str(control), 1)
        elif stripped.startswith("CookieAuthFile "):
            line = f"CookieAuthFile {cookie}"
        elif stripped.startswith("Log "):
            continue  # the network adds its own log file
        out.append(line)
    return "\n".join(out) + "\n"


def onionbalance_config(key: Path, backends: list[str]) -> str:
    """deploy/onionbalance/config.yaml with this run's key and backend addresses in place of the examples."""
    addresses = iter(backends)
    out = []
    for line in (ONIONBALANCE_DIR / "config.yaml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- key: "):
            line = line[: line.index("- key: ")] + f"- key: {key}"
        elif stripped.startswith("- address: "):
            line = line[: line.index("- address: ")] + f"- address: {next(addresses)}"
        out.append(line)
    assert next(addresses, None) is None, "config.yaml lists fewer backends than the test runs"
    return "\n".join(out) + "\n"


@dataclass
class StreamCounter:
    """Accepts on ``front`` (where a backend's tor points) and relays each stream to ``back`` (gunicorn)."""

    front: Path
    back: Path
    streams: int = 0
    _server: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.front))
        self._server.listen(64)
        self._server.settimeout(0.5)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.streams += 1
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        with contextlib.ExitStack() as stack:
            stack.enter_context(conn)
            try:
                upstream = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
                upstream.connect(str(self.back))
            except OSError:
                return  # the backend's gunicorn is gone: tor sees the stream closed, as in production
            done = threading.Event()

            def pump(src: socket.socket, dst: socket.socket) -> None:
                with contextlib.suppress(OSError):
                    while chunk := src.recv(65536):
                        dst.sendall(chunk)
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                done.set()

            threading.Thread(target=pump, args=(upstream, conn), daemon=True).start()
            pump(conn, upstream)
            done.wait(timeout=120)

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()


@dataclass
class Balanced:
    """The running frontend: its address, the backends' nodes and counters, and the onionbalance process."""

    net: TorNetwork
    address: str  # the frontend's, with .onion (without it tor takes the name for one to reach through an exit)
    backends: list[Node]
    counters: list[StreamCounter]
    app_sockets: list[Path]
    frontend: Node
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill_backend(self, index: int) -> None:
        """SIGKILL the backend's tor, as a machine that loses power (its gunicorn is stopped by the caller)."""
        node = self.backends[index]
        assert node.proc is not None
        node.proc.kill()
        node.proc.wait(timeout=10)
        self.net.nodes.remove(node)  # no longer a node the network expects alive

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for counter in self.counters:
            counter.stop()


def start_balanced(net: TorNetwork, onionbalance: str, base: Path, backends: int = 2) -> Balanced:
    """Backends (torrc-backend with an ob_config naming the frontend), the frontend tor and onionbalance."""
    key = base / "frontend.key"
    address = frontend_key(key)
    backend_torrc = (ONIONBALANCE_DIR / "torrc-backend").read_text()
    nodes, counters, app_sockets = [], [], []
    for n in range(1, backends + 1):
        front, app = base / f"ob{n}.sock", base / f"app{n}.sock"
        counter = StreamCounter(front, app)
        counter.start()
        counters.append(counter)
        app_sockets.append(app)
        nodes.append(net.add_onion_service(f"backend{n}", backend_torrc, front,
                                           files={"ob_config": f"MasterOnionAddress {address}.onion\n"}))
    fe_dir = base / "fe-run"
    fe_dir.mkdir(mode=0o700)
    control, cookie = fe_dir / "control", fe_dir / "control.authcookie"
    frontend = net.add_node("frontend", frontend_torrc(control, cookie))
    addresses = [net.onion_address(node=node) for node in nodes]
    config = base / "onionbalance.yaml"
    config.write_text(onionbalance_config(key, addresses))
    # onionbalance reads the consensus once at start: give it a bootstrapped tor.
    net.wait_bootstrapped(timeout=180, nodes=[frontend])
    _wait_for(lambda: control.exists() and cookie.exists(), 60, "the frontend's tor made no control socket", net)
    log = base / "onionbalance.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([onionbalance, "--is-testnet", "-s", str(control), "-c", str(config),
                                    "-v", "info"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Balanced(net, f"{address}.onion", nodes, counters, app_sockets, frontend, process, log)


def _wait_for(condition: object, timeout: float, what: str, net: TorNetwork) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TorNetworkError(what + "\n" + "\n".join(n.log_text()[-1000:] for n in net.nodes if n.name == "frontend"))
