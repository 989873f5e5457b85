"""A WSGI app for the worker tests: it answers with what the app would see of the peer.

``/hold`` keeps its thread for half a second and reports how many requests of the same circuit were in
the app at once (the worker's per-circuit thread cap must bound that number).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

ADDRESS_KEYS = ("REMOTE_ADDR", "REMOTE_PORT", "PROXY_ADDR", "PROXY_PORT", "PROXY_PROTOCOL", "HTTP_X_FORWARDED_FOR")
_lock = threading.Lock()
_in_app: Counter[str] = Counter()
_peak: Counter[str] = Counter()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    circuit = environ.get("intake.circuit")
    seen: dict[str, Any] = {
        "circuit": circuit,
        "address_keys": [key for key in ADDRESS_KEYS if key in environ],
        "path": environ.get("PATH_INFO"),
    }
    if environ.get("PATH_INFO") == "/hold" and isinstance(circuit, str):
        with _lock:
            _in_app[circuit] += 1
            _peak[circuit] = max(_peak[circuit], _in_app[circuit])
        time.sleep(0.5)
        with _lock:
            _in_app[circuit] -= 1
            seen["peak"] = _peak[circuit]
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
