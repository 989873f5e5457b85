"""The locked, hashed installs match what pyproject.toml asks for."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _locked(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


@pytest.mark.parametrize(("lock", "groups"), [("server.lock", ["server"]), ("laptop.lock", [])])
def test_every_dependency_is_locked_with_hashes(lock: str, groups: list[str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(r for g in groups for r in project["optional-dependencies"][g])]
    locked = _locked(lock)
    missing = sorted(_name(r) for r in wanted if _name(r) not in locked)
    assert not missing, f"{lock} lacks {missing}: run `make lock`"
    text = (ROOT / "requirements" / lock).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n\n", 1)[-1])
    pinned = [b for b in blocks if "==" in b.splitlines()[0]]
    assert pinned and all("--hash=sha256:" in b for b in pinned), "every pin carries its hashes"


def test_the_laptop_lock_has_no_web_stack() -> None:
    assert not {"flask", "werkzeug", "sqlalchemy", "gunicorn", "jinja2"} & set(_locked("laptop.lock"))
