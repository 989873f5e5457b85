"""deploy/gunicorn.conf.py: every name is a real gunicorn setting (gunicorn silently ignores unknown
names, so a typo would switch a protection off unnoticed), and the values are the ones we rely on."""

from __future__ import annotations

import runpy
from pathlib import Path

from tests.realparts import need_module

gunicorn_config = need_module("gunicorn.config")

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def _values() -> dict[str, object]:
    return {k: v for k, v in runpy.run_path(str(CONFIG)).items() if not k.startswith("__")}


def test_every_name_is_a_gunicorn_setting() -> None:
    known = set(gunicorn_config.Config().settings)
    unknown = sorted(set(_values()) - known)
    assert unknown == []


def test_gunicorn_accepts_every_value() -> None:
    cfg = gunicorn_config.Config()
    for name, value in _values().items():
        cfg.set(name, value)  # runs gunicorn's own validator for each setting
    assert cfg.worker_class_str == "intake.circuit_worker.CircuitWorker"
    assert cfg.proxy_protocol == "v1"
    assert cfg.accesslog is None and cfg.disable_redirect_access_to_syslog
    assert cfg.secure_scheme_headers == {} and cfg.forwarder_headers == []
    assert 0 < cfg.limit_request_line <= 4094 and 0 < cfg.limit_request_fields <= 100
    assert 0 < cfg.limit_request_field_size <= 8190
    assert all(address.startswith("unix:") for address in cfg.bind)
    assert cfg.http_protocols == ["h1"]


def test_the_worker_class_loads() -> None:
    cfg = gunicorn_config.Config()
    cfg.set("worker_class", _values()["worker_class"])
    from intake.circuit_worker import CircuitWorker

    assert cfg.worker_class is CircuitWorker
