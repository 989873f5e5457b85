"""The configuration: one frozen object, INTAKE_* read in one place, no testing mode by default."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from flask import Flask

from intake.config import ConfigError, IntakeConfig, settings
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


# --- docs/OPERATIONS.md section 11 is every setting (issue 20 item 7) ----------------------------------------

def _settings_table() -> dict[str, str]:
    """variable -> documented default, from the table between the markers in docs/OPERATIONS.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md").read_text()
    table = text.split("<!-- settings table: keep in step with intake/config.py -->", 1)[1]
    table = table.split("<!-- end of settings table -->", 1)[0]
    rows = re.findall(r"^\| `(INTAKE_[A-Z_]+)` \| ([^|]+) \|", table, flags=re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def test_the_settings_table_names_every_setting_the_code_reads() -> None:
    documented = _settings_table()
    assert set(documented) == set(settings()), "docs/OPERATIONS.md section 11 and intake/config.py disagree"
    # Every INTAKE_* name anywhere in the server's code and deploy files is a setting of the table
    root = Path(__file__).resolve().parents[2]
    sources = [*(root / "intake").rglob("*.py"), *(root / "deploy").rglob("*")]
    named = {name for path in sources if path.is_file()
             for name in re.findall(r"INTAKE_[A-Z_]*[A-Z]", path.read_text(errors="replace"))}  # fmt: skip
    assert named <= set(documented), sorted(named - set(documented))
    # And each documented default is the code's
    defaults = {f.name: f.default for f in dataclasses.fields(IntakeConfig)}
    for variable, field_name in settings().items():
        default = defaults[field_name]
        if isinstance(default, bool):
            assert documented[variable] == f"`{str(default).lower()}`", variable
        elif isinstance(default, (int, str)) and default != "":
            assert documented[variable] == f"`{default}`", variable
