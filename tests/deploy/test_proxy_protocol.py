"""Parsing tor's PROXY line: exact shape accepted, everything else a typed error, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.proxy_protocol import (
    ProxyHeaderError,
    circuit_from_proxy_info,
    circuit_from_source_address,
    parse_tor_proxy_line,
)


def tor_line(circuit: int, src_port: int = 65535, dst_port: int = 0) -> bytes:
    # The exact format of tor's connection_edge.c export_hs_client_circuit_id().
    source = f"fc00:dead:beef:4dad::{circuit >> 16:x}:{circuit & 0xFFFF:x}"
    return f"PROXY TCP6 {source} ::1 {src_port} {dst_port}\r\n".encode()


@given(st.integers(min_value=1, max_value=2**32 - 1), st.integers(0, 65535), st.integers(0, 65535))
def test_every_tor_line_gives_back_its_circuit(circuit: int, src: int, dst: int) -> None:
    assert parse_tor_proxy_line(tor_line(circuit, src, dst)) == str(circuit)


def test_the_man_page_example() -> None:
    # tor(1), HiddenServiceExportCircuitID: fc00:dead:beef:4dad::ffff:ffff is circuit 4294967295.
    assert parse_tor_proxy_line(b"PROXY TCP6 fc00:dead:beef:4dad::ffff:ffff ::1 65535 42\r\n") == "4294967295"
    assert circuit_from_source_address("fc00:dead:beef:4dad::1:2") == str(0x10002)


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 1 2",  # no CRLF
        b"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 1 2\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",  # a real address: never from tor, refused
        b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n",  # outside tor's pseudo network
        b"PROXY TCP6 fc00:dead:beef:4dad:1::2 ::1 1 2\r\n",  # inside the /64, outside the /96
        b"PROXY TCP6 fc00:dead:beef:4dad::0:0 ::1 1 2\r\n",  # circuit 0
        b"PROXY UNKNOWN\r\n",
        b"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 1 65536\r\n",
        b"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 -1 2\r\n",
        b"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 01 2\r\n",
        b"PROXY TCP6 fc00:dead:beef:4dad::1:2  ::1 1 2\r\n",
        b"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 1 2\r\nGET / HTTP/1.1\r\n",
        b"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 1 2" + b" " * 80 + b"\r\n",
        "PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 ١ 2\r\n".encode(),  # non-ASCII digit
        b"GET / HTTP/1.1\r\n",
    ],
)
def test_anything_but_tors_shape_is_refused(line: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse_tor_proxy_line(line)


@given(st.binary(max_size=200))
def test_random_bytes_give_a_typed_error_or_a_circuit(data: bytes) -> None:
    try:
        circuit = parse_tor_proxy_line(data)
    except ProxyHeaderError as error:
        # The message never repeats what was sent (it may reach a log).
        assert len(data) < 12 or data.decode("latin-1") not in str(error)
    else:
        assert circuit.isdigit() and 0 < int(circuit) < 2**32


@given(st.text(max_size=60))
def test_random_source_addresses_give_a_typed_error_or_a_circuit(text: str) -> None:
    try:
        circuit = circuit_from_source_address(text)
    except ProxyHeaderError:
        return
    assert 0 < int(circuit) < 2**32


@given(st.one_of(st.none(), st.dictionaries(st.sampled_from(["proxy_protocol", "client_addr", "x"]),
                                            st.one_of(st.none(), st.text(max_size=40), st.integers()))))
def test_gunicorn_proxy_info_of_any_shape_gives_a_typed_error_or_a_circuit(info: dict[str, object] | None) -> None:
    try:
        circuit = circuit_from_proxy_info(info)
    except ProxyHeaderError:
        return
    assert circuit.isdigit()


def test_gunicorn_proxy_info_from_tor() -> None:
    info = {"proxy_protocol": "TCP6", "client_addr": "fc00:dead:beef:4dad::2a:1", "client_port": 1,
            "proxy_addr": "::1", "proxy_port": 0}
    assert circuit_from_proxy_info(info) == str(0x2A0001)
    with pytest.raises(ProxyHeaderError):
        circuit_from_proxy_info(None)
    with pytest.raises(ProxyHeaderError):
        circuit_from_proxy_info({**info, "proxy_protocol": "TCP4", "client_addr": "10.0.0.1"})
