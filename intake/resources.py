"""Where templates, migrations and translations live: inside the package in a wheel, at the repo root in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``templates`` or ``migrations``: the wheel maps them into the package; a checkout has them beside it."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the intake {name} folder is missing from this installation")


def translations_dir() -> Path:
    return _PACKAGE / "translations"
