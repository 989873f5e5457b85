"""The online intake server: a JavaScript-free form that seals each request before it touches storage.

What it does
------------
* ``create_app(config)`` builds the Flask app from a frozen ``IntakeConfig`` (``IntakeConfig.from_env()``
  reads the ``INTAKE_*`` variables, in that one place). ``intake.wsgi:app`` is the gunicorn entry.
* A POST is validated, turned into a schema v1 request, sealed in memory with ``crypto.seal_request``
  to every registered caseworker, and only the envelope is stored, with a day-granular date and the
  keyed hash of a 30-digit receipt (``intake.receipts``). The commit is durable before the receipt
  page is sent.
* ``intake`` (``intake.cli``) initialises the instance folder, manages recipients, exports signed
  bundles and applies caseworker acknowledgements, which securely delete what they name.

What it never does
------------------
It never stores or logs a plaintext request, a receipt, an IP address, a circuit id or a user agent;
never sends a script or loads anything from another origin; never guesses the language from headers;
and has no setting that turns a protection off.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IntakeConfig", "create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `intake` on a laptop install (no Flask) can say what to install
    # instead of failing inside this package's import.
    if name == "create_app":
        from intake.app import create_app

        return create_app
    if name == "IntakeConfig":
        from intake.config import IntakeConfig

        return IntakeConfig
    raise AttributeError(f"module 'intake' has no attribute {name!r}")
