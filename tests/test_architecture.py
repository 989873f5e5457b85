"""The layout PRODUCT.md promises: one-way imports, a Flask-free crypto and triage, config passed in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "crypto": {"intake", "triage", "flask", "flask_wtf", "flask_babel", "sqlalchemy", "alembic", "werkzeug"},
    "triage": {"intake", "flask", "flask_wtf", "flask_babel", "sqlalchemy", "alembic", "werkzeug", "gunicorn"},
    "intake": {"triage"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


# The desk (triage/desk/) is the one part of triage that uses Flask, installed with the [desk] extra; it
# still never touches intake or the server's database stack.
DESK = ROOT / "triage" / "desk"
DESK_FORBIDDEN = {"intake", "flask_wtf", "flask_babel", "sqlalchemy", "alembic", "gunicorn"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_go_one_way(package: str) -> None:
    files = sorted(p for p in (ROOT / package).rglob("*.py") if DESK not in p.parents)
    assert files, f"{package}/ has no modules"
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & FORBIDDEN[package])
        for p in files
        if _imports(p) & FORBIDDEN[package]
    }
    assert not offenders


def test_the_desk_uses_flask_but_nothing_of_the_server() -> None:
    files = sorted(DESK.rglob("*.py"))
    assert files
    assert not {
        str(p.relative_to(ROOT)): sorted(_imports(p) & DESK_FORBIDDEN) for p in files if _imports(p) & DESK_FORBIDDEN
    }


@pytest.mark.parametrize("package", ["crypto", "triage", "intake"])
def test_environment_is_read_in_few_places(package: str) -> None:
    # Config is passed in; only a package's one config/CLI entry module may look at the environment.
    readers = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / package).rglob("*.py")
        if "os.environ" in p.read_text() or "getenv(" in p.read_text()
    )
    allowed = {"crypto": 0, "triage": 2, "intake": 2}[package]
    assert len(readers) <= allowed, readers


def test_modules_stay_small() -> None:
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text().splitlines())
        for pkg in ("crypto", "intake", "triage")
        for p in (ROOT / pkg).rglob("*.py")
    }
    too_big = {name: n for name, n in sizes.items() if n > 450}
    assert not too_big, f"split these by purpose: {too_big}"
