"""Real parts (Chromium, tor, PostgreSQL) may be missing on a developer's laptop, never in CI.

A test calls ``need(part, available, how_to_get_it)``. Without the part it is skipped, unless
``EVAC_REQUIRE_REAL_PARTS=1`` (set by ``.ci/run``), in which case the test fails: CI can never go green
by quietly skipping the tests that matter.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest

REQUIRE_ENV = "EVAC_REQUIRE_REAL_PARTS"


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") == "1"


def need(part: str, available: bool, how: str) -> None:
    if available:
        return
    message = f"{part} is not available here ({how})"
    if required():
        pytest.fail(f"{message}; {REQUIRE_ENV}=1 makes this a failure", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def need_program(name: str, how: str) -> str:
    path = shutil.which(name)
    need(name, path is not None, how)
    assert path is not None
    return path


def need_module(name: str, how: str = "pip install -e '.[server,desk,dev]'") -> ModuleType:
    """``importorskip`` through the same rule: a missing Flask or gunicorn fails CI instead of skipping."""
    try:
        return importlib.import_module(name)
    except ImportError:
        need(f"the Python module {name}", False, how)
        raise
