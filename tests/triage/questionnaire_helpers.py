"""Questionnaire versions for triage tests, and bundles that carry them (bundle version 5, FORMAT.md §8.1)."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Sequence
from pathlib import Path

import pytest

import crypto
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


def writes_questionnaires() -> bool:
    return "questionnaires" in inspect.signature(crypto.write_bundle).parameters


def carrying(
    server: Server, path: Path, entries: Sequence[crypto.BundleEntry], recipients: Sequence[crypto.PublicIdentity],
    carried: Sequence[bytes], monkeypatch: pytest.MonkeyPatch,
) -> Path:  # fmt: skip
    """A signed bundle whose questionnaire block holds ``carried`` (the canonical bytes, as the server writes).

    With a bundle writer that has the questionnaire block (version 5) this is the real file; before it, the
    reader's header is given the same attribute (``BundleHeader.questionnaires``), so the triage side is
    tested against the interface of CONTRACTS §3 either way.
    """
    server.sequence += 1
    if writes_questionnaires():
        with path.open("wb") as out:
            crypto.write_bundle(
                out, entries, count=len(entries), server_key=server.key, sequence=server.sequence,
                high_water=server.high_water, created_on=TODAY, recipients=recipients, delivered=(),
                questionnaires=sorted(carried, key=lambda data: hashlib.sha256(data).digest()),
            )  # fmt: skip
        return path
    with path.open("wb") as out:
        crypto.write_bundle(out, entries, count=len(entries), server_key=server.key, sequence=server.sequence,
                            high_water=server.high_water, created_on=TODAY, recipients=recipients,
                            delivered=())  # fmt: skip
    real = crypto.read_bundle
    by_file = getattr(crypto.read_bundle, "carried", {})
    by_file[str(path)] = tuple(carried)

    def read_bundle(source: object, **options: object) -> crypto.Bundle:
        bundle = real(source, **options)  # type: ignore[arg-type]
        object.__setattr__(bundle.header, "questionnaires", by_file.get(str(source), ()))
        return bundle

    read_bundle.carried = by_file  # type: ignore[attr-defined]
    if not hasattr(crypto.read_bundle, "carried"):
        monkeypatch.setattr(crypto, "read_bundle", read_bundle)
    return path
