"""The configuration: one frozen object, INTAKE_* read in one place, no testing mode by default."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from flask import Flask

from intake.config import ConfigError, IntakeConfig
from intake.resources import resource_dir


def test_from_env_reads_every_documented_variable(tmp_path: Path) -> None:
    config = IntakeConfig.from_env({
        "INTAKE_INSTANCE_DIR": str(tmp_path), "INTAKE_DATABASE_URL": "sqlite:///x.db",
        "INTAKE_DEFAULT_LOCALE": "en", "INTAKE_EXIT_URL": "https://example.org/", "INTAKE_MAX_PENDING": "7",
        "INTAKE_SECURE_COOKIES": "1", "INTAKE_CIRCUIT_PER_MINUTE": "3", "INTAKE_GLOBAL_PER_MINUTE": "9",
    })  # fmt: skip
    assert config.instance_dir == tmp_path
    assert config.database_url == "sqlite:///x.db"
    assert (config.default_locale, config.exit_url, config.max_pending) == ("en", "https://example.org/", 7)
    assert config.secure_cookies and config.circuit_per_minute == 3 and config.global_per_minute == 9


def test_default_database_is_sqlite_inside_the_instance(tmp_path: Path) -> None:
    config = IntakeConfig.from_env({"INTAKE_INSTANCE_DIR": str(tmp_path)})
    assert config.database_url == f"sqlite:///{tmp_path.resolve() / 'intake.db'}"
    assert config.default_locale == "ru" and not config.secure_cookies


def test_overrides_win_and_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    assert IntakeConfig.from_env({"INTAKE_INSTANCE_DIR": "/a"}, instance_dir=tmp_path).instance_dir == tmp_path
    with pytest.raises(ConfigError, match="INTAKE_INSTANCE_DIR"):
        IntakeConfig.from_env({})


@pytest.mark.parametrize(
    ("var", "value"),
    [("INTAKE_DEFAULT_LOCALE", "de"), ("INTAKE_EXIT_URL", "javascript:alert(1)"), ("INTAKE_MAX_PENDING", "x"),
     ("INTAKE_MAX_PENDING", "0")],
)  # fmt: skip
def test_bad_values_are_refused(tmp_path: Path, var: str, value: str) -> None:
    with pytest.raises(ConfigError):
        IntakeConfig.from_env({"INTAKE_INSTANCE_DIR": str(tmp_path), var: value})


def test_config_is_frozen(tmp_path: Path) -> None:
    config = IntakeConfig(instance_dir=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_pending = 1  # type: ignore[misc]


def test_not_in_testing_mode_by_default(sqlite_app: Flask) -> None:
    assert sqlite_app.testing is False
    assert sqlite_app.config["TESTING"] is False
    assert sqlite_app.debug is False


def test_cookie_and_body_settings(sqlite_app: Flask) -> None:
    assert sqlite_app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert sqlite_app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
    assert sqlite_app.config["SESSION_COOKIE_SECURE"] is False
    assert sqlite_app.config["WTF_CSRF_TIME_LIMIT"] >= 3 * 3600
    assert sqlite_app.config["MAX_CONTENT_LENGTH"] <= 512 * 1024
    assert sqlite_app.config["MAX_FORM_PARTS"] <= 100


def test_resources_are_found() -> None:
    assert (resource_dir("templates") / "base.html").is_file()
    assert (resource_dir("migrations") / "env.py").is_file()
    with pytest.raises(FileNotFoundError):
        resource_dir("no-such-folder")
