"""Production entry point: ``gunicorn intake.wsgi:app`` (settings from ``INTAKE_*`` variables)."""

from __future__ import annotations

from intake.app import create_app
from intake.config import ConfigError, IntakeConfig

try:
    app = create_app(IntakeConfig.from_env())
except ConfigError as error:  # a setting or the questionnaire file: one sentence, no traceback
    raise SystemExit(f"intake: {error}") from None
