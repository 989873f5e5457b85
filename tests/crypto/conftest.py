from __future__ import annotations

import datetime

import pytest

import crypto


@pytest.fixture(scope="session")
def alice() -> crypto.Identity:
    return crypto.Identity.generate("Alice")


@pytest.fixture(scope="session")
def bob() -> crypto.Identity:
    return crypto.Identity.generate("Борис")


@pytest.fixture(scope="session")
def server_key() -> crypto.ServerKey:
    return crypto.ServerKey.generate()


def make_request(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "schema": 1, "locale": "ru", "submitted_on": datetime.date(2026, 11, 22), "danger": "serious",
        "people": 3, "contact_method": "telegram", "contact": "@someone", "story": "Помогите нам уехать.",
        "consent": True,
    }  # fmt: skip
    base.update(fields)
    return base
