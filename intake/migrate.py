"""Alembic, driven from code: ``upgrade(url)`` / ``downgrade(url, revision)`` with the packaged migrations."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from intake.resources import resource_dir


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
