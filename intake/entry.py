"""The ``intake`` console script: checks that the server's libraries are installed, then runs ``intake.cli``.

The same wheel is installed on the caseworkers' offline laptop without the ``[server]`` extra; there
``intake`` must say in one sentence what is missing instead of ending in ModuleNotFoundError.
"""

from __future__ import annotations

import sys

NOT_A_SERVER = (
    "intake is the server, and the libraries it needs are not installed here (no module named {missing}): "
    "on the server, install them with `pip install --require-hashes -r requirements/server.lock` "
    "(docs/OPERATIONS.md, section 1); on a caseworker's laptop, use `triage`, which needs none of them."
)


def main() -> None:
    try:
        import alembic  # noqa: F401
        import flask  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as error:
        print(NOT_A_SERVER.format(missing=error.name or "a module"), file=sys.stderr)
        raise SystemExit(1) from None
    from intake.cli import main as cli

    cli()
