"""Settings a test changes and production never does, passed in to every face and to the operations.

``TriageConfig(kdf=crypto.KDF_FOR_TESTS_ONLY, today=...)`` is how a test makes key derivation fast and
fixes the day. There is no environment variable or command-line flag for either.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import crypto


@dataclass(frozen=True)
class TriageConfig:
    kdf: crypto.KdfParams = crypto.KDF_PRODUCTION
    today: Callable[[], datetime.date] = datetime.date.today
