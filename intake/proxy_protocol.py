"""The Tor circuit of every request, from the PROXY header tor sends, for gunicorn.

With ``HiddenServiceExportCircuitID haproxy`` tor opens each stream to the app with one PROXY protocol v1
line whose source address carries the rendezvous circuit's global id in its last 32 bits::

    PROXY TCP6 fc00:dead:beef:4dad::AABB:CCDD ::1 <port> <port>\\r\\n

That id is the only thing an onion service can tell its visitors apart by (circuits are cheap to make, so
limits built on it are soft). ``intake.circuit_worker.CircuitWorker``, gunicorn's threaded worker as the
deployment runs it, uses this module:

* gunicorn parses the PROXY line only on a connection's first request; the worker keeps the circuit on the
  connection so a keep-alive connection's second and later requests carry it too;
* a connection without a valid header from tor is refused (400) before the app sees it, so nothing
  reaches the app that did not come through the onion service.

The app sees ``environ["intake.circuit"]`` (the id as a decimal string) and nothing else about the peer:
``REMOTE_ADDR`` and the other address keys are removed. Nothing here logs the circuit or the line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any

CIRCUIT_ENVIRON_KEY = "intake.circuit"
TOR_CIRCUIT_NETWORK = ipaddress.IPv6Network("fc00:dead:beef:4dad::/96")
MAX_LINE_BYTES = 107  # haproxy's proxy-protocol.txt: a v1 line is at most 107 bytes, CRLF included
# Keys gunicorn fills from the socket or the PROXY line; the app must never see an address.
ADDRESS_ENVIRON_KEYS = ("REMOTE_ADDR", "REMOTE_PORT", "PROXY_PROTOCOL", "PROXY_ADDR", "PROXY_PORT")


class ProxyHeaderError(ValueError):
    """The bytes are not a PROXY line as tor writes it. The message never repeats the input."""


def circuit_from_source_address(address: str) -> str:
    """The circuit id (decimal string) from tor's pseudo source address ``fc00:dead:beef:4dad::X:Y``."""
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        raise ProxyHeaderError("source is not an IPv6 address") from None
    if parsed not in TOR_CIRCUIT_NETWORK:
        raise ProxyHeaderError("source is not a tor circuit address")
    circuit = int(parsed) & 0xFFFFFFFF
    if circuit == 0:  # tor writes 0 only for a circuit without a global id: never share one bucket for those
        raise ProxyHeaderError("circuit id is zero")
    return str(circuit)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or (len(text) > 1 and text[0] == "0"):
        raise ProxyHeaderError("port is not a decimal number")
    value = int(text)
    if value > 65535:
        raise ProxyHeaderError("port is out of range")
    return value


def parse_tor_proxy_line(line: bytes) -> str:
    """The circuit id from one complete PROXY v1 line (CRLF included), accepting only tor's shape."""
    if not isinstance(line, bytes | bytearray):
        raise ProxyHeaderError("not bytes")
    if len(line) > MAX_LINE_BYTES or not line.endswith(b"\r\n") or line.count(b"\n") != 1 or line.count(b"\r") != 1:
        raise ProxyHeaderError("not one CRLF-terminated line of at most 107 bytes")
    try:
        text = bytes(line[:-2]).decode("ascii")
    except UnicodeDecodeError:
        raise ProxyHeaderError("not ASCII") from None
    parts = text.split(" ")
    if len(parts) != 6 or parts[0] != "PROXY" or parts[1] != "TCP6":
        raise ProxyHeaderError("not a PROXY TCP6 line")
    circuit = circuit_from_source_address(parts[2])
    try:
        ipaddress.IPv6Address(parts[3])
    except ValueError:
        raise ProxyHeaderError("destination is not an IPv6 address") from None
    _port(parts[4])
    _port(parts[5])
    return circuit


def circuit_from_proxy_info(info: Mapping[str, Any] | None) -> str:
    """The circuit id from gunicorn's ``req.proxy_protocol_info`` (None when the line was missing)."""
    if info is None:
        raise ProxyHeaderError("no PROXY line")
    if info.get("proxy_protocol") != "TCP6" or not isinstance(info.get("client_addr"), str):
        raise ProxyHeaderError("not a PROXY TCP6 line")
    return circuit_from_source_address(info["client_addr"])


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def with_circuit(app: WsgiApp, current: Callable[[], str | None]) -> WsgiApp:
    """Wrap a WSGI app: set ``intake.circuit`` from ``current()`` and remove every address key."""

    def circuit_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        circuit = current()
        if circuit is None:  # a path that bypassed the worker's check (e.g. HTTP/2): fail closed
            start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Connection", "close")])
            return [b"Bad Request\n"]
        for key in ADDRESS_ENVIRON_KEYS:
            environ.pop(key, None)
        environ[CIRCUIT_ENVIRON_KEY] = circuit
        return app(environ, start_response)

    circuit_app.intake_app = app  # type: ignore[attr-defined]  # so the worker can read the app's config
    return circuit_app


try:
    from gunicorn.http import errors as http_errors
except ImportError:  # the laptop install has no gunicorn; only the worker needs it
    http_errors = None


def refusal_status(exc: BaseException) -> int:
    """The status gunicorn would have sent for ``exc`` (400 for anything it could not parse)."""
    statuses = (("LimitRequestLine", 414), ("LimitRequestHeaders", 431), ("ForbiddenProxyRequest", 403),
                ("ExpectationFailed", 417), ("UnsupportedTransferCoding", 501))  # fmt: skip
    for name, status in statuses:
        cls = getattr(http_errors, name, None)
        if cls is not None and isinstance(exc, cls):
            return status
    parse_error = getattr(http_errors, "ParseException", None)
    return 400 if parse_error is None or isinstance(exc, parse_error) else 500


def __getattr__(name: str) -> Any:
    # Configurations written for earlier releases name intake.proxy_protocol.CircuitWorker.
    if name == "CircuitWorker":
        from intake.circuit_worker import CircuitWorker

        return CircuitWorker
    raise AttributeError(name)
