"""docs/THREAT_MODEL.md: every test it names exists, so no claim points at nothing.

A reference is `path.py::test_name` (path under tests/) or `…::test_name` (same file as the previous
reference on that line). Claims without a test are marked TODO in the document.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "THREAT_MODEL.md"
REFERENCE = re.compile(r"`(?:([\w./-]+\.py)|…)::(\w+)`")


def references() -> list[tuple[str, str]]:
    found = []
    for line in DOC.read_text().splitlines():
        current = None
        for match in REFERENCE.finditer(line):
            current = match.group(1) or current
            assert current, f"'…::{match.group(2)}' has no file before it on its line: {line[:80]}"
            found.append((current, match.group(2)))
    return found


def test_the_threat_model_names_tests() -> None:
    assert len(references()) >= 30


def test_every_named_test_exists() -> None:
    missing = []
    for path, name in references():
        source = ROOT / "tests" / path
        if not source.exists() or not re.search(rf"^\s*def {name}\(", source.read_text(), re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert missing == []
