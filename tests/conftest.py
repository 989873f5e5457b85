"""Settings shared by every test: hypothesis profiles, and where artifacts go."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# A throwaway PostgreSQL cluster for the suites that run on both databases (tests/pgserver.py).
pytest_plugins = ["tests.pgserver"]

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100)
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200, derandomize=False
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
