"""gunicorn entry point for the crash loop's negative control: the real app, broken on purpose so that it
commits half a second *after* the receipt page has gone out (exactly what invariant 8 forbids).

tests/system/test_crash_safety.py runs the crash loop against it and requires lost submissions: proof that
the loop can see a loss, so its "0 lost" against the real app means something.
"""

from __future__ import annotations

import threading
from typing import Any

from intake.app import create_app
from intake.config import IntakeConfig

app = create_app(IntakeConfig.from_env())
_storage = app.extensions["intake"].storage
if not hasattr(_storage, "seal_and_store"):  # the product renamed its storage call: update this control
    raise RuntimeError("intake.storage.Storage.seal_and_store is gone; update tests/system/lossy_app.py")
_store = _storage.seal_and_store


def _store_later(*args: Any, **kwargs: Any) -> int:
    threading.Timer(0.5, _store, args, kwargs).start()
    return 0


_storage.seal_and_store = _store_later
