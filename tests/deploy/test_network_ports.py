"""The ports the private Tor network hands its nodes (tests/tornet.py): never one twice, never an ephemeral one.

A node given a port another node was also given, or one an outgoing connection took meanwhile as its local
port, cannot bind it, and tor then exits before its log file opens (a full CI run lost the Tor module so).
"""

from __future__ import annotations

from pathlib import Path

from tests.tornet import free_port


def test_ports_are_never_handed_out_twice_and_lie_below_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
    if low > 11000:
        assert all(1024 <= port < low for port in ports)
