"""Invariant 20, server side: every questionnaire version served is recorded, and every export carries them all."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import types
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

import crypto
from crypto.questionnaire import builtin_questionnaire
from intake import questionnaires
from intake.app import create_app
from intake.cli import main
from intake.config import ConfigError, IntakeConfig
from intake.storage import Storage
from tests.triage.questionnaire_helpers import builtin_text, changed_questionnaire

DAY = datetime.date(2026, 11, 22)


def recorded(config: IntakeConfig) -> list[bytes]:
    storage = Storage(config.database_url)
    try:
        with storage.reading() as conn:
            return questionnaires.recorded(conn)
    finally:
        storage.dispose()


def test_init_records_the_built_in_questionnaire_once(runner: CliRunner, config: IntakeConfig) -> None:
    env = {"INTAKE_INSTANCE_DIR": str(config.instance_dir), "INTAKE_DATABASE_URL": config.database_url}
    first = runner.invoke(main, ["init"], env=env, catch_exceptions=False)
    shipped = builtin_questionnaire()
    assert first.exit_code == 0 and f"evacuation-request version 1 (hash {shipped.sha256[:16]})" in first.output
    assert runner.invoke(main, ["init"], env=env, catch_exceptions=False).exit_code == 0
    assert recorded(config) == [shipped.canonical]


def test_the_app_records_what_it_serves_and_export_carries_every_version(
    app: Flask, config: IntakeConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shipped, changed = builtin_questionnaire(), changed_questionnaire()
    # Given a server that served the shipped questionnaire, then restarted with a changed one
    monkeypatch.setattr(questionnaires, "served_questionnaire", lambda config: changed)
    again = create_app(config)
    try:
        storage = again.extensions["intake"].storage
        assert not questionnaires.record(storage, changed, DAY)  # recorded already, by the start
        # When it exports
        out = tmp_path / "bundle"
        key = crypto.ServerKey.from_bytes((config.instance_dir / "server.key").read_bytes())
        with out.open("wb") as stream:
            storage.export(stream, key, DAY)
    finally:
        again.extensions["intake"].storage.dispose()
    # Then the bundle carries both versions, signed, sorted by their hash
    carried = crypto.read_bundle(out, expected_server=key.public).header.questionnaires
    assert list(carried) == sorted([shipped.canonical, changed.canonical], key=lambda b: hashlib.sha256(b).digest())


def test_a_questionnaire_too_large_for_a_bundle_is_refused_with_a_sentence(app: Flask) -> None:
    huge = dataclasses.replace(builtin_questionnaire(), canonical=b"{" + b" " * 70_000 + b"}")
    with pytest.raises(ConfigError, match="too large to travel in a bundle"):
        questionnaires.record(app.extensions["intake"].storage, huge, DAY)


def test_the_served_questionnaire_is_the_operator_s_file_or_the_built_in_one(tmp_path: Path) -> None:
    unset = types.SimpleNamespace(questionnaire_path=None)
    assert questionnaires.served_questionnaire(unset) == builtin_questionnaire()  # type: ignore[arg-type]
    good = tmp_path / "q.toml"
    good.write_text(builtin_text().replace("\nversion = 1\n", "\nversion = 7\n", 1), encoding="utf-8")
    served = questionnaires.served_questionnaire(types.SimpleNamespace(questionnaire_path=good))  # type: ignore[arg-type]
    assert served.version == 7
    bad = tmp_path / "bad.toml"
    bad.write_text("format = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="INTAKE_QUESTIONNAIRE cannot be used"):
        questionnaires.served_questionnaire(types.SimpleNamespace(questionnaire_path=bad))  # type: ignore[arg-type]


def test_a_database_not_yet_upgraded_stops_the_start_with_a_sentence(config: IntakeConfig) -> None:
    from intake.instance import Instance
    from intake.migrate import downgrade

    Instance(config).initialize()
    downgrade(config.database_url, "0007")
    with pytest.raises(ConfigError, match="run `intake init`"):
        create_app(config)
