"""Invariant 9, as the caseworker gets it: the key file `triage keygen` writes costs argon2id at least 256 MiB.

The constants are checked in tests/crypto; this runs the real command (no test settings can be passed to it)
and reads the cost from the file it wrote, so a command that quietly used a cheaper cost would be caught.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import crypto
from crypto.keyfile import read_kdf_params
from triage.home import KEY_SUFFIX

pytestmark = pytest.mark.slow


def test_the_key_file_keygen_writes_costs_at_least_256_mib_and_3_passes(tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("lantern orchid harbour velvet granite meadow\n")
    home = tmp_path / "home"
    command = [sys.executable, "-m", "triage.cli", "--home", str(home), "--passphrase-file", str(passphrase),
               "keygen", "--name", "Alice"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=900)  # a bound for a loaded machine
    [key_file] = [p for p in home.rglob(f"*{KEY_SUFFIX}")]
    cost = read_kdf_params(key_file.read_bytes())
    assert cost == crypto.KDF_PRODUCTION
    assert cost.memlimit >= 256 * 1024 * 1024 and cost.opslimit >= 3, cost
    # And it opens only at that cost: the production floor accepts it
    identity = crypto.unlock_identity(key_file.read_bytes(), passphrase.read_text().strip())
    assert identity.name == "Alice"
