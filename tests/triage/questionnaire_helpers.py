"""Questionnaire versions for triage tests, and bundles that carry them (bundle version 5, FORMAT.md §8.1)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import pytest

import crypto
from crypto import bundle_v5
from crypto.questionnaire import Questionnaire, builtin_questionnaire, load_questionnaire
from tests.triage.helpers import TODAY, Server

HOME_ADDRESS = '''
[[field]]
id = "home_address"
section = "contact"
kind = "short_text"
max_chars = 200
label = { en = "Your home address", ru = "Ваш домашний адрес" }

'''


def builtin_text() -> str:
    from importlib import resources

    return resources.files("crypto").joinpath("questionnaires", "evacuation-request.toml").read_text("utf-8")


@functools.cache
def changed_questionnaire(*, version: int = 2, home_address: bool = True, reword: bool = True) -> Questionnaire:
    """The shipped questionnaire, changed the way a compromised or careless server would change it."""
    text = builtin_text().replace("\nversion = 1\n", f"\nversion = {version}\n", 1)
    if home_address:
        at = text.index('[[field]]\nid = "story"')
        text = text[:at] + HOME_ADDRESS.lstrip("\n") + text[at:]
    if reword:
        old = 'en = "What should we call you? (any name, need not be real)"'
        assert old in text
        text = text.replace(old, 'en = "Your full name, as in your passport"', 1)
    changed = load_questionnaire(text)
    assert changed.sha256 != builtin_questionnaire().sha256
    return changed


def carrying(
    server: Server, path: Path, entries: Sequence[crypto.BundleEntry], recipients: Sequence[crypto.PublicIdentity],
    carried: Sequence[bytes], monkeypatch: pytest.MonkeyPatch, *, unchecked: bool = False,
) -> Path:  # fmt: skip
    """A signed bundle (version 5) whose questionnaire block holds ``carried`` (canonical bytes, as servers write).

    ``unchecked``: signed without the writer's own check of the block, as a broken or compromised server could.
    """
    server.sequence += 1
    with monkeypatch.context() as patched:
        if unchecked:
            patched.setattr(bundle_v5, "check_questionnaire_bytes", lambda canonical: None)
        with path.open("wb") as out:
            crypto.write_bundle(
                out, entries, count=len(entries), server_key=server.key, sequence=server.sequence,
                high_water=server.high_water, created_on=TODAY, recipients=recipients, delivered=(),
                questionnaires=carried,
            )  # fmt: skip
    return path
