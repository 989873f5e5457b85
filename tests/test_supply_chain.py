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


@pytest.mark.slow
def test_locked_server_dependencies_have_no_known_vulnerability() -> None:
    # pip-audit exits 0 and prints "No known vulnerabilities found" even when it could audit nothing (its
    # vulnerability service unreachable): so count what it really audited, and never read silence as safety.
    import json
    import subprocess
    import sys

    audit = Path(sys.executable).with_name("pip-audit")
    result = subprocess.run(
        [audit, "-r", ROOT / "requirements" / "server.lock", "--require-hashes", "--disable-pip",
         "--progress-spinner", "off", "--format", "json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = json.loads(result.stdout)["dependencies"]
    audited = [d for d in report if "skip_reason" not in d]
    if not audited:
        # Not a part CI can install: the vulnerability database is a network service this machine cannot
        # reach. Say so loudly rather than pass.
        pytest.skip(f"pip-audit could audit none of {len(report)} locked packages: vulnerability service unreachable")
    vulnerable = {d["name"]: [v["id"] for v in d["vulns"]] for d in audited if d["vulns"]}
    assert not vulnerable, vulnerable
    assert len(audited) == len(report), [d["name"] for d in report if "skip_reason" in d]
