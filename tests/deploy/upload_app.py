"""A WSGI app for the upload tests of the circuit worker: it reads ``wsgi.input`` 64 KiB at a time.

It carries what the worker reads of intake's app (``extensions["intake"]``: the config, with the upload
rules from ``INTAKE_UPLOAD_*``, and a CSRF key), so the worker applies the same rules as in production.

* ``POST /<lang>/request`` and ``/<lang>/status/message``: read the whole body in 64 KiB reads (an
  ``UploadCut`` from the worker's reader propagates, as the real app lets it), answer how much was read;
* ``GET /block/NAME``: hold the thread until the file ``$EVAC_TEST_RELEASE-NAME`` exists;
* ``GET /stats``: how many uploads this process has in the app now, and how many it ever started;
* anything else: the circuit, and a sequence number in the order requests reached the app.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from intake import csrf
from intake.config import IntakeConfig

SECRET = b"upload-app-test-secret-32-bytes!"
CSRF_KEY = csrf.csrf_key(SECRET)
_lock = threading.Lock()
_state = {"seq": 0, "uploading": 0, "started": 0}


def _answer(start_response: Callable[..., Any], seen: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    with _lock:
        _state["seq"] += 1
        seen: dict[str, Any] = {"seq": _state["seq"], "circuit": environ.get("intake.circuit"), "path": path,
                                "method": environ.get("REQUEST_METHOD"), "pid": os.getpid()}  # fmt: skip
    if path.startswith("/block/"):
        release = Path(os.environ["EVAC_TEST_RELEASE"] + "-" + path.rpartition("/")[2])
        while not release.exists():
            time.sleep(0.01)
        return _answer(start_response, seen)
    if path == "/stats":
        with _lock:
            seen.update(uploading=_state["uploading"], started=_state["started"])
        return _answer(start_response, seen)
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("intake.upload"):
        with _lock:
            _state["uploading"] += 1
            _state["started"] += 1
        read = 0
        try:
            stream = environ["wsgi.input"]
            while chunk := stream.read(64 * 1024):
                read += len(chunk)
        finally:
            with _lock:
                _state["uploading"] -= 1
        seen.update(read=read, upload=True)
        return _answer(start_response, seen)
    if environ.get("REQUEST_METHOD") == "POST":
        seen["read"] = len(environ["wsgi.input"].read())
    return _answer(start_response, seen)


app.extensions = {  # type: ignore[attr-defined]
    "intake": SimpleNamespace(config=IntakeConfig.from_env(instance_dir=Path(tempfile.gettempdir())),
                              csrf_key=CSRF_KEY),
}
