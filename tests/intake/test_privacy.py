"""Invariants 1 and 2: no plaintext on disk, in logs or temp files; no client data in any log line."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

import crypto
from intake.app import create_app
from intake.config import IntakeConfig
from tests.intake.conftest import make_app
from tests.intake.helpers import check_status, csrf_token, opened, receipt_of, submit

CLIENT = {"REMOTE_ADDR": "203.0.113.77", "HTTP_USER_AGENT": "CanaryAgent/9.9", "intake.circuit": "circuit-4242"}


def files_under(folder: Path, since: float | None = None) -> list[Path]:
    found = []
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            try:
                info = path.stat()
                if path.is_file() and (since is None or info.st_mtime >= since) and info.st_size < 1 << 28:
                    found.append(path)
            except OSError:
                continue
    return found


def assert_nowhere(needle: bytes, files: list[Path]) -> None:
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        assert needle not in data, f"plaintext found in {path}"


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def test_canary_is_nowhere_on_disk_in_logs_or_temp_files(
    sqlite_config: IntakeConfig, identity: crypto.Identity, private_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    start = time.time() - 1
    canary = "canary-" + secrets.token_hex(12)
    app = make_app(sqlite_config, identity)
    client = app.test_client()
    # Given a submission carrying the canary in every text field, in both languages and as a large upload
    for lang in ("en", "ru"):
        response = submit(client, lang, story=f"{canary} story", contact=canary, health=canary, alias=canary[:90],
                          safe_times=canary)  # fmt: skip
        assert response.status_code == 200
        receipt = receipt_of(response)
        assert check_status(client, receipt, lang)
    token = csrf_token(client, "/en/request")
    client.post("/en/request", data={"csrf_token": token, "story": canary * 9000}, content_type="multipart/form-data")
    client.post("/en/request", data={"csrf_token": "bad", "story": canary}, environ_overrides=CLIENT)
    # And the database engine has written its WAL and closed
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()[:1]
    assert opened(envelope, identity)["story"] == f"{canary} story"
    app.extensions["intake"].storage.dispose()
    # Then the canary and the receipt are in no file of the instance, of our temp dir or of the system's
    for needle in (canary.encode(), canary.encode("utf-16-le"), receipt.replace(" ", "").encode(), receipt.encode()):
        assert_nowhere(needle, files_under(sqlite_config.instance_dir))
        assert_nowhere(needle, files_under(private_tmp))
        assert_nowhere(needle, files_under(Path("/tmp"), since=start) if Path("/tmp").is_dir() else [])
    assert canary not in caplog.text and receipt not in caplog.text


def test_logs_carry_no_client_data(sqlite_client: FlaskClient, sqlite_app: Flask,
                                   caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)

    def broken(*args: object) -> None:
        raise RuntimeError("boom 203.0.113.77 CanaryAgent")  # even a careless message must not be logged

    token = csrf_token(sqlite_client, "/en/status")
    sqlite_client.post("/en/status", data={"csrf_token": token, "receipt": "1" * 30}, environ_overrides=CLIENT)
    sqlite_client.get("/en/nowhere", environ_overrides=CLIENT)
    sqlite_app.extensions["intake"].storage.receipt_status = broken
    response = sqlite_client.post("/en/status", data={"csrf_token": token, "receipt": "1" * 30},
                                  environ_overrides=CLIENT)  # fmt: skip
    assert response.status_code == 500
    assert "unhandled error: RuntimeError" in caplog.text, "the operator still learns that something failed"
    for secret in ("203.0.113.77", "CanaryAgent", "circuit-4242", "1" * 30, "boom", "/en/status"):
        assert secret not in caplog.text


def test_create_app_logs_nothing_about_its_secrets(sqlite_config: IntakeConfig, identity: crypto.Identity,
                                                   caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    make_app(sqlite_config, identity)
    app = create_app(sqlite_config)
    secret = app.extensions["intake"].receipt_secret
    assert secret.hex() not in caplog.text and repr(secret) not in caplog.text
