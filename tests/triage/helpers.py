"""Building blocks for triage tests: requests, signed bundles, and the CLI run with test-only settings."""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

import crypto
from triage.app import TriageConfig
from triage.cli import main

TODAY = datetime.date(2026, 11, 22)
PASSPHRASE = "correct horse battery staple lantern orchid"
TEST_CONFIG = TriageConfig(kdf=crypto.KDF_FOR_TESTS_ONLY, today=lambda: TODAY)


def make_request(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema": 1, "locale": "ru", "submitted_on": TODAY, "danger": "not_immediate", "people": 1,
        "contact_method": "signal", "contact": "+7 900 000 00 00", "story": "Нам нужна помощь.", "consent": True,
    }  # fmt: skip
    base.update(fields)
    return base


@dataclass
class Server:
    """A stand-in for the intake server's export: serials, sequence numbers and its signing key."""

    key: crypto.ServerKey = field(default_factory=crypto.ServerKey.generate)
    sequence: int = 0
    high_water: int = 0

    def entry(self, request: dict[str, Any], recipients: Sequence[crypto.PublicIdentity]) -> crypto.BundleEntry:
        self.high_water += 1
        envelope = crypto.seal_request(request, for_recipients=recipients)
        return crypto.BundleEntry(os.urandom(16), self.high_water, envelope, tuple(r.fingerprint for r in recipients))

    def bundle(
        self, path: Path, entries: Sequence[crypto.BundleEntry], *, sequence: int | None = None,
        recipients: Sequence[crypto.PublicIdentity] | None = None, delivered: Sequence[bytes] | None = None,
    ) -> Path:
        """A signed bundle; version 2 (the recipient set signed in) when ``recipients`` is given, version 3
        when ``delivered`` (the digests of the replies the server confirms it stored) is given too."""
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        if recipients is None:
            entries = [crypto.BundleEntry(e.entry_id, e.serial, e.envelope) for e in entries]
        with path.open("wb") as out:
            crypto.write_bundle(
                out, entries, count=len(entries), server_key=self.key, sequence=sequence,
                high_water=self.high_water, created_on=TODAY, recipients=recipients or (), delivered=delivered,
            )  # fmt: skip
        return path


class Triage:
    """Runs `triage` in one home through click's CliRunner, with the fast test KDF passed as obj."""

    def __init__(self, home: Path, passphrase_file: Path, config: TriageConfig = TEST_CONFIG) -> None:
        self.home = home
        self.passphrase_file = passphrase_file
        self.config = config

    def run(
        self, *args: str | os.PathLike[str], input: str | None = None, passphrase: bool = True, compare: bool = True
    ) -> Result:
        """Run `triage`. An `import` without --fingerprint gets the one its bundle is signed with, as if the
        caseworker compared it with the operator's (``compare=False`` leaves it out: tests of that check)."""
        head = ["--home", str(self.home)]
        if passphrase:
            head += ["--passphrase-file", str(self.passphrase_file)]
        words = [str(a) for a in args]
        if compare and "import" in words and "--fingerprint" not in words:
            signer = _signer(words)
            at = words.index("import") + 1
            if signer is not None:
                words = [*words[:at], "--fingerprint", signer, *words[at:]]
        return CliRunner().invoke(main, [*head, *words], obj=self.config, input=input)

    def ok(self, *args: str | os.PathLike[str], input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def keygen(self, name: str) -> crypto.PublicIdentity:
        self.ok("keygen", "--name", name)
        return crypto.PublicIdentity.from_text((self.home / f"{name}.pub").read_text())

    def identity(self, name: str) -> crypto.Identity:
        key_file = (self.home / f"{name}.key").read_bytes()
        return crypto.unlock_identity(key_file, PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)


def _signer(words: list[str]) -> str | None:
    for word in reversed(words):
        if Path(word).is_file():
            try:
                return crypto.read_bundle(word, expected_server=None).header.server.fingerprint
            except crypto.CryptoError:
                return None
    return None


def assert_one_sentence(result: Result, *fragments: str) -> None:
    """A failure: non-zero exit, no traceback, a short message containing each fragment."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    message = result.output.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment.lower() in message.lower(), message
