"""Production entry point: ``gunicorn intake.wsgi:app`` (settings from ``INTAKE_*`` variables)."""

from __future__ import annotations

from intake.app import create_app
from intake.config import IntakeConfig

app = create_app(IntakeConfig.from_env())
