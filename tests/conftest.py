"""Settings shared by every test: hypothesis profiles, and where artifacts go."""

from __future__ import annotations

import os
import secrets
from typing import Any

from hypothesis import HealthCheck, settings

# A throwaway PostgreSQL cluster for the suites that run on both databases (tests/pgserver.py).
pytest_plugins = ["tests.pgserver"]

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100)
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200, derandomize=False
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _short_boundaries() -> None:
    """werkzeug's test client draws a multipart boundary from time() and random() that is over RFC 2046's 70
    characters about once in 460 bodies (random() under 0.01 prints longer), which intake.multipart rightly
    refuses as malformed (400): a test posting multipart then failed at random. Tests get boundaries of 64
    characters, of the same shape; a browser's are shorter still."""
    try:
        import werkzeug.test
    except ImportError:  # a laptop install without the server's stack: no test client to fix
        return
    encode = werkzeug.test.stream_encode_multipart

    def within_70(data: Any, use_tempfile: bool = True, threshold: int = 512000,
                  boundary: str | None = None) -> Any:  # fmt: skip
        drawn = f"---------------WerkzeugFormPart_{secrets.token_hex(16)}"
        return encode(data, use_tempfile, threshold, boundary or drawn)

    werkzeug.test.stream_encode_multipart = within_70


_short_boundaries()
