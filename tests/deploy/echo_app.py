"""A WSGI app for the worker tests: it answers with what the app would see of the peer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

ADDRESS_KEYS = ("REMOTE_ADDR", "REMOTE_PORT", "PROXY_ADDR", "PROXY_PORT", "PROXY_PROTOCOL", "HTTP_X_FORWARDED_FOR")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    seen = {
        "circuit": environ.get("intake.circuit"),
        "address_keys": [key for key in ADDRESS_KEYS if key in environ],
        "path": environ.get("PATH_INFO"),
    }
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
