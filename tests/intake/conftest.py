"""Intake test fixtures: ``database_url`` (SQLite and PostgreSQL), ``config``, ``app``, ``client``, ``runner``."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

import crypto
from intake.app import create_app
from intake.config import IntakeConfig
from intake.instance import Instance
from tests.realparts import need


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'instance' / 'intake.db'}"
    try:
        return str(request.getfixturevalue("postgres_url"))
    except pytest.FixtureLookupError:
        need("the postgres_url fixture", False, "tests/pgserver.py registered as a pytest plugin")
        raise


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    return tmp_path / "instance"


# The global submission limit is spent by every form POST, valid or not, before its checks (issue 21 item 3);
# tests that post hundreds of forms to one app (hypothesis) would meet it. Per-circuit limits stay as they are
# and the tests of the global limit build their own limiter (test_limits.py).
TEST_GLOBAL_PER_MINUTE = 1_000_000


@pytest.fixture
def config(instance_dir: Path, database_url: str) -> IntakeConfig:
    return IntakeConfig(instance_dir=instance_dir, database_url=database_url, default_locale="en",
                        global_per_minute=TEST_GLOBAL_PER_MINUTE)  # fmt: skip


@pytest.fixture
def sqlite_config(instance_dir: Path) -> IntakeConfig:
    return IntakeConfig(instance_dir=instance_dir, default_locale="en", global_per_minute=TEST_GLOBAL_PER_MINUTE)


@pytest.fixture(scope="session")
def identity() -> crypto.Identity:
    return crypto.Identity.generate("Test caseworker")


def make_app(config: IntakeConfig, identity: crypto.Identity | None) -> Flask:
    Instance(config).initialize()
    app = create_app(config)
    if identity is not None:
        app.extensions["intake"].storage.add_recipient(identity.public, datetime.date.today())
    return app


@pytest.fixture
def app(config: IntakeConfig, identity: crypto.Identity) -> Iterator[Flask]:
    app = make_app(config, identity)
    yield app
    app.extensions["intake"].storage.dispose()


@pytest.fixture
def sqlite_app(sqlite_config: IntakeConfig, identity: crypto.Identity) -> Iterator[Flask]:
    app = make_app(sqlite_config, identity)
    yield app
    app.extensions["intake"].storage.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def sqlite_client(sqlite_app: Flask) -> FlaskClient:
    return sqlite_app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def pg_app(tmp_path: Path, postgres_url: str, identity: crypto.Identity) -> Iterator[Flask]:
    """The app on the real PostgreSQL server only (tests of what PostgreSQL alone keeps)."""
    config = IntakeConfig(instance_dir=tmp_path / "instance", database_url=postgres_url, default_locale="en")
    app = make_app(config, identity)
    yield app
    app.extensions["intake"].storage.dispose()
