"""Every torrc in deploy/ passes `tor --verify-config` without a single [warn] (tor accepts misspelled
abbreviations and repeated options with only a warning), and says what the threat model relies on."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realparts import need_program
from tests.tornet import localize_torrc, run_as_tor_user

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TORRCS = sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.name.startswith("torrc"))


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="evac-torrc-", dir="/tmp"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


DEBIAN_DEFAULTS = Path("/usr/share/tor/tor-service-defaults-torrc")


def onion_address_v3() -> str:
    """A well-formed v3 onion address (rend-spec-v3: base32(pubkey | checksum | version))."""
    import base64
    import hashlib

    import nacl.signing

    public = bytes(nacl.signing.SigningKey.generate().verify_key)
    checksum = hashlib.sha3_256(b".onion checksum" + public + b"\x03").digest()[:2]
    return base64.b32encode(public + checksum + b"\x03").decode().lower() + ".onion"


def verify(text: str, scratch: Path) -> tuple[int, list[str]]:
    """(exit code, [warn]/[err] lines) of tor --verify-config on a copy with the paths moved to scratch.

    As root, the check is the one Debian's tor@default.service runs before starting tor: as root, with
    Debian's defaults torrc (User debian-tor, its SocksPort 9050 that ours must switch off, ...). Otherwise
    it runs as the current user without the defaults file.
    """
    tor = need_program("tor", "apt-get install -y tor")
    hs_dir = scratch / "hs"
    localized = localize_torrc(text, hs_dir=hs_dir, unix_target=scratch / "app.sock")
    if "HiddenServiceOnionbalanceInstance 1" in localized:
        hs_dir.mkdir(mode=0o700, exist_ok=True)
        (hs_dir / "ob_config").write_text(f"MasterOnionAddress {onion_address_v3()}\n")
        if os.geteuid() == 0:  # tor checks the folder belongs to the user it runs as
            shutil.chown(hs_dir, user="debian-tor")
            shutil.chown(hs_dir / "ob_config", user="debian-tor")
    torrc = scratch / "torrc"
    torrc.write_text(localized)
    if os.geteuid() == 0 and DEBIAN_DEFAULTS.exists():
        argv = [tor, "--verify-config", "-f", str(torrc), "--defaults-torrc", str(DEBIAN_DEFAULTS),
                "--DataDirectory", str(scratch / "data"), "--PidFile", str(scratch / "tor.pid")]
    else:
        argv = [*run_as_tor_user(), tor, "--verify-config", "-f", str(torrc), "--defaults-torrc", os.devnull,
                "--DataDirectory", str(scratch / "data")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    output = done.stdout + done.stderr
    return done.returncode, [line for line in output.splitlines() if "[warn]" in line or "[err]" in line]


def test_deploy_has_torrcs() -> None:
    assert DEPLOY / "torrc" in TORRCS


@pytest.mark.parametrize("path", TORRCS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_tor_accepts_the_torrc_without_a_warning(path: Path, scratch: Path) -> None:
    code, complaints = verify(path.read_text(), scratch)
    assert code == 0 and complaints == [], complaints


def test_the_check_catches_a_deprecated_abbreviation(scratch: Path) -> None:
    # Given the deploy torrc with one option misspelled as an abbreviation tor still accepts
    text = (DEPLOY / "torrc").read_text().replace("HiddenServiceMaxStreams 8", "HiddenServiceMaxStream 8")
    # Then tor exits 0, and only the [warn] line shows the mistake: the check must fail on it
    code, complaints = verify(text, scratch)
    assert code == 0
    assert any("HiddenServiceMaxStream" in line for line in complaints)


def test_the_check_catches_an_unknown_option(scratch: Path) -> None:
    code, complaints = verify((DEPLOY / "torrc").read_text() + "HiddenServicePowDefensesEnable 1\n", scratch)
    assert code != 0 or complaints


def _options(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            found.setdefault(key, []).append(value.strip())
    return found


def test_the_onion_torrc_has_the_defences_the_threat_model_names() -> None:
    options = _options(DEPLOY / "torrc")
    assert options["SocksPort"] == ["0"]
    assert options["SafeLogging"] == ["1"]
    assert options["Sandbox"] == ["1"]  # the private-network test runs the onion service with it
    assert options["HiddenServiceVersion"] == ["3"]
    assert options["HiddenServiceExportCircuitID"] == ["haproxy"]
    assert options["HiddenServicePoWDefensesEnabled"] == ["1"]
    assert options["HiddenServiceMaxStreamsCloseCircuit"] == ["1"]
    # Above the 6 connections Tor Browser opens to one site, below the threads of the gunicorn config.
    gunicorn = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert 6 < int(options["HiddenServiceMaxStreams"][0]) < gunicorn["workers"] * gunicorn["threads"]
    assert options["HiddenServiceEnableIntroDoSDefense"] == ["1"]
    # The app is reached over a Unix socket only, never a TCP port another local user could open.
    assert all(value.split()[1].startswith("unix:") for value in options["HiddenServicePort"])
