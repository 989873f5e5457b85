"""Two intake backends behind Onionbalance, on one PostgreSQL, inside the private Tor network.

Each backend is the production pair: tor with deploy/onionbalance/torrc-backend (its own onion service,
``HiddenServiceOnionbalanceInstance 1``, an ``ob_config`` naming the frontend) and gunicorn with
deploy/gunicorn.conf.py, each with its own copy of the instance folder (the same server key and receipt
secret) and one database. A frontend tor (deploy/onionbalance/torrc-frontend) and Debian's ``onionbalance``
publish the one address. Proves: a Tor client submits through the frontend address and both backends serve
it; one backend is killed and submissions still go through; one export (from either backend) holds every
receipted request exactly once. How bundle numbers, replays and limits behave across backends without Tor:
tests/deploy/test_two_backends.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.onionbalance_net import Balanced, start_balanced
from tests.deploy.rawhttp import Connection
from tests.deploy.servers import gunicorn
from tests.realparts import need_program
from tests.tornet import Socks5Error, TorNetwork, TorNetworkError, socks5_connect

pytestmark = [pytest.mark.tor, pytest.mark.postgres, pytest.mark.slow]

# Onionbalance's testnet mode assumes chutney's voting interval (see tests/deploy/onionbalance_net.py).
VOTING_INTERVAL = 20
# How long a first visit may wait for the frontend descriptor: a few consensuses, then Onionbalance's
# fetch of both backend descriptors and its upload. Generous: the machine may be loaded.
PUBLISH_BOUND = 420.0


@pytest.fixture(scope="module")
def balanced() -> Iterator[Balanced]:
    tor = need_program("tor", "apt-get install -y tor")
    gencert = need_program("tor-gencert", "apt-get install -y tor (it ships tor-gencert)")
    onionbalance = need_program("onionbalance", "apt-get install -y onionbalance (Debian's 0.2.x)")
    base = Path(tempfile.mkdtemp(prefix="evac-ob-", dir="/tmp"))
    os.chmod(base, 0o755)
    net = TorNetwork(base, relays=4, tor=tor, gencert=gencert, voting_interval=VOTING_INTERVAL)
    running: Balanced | None = None
    try:
        net.start_relays()
        client = net.start_client()
        running = start_balanced(net, onionbalance, base)
        net.wait_bootstrapped(timeout=180, nodes=[client, *running.backends])
        yield running
    finally:
        if running is not None:
            running.stop()
        net.stop()
        shutil.rmtree(base, ignore_errors=True)


def _visit(balanced: Balanced, name: str, story: str, timeout: float) -> tuple[int, str]:
    """One visitor: load the form through the frontend address, submit, read the receipt. Each attempt is on a
    fresh circuit (a new SOCKS username): a stream stuck on an introduction point of a dead backend, or on a
    descriptor fetched before Onionbalance published, is abandoned rather than waited on."""
    from tests.deploy.intake_helpers import Browser, receipt_of

    assert balanced.net.client is not None
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    attempt = 0
    while time.monotonic() < deadline:
        if balanced.process.poll() is not None:
            raise TorNetworkError(f"onionbalance exited ({balanced.process.returncode}):\n{balanced.log_text()}")
        attempt += 1
        try:
            sock = socks5_connect(("127.0.0.1", balanced.net.client.socks_port), balanced.address, 80,
                                  username=f"{name}-{attempt}", password="x", timeout=30)
            with contextlib.closing(sock):
                sock.settimeout(60)
                response = Browser(Connection(sock), balanced.address).submit(story)
            print(f"{name}: attempt {attempt} answered {response.status}")  # shown when the test fails
            return response.status, receipt_of(response.body) if response.status == 200 else ""
        except (OSError, ConnectionError, Socks5Error) as error:
            print(f"{name}: attempt {attempt} failed: {error!r}")
            last = error
            time.sleep(1.0)
    raise TorNetworkError(f"no submission through the frontend in {timeout:.0f} s: {last}\n"
                          f"--- onionbalance ---\n{balanced.log_text()[-3000:]}")


def test_a_request_through_the_frontend_survives_one_backend_dying(balanced: Balanced, postgres_url: str) -> None:
    import crypto
    from tests.deploy.intake_helpers import export_and_open, set_up_instance

    # Given one instance on one PostgreSQL database, its folder copied to a second backend (same server key
    # and receipt secret), each backend's gunicorn behind its own tor, and a frontend publishing one address
    base = balanced.net.base
    folders = [base / "instance1", base / "instance2"]
    folders[0].mkdir(mode=0o700)
    common = {"INTAKE_DATABASE_URL": postgres_url, "INTAKE_CIRCUIT_PER_MINUTE": "10",
              "INTAKE_GLOBAL_PER_MINUTE": "600"}
    envs = [{**os.environ, **common, "INTAKE_INSTANCE_DIR": str(folder)} for folder in folders]
    caseworker = crypto.Identity.generate("caseworker")
    set_up_instance(folders[0], envs[0], caseworker)
    shutil.copytree(folders[0], folders[1])
    stories: dict[str, str] = {}
    with contextlib.ExitStack() as both, contextlib.ExitStack() as first:
        first.enter_context(gunicorn("intake.wsgi:app", balanced.app_sockets[0], base, env=envs[0]))
        both.enter_context(gunicorn("intake.wsgi:app", balanced.app_sockets[1], base, env=envs[1]))

        # When visitors on fresh circuits submit through the frontend address until both backends served one
        # Up to 30 visitors: on a loaded machine the frontend may take a round longer to list both backends'
        # introduction points; the loop stops as soon as both served one.
        for n in range(30):
            story = f"Through the frontend, visitor {n}, marker ob{n:03d}"
            status, receipt = _visit(balanced, f"visitor{n}", story, PUBLISH_BOUND if n == 0 else 180)
            assert status == 200, status
            stories[receipt] = story
            if all(counter.streams for counter in balanced.counters):
                break
        # Then the one address reached both backends
        assert all(counter.streams for counter in balanced.counters), [c.streams for c in balanced.counters]

        # When backend 1 dies (its tor killed, its gunicorn stopped)
        first.close()
        balanced.kill_backend(0)
        served_before = balanced.counters[1].streams
        # Then a new visitor still gets through the same address, served by backend 2
        story = "After backend 1 died, marker ob-after"
        status, receipt = _visit(balanced, "after-the-kill", story, 300)
        assert status == 200, status
        stories[receipt] = story
        assert balanced.counters[1].streams > served_before

    # And an export from either backend's folder holds every receipted request exactly once
    assert len(stories) == len(set(stories))
    for n, folder in enumerate(folders):
        (base / "export.bundle").unlink(missing_ok=True)
        opened = export_and_open(folder, envs[n], caseworker)
        assert sorted(str(r["story"]) for r in opened) == sorted(stories.values())
