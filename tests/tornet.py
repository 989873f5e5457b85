"""A private Tor network on 127.0.0.1, for tests that must go through real tor.

``TorNetwork`` starts three directory authorities (keys from ``tor-gencert``), a few relays, one onion
service whose torrc is ``deploy/torrc`` with only its paths changed, and one client with a SocksPort. It
uses ``TestingTorNetwork`` and short voting intervals, so the network is usable in about 15-40 s. Every
wait is bounded; ``stop()`` terminates every process it started and the directory is removed by the caller.

Nothing here touches a system tor: every node has its own DataDirectory under the base directory, every
port is a free port on 127.0.0.1, and no node listens on 9050.

``socks5_connect`` is a minimal SOCKS5 client (RFC 1928, with RFC 1929 username/password, which tor's
``IsolateSOCKSAuth`` uses to put different credentials on different circuits).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEPLOY_TORRC = REPO / "deploy" / "torrc"

# chutney's "rapid bootstrap" settings (torrc_templates/common.i, authority.i): fast, not for real use.
_COMMON = """\
TestingTorNetwork 1
AssumeReachable 1
PathsNeededToBuildCircuits 0.25
TestingDirAuthVoteExit *
TestingDirAuthVoteHSDir *
TestingDirAuthVoteGuard *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
RunAsDaemon 0
ShutdownWaitLength 0
ProtocolWarnings 1
SafeLogging 0
DisableDebuggerAttachment 0
ClientUseIPv6 0
"""
_AUTHORITY = """\
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 5
V3AuthVotingInterval {voting_interval}
TestingV3AuthInitialVoteDelay 2
V3AuthVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthDistDelay 2
"""


class TorNetworkError(RuntimeError):
    """The private network did not come up in time; the message carries the relevant log tail."""


_HANDED_OUT: set[int] = set()


@functools.cache
def _below_ephemeral() -> range:
    """Ports below the kernel's ephemeral range, or every unprivileged port if that range starts too low."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(10000, low) if low > 11000 else range(1024, 65536)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on and that this process has not handed out before.

    bind(0) gave the same port twice among 16 asked in a row in 22 of 3,000 tries: two nodes of one network
    were then given one port, and the second tor to start exited (a CI run lost the whole Tor module to it).
    The port is also below the ephemeral range, so that while its tor is starting, no outgoing connection of
    another node can take it as its local port."""
    ports = _below_ephemeral()
    while True:
        port = random.randrange(ports.start, ports.stop)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


def localize_torrc(text: str, *, hs_dir: Path, unix_target: Path | None = None, tcp_target: str | None = None,
                   log_file: Path | None = None) -> str:
    """The deploy torrc with its machine paths replaced (for --verify-config and the private network)."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("HiddenServiceDir "):
            line = f"HiddenServiceDir {hs_dir}"
        elif stripped.startswith("HiddenServicePort ") and "unix:" in stripped:
            virtport = stripped.split()[1]
            target = f"unix:{unix_target}" if unix_target else (tcp_target or "127.0.0.1:1")
            line = f"HiddenServicePort {virtport} {target}"
        elif stripped.startswith("Log ") and log_file is not None:
            line = f"Log notice file {log_file}"
        out.append(line)
    return "\n".join(out) + "\n"


def metrics_port(port: int) -> str:
    """torrc lines for tor's MetricsPort on 127.0.0.1:port (read with ``gauge``)."""
    return f"MetricsPort 127.0.0.1:{port}\nMetricsPortPolicy accept 127.0.0.1\n"


def gauge(port: int, name: str) -> int:
    """A gauge from a tor's MetricsPort (the first series of that name), or -1 if tor does not report it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        found = re.search(rf"^{re.escape(name)}\{{[^}}]*\}} (\d+)$", answer.read().decode(), re.MULTILINE)
    return int(found.group(1)) if found else -1


def run_as_tor_user() -> list[str]:
    """tor warns when run as root; under root, run the checks as the packaged debian-tor user."""
    if os.geteuid() == 0 and shutil.which("runuser"):
        with contextlib.suppress(KeyError):
            import pwd

            pwd.getpwnam("debian-tor")
            return ["runuser", "-u", "debian-tor", "--"]
    return []


@dataclass
class Node:
    name: str
    datadir: Path
    or_port: int = 0
    dir_port: int = 0
    socks_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.datadir / "notice.log"

    @property
    def output(self) -> Path:
        """tor's own stdout and stderr: what it says before its log file opens."""
        return self.datadir / "stdout.log"

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass
class TorNetwork:
    base: Path
    relays: int = 4
    tor: str = "tor"
    # Seconds between consensuses. Onionbalance's --is-testnet mode assumes chutney's 20 s when it derives the
    # time period (and so the blinded key and the HSDirs) on its own: a network it runs in must use 20.
    voting_interval: int = 10
    gencert: str = "tor-gencert"
    nodes: list[Node] = field(default_factory=list)
    dir_lines: list[str] = field(default_factory=list)
    onion: Node | None = None
    client: Node | None = None

    # -- building -------------------------------------------------------------------------------------
    def _make_authority(self, index: int) -> Node:
        node = Node(f"auth{index}", self.base / f"auth{index}", free_port(), free_port())
        keys = node.datadir / "keys"
        keys.mkdir(parents=True, mode=0o700)
        done = subprocess.run(
            [self.gencert, "--create-identity-key", "--passphrase-fd", "0", "-m", "12",
             "-a", f"127.0.0.1:{node.dir_port}", "-i", str(keys / "authority_identity_key"),
             "-s", str(keys / "authority_signing_key"), "-c", str(keys / "authority_certificate")],
            input=b"\n", capture_output=True, timeout=60, check=False,
        )
        if done.returncode != 0:
            raise TorNetworkError(f"tor-gencert failed: {done.stderr.decode(errors='replace')}")
        cert = (keys / "authority_certificate").read_text()
        match = re.search(r"^fingerprint ([0-9A-F]{40})$", cert, re.MULTILINE)
        if not match:
            raise TorNetworkError("tor-gencert wrote no fingerprint")
        v3ident = match.group(1)
        listed = subprocess.run(
            [self.tor, "--ignore-missing-torrc", "-f", os.devnull, "--quiet", "--list-fingerprint",
             "--DataDirectory", str(node.datadir), "--ORPort", str(node.or_port), "--Nickname", node.name],
            capture_output=True, timeout=60, check=False,
        )
        words = listed.stdout.decode().split()
        if listed.returncode != 0 or len(words) < 2:
            raise TorNetworkError(f"tor --list-fingerprint failed: {listed.stderr.decode(errors='replace')}")
        fingerprint = "".join(words[1:])
        self.dir_lines.append(
            f"DirAuthority {node.name} orport={node.or_port} no-v2 v3ident={v3ident} "
            f"127.0.0.1:{node.dir_port} {fingerprint}"
        )
        return node

    def _relay_torrc(self, node: Node, extra: str) -> str:
        return (
            _COMMON
            + "\n".join(self.dir_lines) + "\n"
            + f"DataDirectory {node.datadir}\nNickname {node.name}\nLog notice file {node.log}\n"
            + f"PidFile {node.datadir / 'pid'}\nSocksPort 0\nAddress 127.0.0.1\n"
            + f"ORPort 127.0.0.1:{node.or_port}\nDirPort 127.0.0.1:{node.dir_port}\n"
            + f"ContactInfo {node.name}@test.invalid\nExitRelay 0\nExitPolicy reject *:*\n"
            + extra
        )

    def _launch(self, node: Node, torrc: str) -> None:
        node.datadir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(node.datadir, 0o700)
        path = node.datadir / "torrc"
        path.write_text(torrc)
        # tor's own output holds what it says before its log file opens (a torrc it refuses, a port it cannot bind).
        with open(node.output, "wb") as output:
            node.proc = subprocess.Popen(
                [self.tor, "-f", str(path), "--defaults-torrc", os.devnull],
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.nodes.append(node)

    def start(self, *, app_socket: Path) -> None:
        """Authorities and relays, then the onion service (deploy/torrc -> app_socket) and the client."""
        self.start_relays()
        self.onion = self.add_onion_service("onion", DEPLOY_TORRC.read_text(), app_socket)
        self.start_client()

    def start_relays(self) -> None:
        """Three directory authorities and ``relays`` relays (every one an HSDir)."""
        authorities = [self._make_authority(i) for i in range(3)]
        authority = _AUTHORITY.format(voting_interval=self.voting_interval)
        for node in authorities:
            self._launch(node, self._relay_torrc(node, authority))
        for i in range(self.relays):
            node = Node(f"relay{i}", self.base / f"relay{i}", free_port(), free_port())
            self._launch(node, self._relay_torrc(node, ""))

    def _member(self, node: Node) -> str:
        """What every non-relay node of this network needs: the testing settings and the authorities."""
        return (_COMMON + "\n".join(self.dir_lines) + "\n"
                + f"DataDirectory {node.datadir}\nNickname {node.name}\nPidFile {node.datadir / 'pid'}\n")

    def add_onion_service(self, name: str, torrc: str, app_socket: Path, *,
                          files: dict[str, str] | None = None, extra: str = "") -> Node:
        """An onion service from a deploy torrc with only its paths changed; ``files`` go into its
        HiddenServiceDir before tor starts (Onionbalance's ``ob_config``); ``extra`` is appended as it is
        (lines that must not be localized, such as a second log)."""
        node = Node(name, self.base / name)
        hs_dir = node.datadir / "hs"
        node.datadir.mkdir(mode=0o700)
        if files:
            hs_dir.mkdir(mode=0o700)
            for file_name, text in files.items():
                (hs_dir / file_name).write_text(text)
        deploy = localize_torrc(torrc, hs_dir=hs_dir, unix_target=app_socket, log_file=node.log)
        # The onion service keeps the deploy torrc's SafeLogging 1, as in production. A second log at info level
        # says when its descriptor is published (wait_published).
        info = f"Log info file {node.datadir / 'info.log'}\n"
        self._launch(node, self._member(node).replace("SafeLogging 0\n", "") + deploy + extra + info)
        return node

    def wait_published(self, node: Node, timeout: float = 120.0) -> None:
        """Until ``node`` (from add_onion_service) has stored its descriptor on a directory, so that a first
        visit does not race the upload (the client gives up, "No more HSDir available to query", once every
        directory it asked lacked the descriptor)."""
        deadline = time.monotonic() + timeout
        log, seen, tail = node.datadir / "info.log", 0, b""
        marker = b"Uploaded hidden service descriptor"
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(FileNotFoundError), open(log, "rb") as file:
                file.seek(seen)
                new = file.read()  # only what tor wrote since the last look: an info log grows fast
                seen += len(new)
                if marker in tail + new:
                    return
                tail = new[-len(marker):]
            time.sleep(0.2)  # polling the log; the deadline bounds the wait
        raise TorNetworkError(f"{node.name} published no descriptor in {timeout:.0f} s:\n{node.log_text()[-2000:]}")

    def start_client(self) -> Node:
        client = Node("client", self.base / "client", socks_port=free_port())
        self._launch(client, self._member(client) + f"Log notice file {client.log}\n"
                     + f"SocksPort 127.0.0.1:{client.socks_port} IsolateSOCKSAuth\n")
        self.client = client
        return client

    def add_node(self, name: str, torrc: str) -> Node:
        """Any other member of the network (an Onionbalance frontend's tor): ``torrc`` after the testing lines."""
        node = Node(name, self.base / name)
        self._launch(node, self._member(node) + f"Log notice file {node.log}\n" + torrc)
        return node

    # -- waiting --------------------------------------------------------------------------------------
    def _check_alive(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is not None:
                said = node.output.read_text(errors="replace")[-1500:]
                raise TorNetworkError(f"{node.name} exited ({node.proc.returncode}):\n{node.log_text()[-3000:]}"
                                      f"\n--- its output ---\n{said}")  # fmt: skip

    def onion_address(self, timeout: float = 30.0, node: Node | None = None) -> str:
        node = node or self.onion
        assert node is not None
        hostname = node.datadir / "hs" / "hostname"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if hostname.exists() and hostname.read_text().strip():
                return hostname.read_text().strip()
            time.sleep(0.2)
        raise TorNetworkError("the onion service wrote no hostname")

    def wait_bootstrapped(self, timeout: float = 90.0, nodes: list[Node] | None = None) -> None:
        """Until the client and the onion service (or ``nodes``) report 100 %, bounded."""
        if nodes is None:
            assert self.client is not None and self.onion is not None
            nodes = [self.client, self.onion]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if all("Bootstrapped 100%" in n.log_text() for n in nodes):
                return
            time.sleep(0.5)
        raise TorNetworkError("not bootstrapped in time:\n"
                              + "\n".join(f"--- {n.name} ---\n{n.log_text()[-1500:]}" for n in nodes))

    def connect_onion(self, onion: str, port: int = 80, *, username: str = "a", timeout: float = 120.0,
                      io_timeout: float = 60.0, client: Node | None = None) -> socket.socket:
        """A SOCKS stream to onion:port through ``client`` (default: the network's client), retried (a
        descriptor can appear after bootstrap), bounded."""
        client = client or self.client
        assert client is not None
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                return socks5_connect(("127.0.0.1", client.socks_port), onion, port,
                                      username=username, password="x", timeout=io_timeout)
            except (OSError, Socks5Error) as error:
                last = error
                time.sleep(1.0)
        raise TorNetworkError(f"could not reach {onion} through tor: {last}\n" + client.log_text()[-2000:])

    # -- teardown -------------------------------------------------------------------------------------
    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.proc is None:
                continue
            try:
                node.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait(timeout=10)


class Socks5Error(Exception):
    """The SOCKS server refused the request (code in .code)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"SOCKS5 reply {code:#04x}")
        self.code = code


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("SOCKS server closed the connection")
        data += chunk
    return data


def socks5_connect(proxy: tuple[str, int], host: str, port: int, *, username: str, password: str,
                   timeout: float) -> socket.socket:
    """Connect through a SOCKS5 proxy to host:port (name resolved by the proxy), with username/password."""
    sock = socket.create_connection(proxy, timeout=timeout)
    try:
        sock.sendall(b"\x05\x01\x02")  # version 5, one method: username/password
        if _recv_exact(sock, 2) != b"\x05\x02":
            raise Socks5Error(0xFF)
        user, pw = username.encode(), password.encode()
        sock.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(pw)]) + pw)
        if _recv_exact(sock, 2)[1] != 0:
            raise Socks5Error(0xFE)
        name = host.encode("ascii")
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        head = _recv_exact(sock, 4)
        if head[1] != 0:
            raise Socks5Error(head[1])
        kind = head[3]
        size = {1: 4, 4: 16}.get(kind)
        if size is None:
            size = _recv_exact(sock, 1)[0]
        _recv_exact(sock, size + 2)
        return sock
    except BaseException:
        sock.close()
        raise
