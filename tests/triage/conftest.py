from __future__ import annotations

from pathlib import Path

import pytest

from tests.triage.helpers import PASSPHRASE, Server, Triage


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase.txt"
    path.write_text(PASSPHRASE + "\n")
    return path


@pytest.fixture
def triage(tmp_path: Path, passphrase_file: Path) -> Triage:
    return Triage(tmp_path / "home", passphrase_file)


@pytest.fixture
def server() -> Server:
    return Server()
