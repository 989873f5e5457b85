"""Caseworker keys in the home folder: creating one (``Keygen``) and opening one (``unlock``).

The private key file is ``crypto.lock_identity`` output: argon2id (256 MiB, production parameters
unless a test passes ``crypto.KDF_FOR_TESTS_ONLY`` to ``Keygen`` explicitly), then XChaCha20-Poly1305.
The passphrase is never written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import crypto
from triage.errors import HomeError
from triage.home import Home, write_private
from triage.passphrase import check_passphrase
from triage.store import CaseStore


@dataclass(frozen=True)
class NewKey:
    public: crypto.PublicIdentity
    key_path: Path
    pub_path: Path
    has_store_access: bool


class Keygen:
    """Creates caseworker identities in one home. ``kdf`` is the production cost unless a test says otherwise."""

    def __init__(self, home: Home, *, kdf: crypto.KdfParams = crypto.KDF_PRODUCTION) -> None:
        self.home = home
        self.kdf = kdf

    def create(self, name: str, passphrase: str) -> NewKey:
        check_passphrase(passphrase)  # the one rule, whoever asks: the CLI, the desk, a script
        identity = crypto.Identity.generate(name)
        self.home.ensure()
        key_path, pub_path = self.home.key_path(identity.name), self.home.pub_path(identity.name)
        if key_path.exists():
            raise HomeError(f"A key named {identity.name!r} already exists in {self.home.path}; choose another name.")
        write_private(key_path, crypto.lock_identity(identity, passphrase, kdf=self.kdf))
        pub_path.write_text(identity.public.to_text(), encoding="utf-8")
        store = CaseStore(self.home.store_path)
        try:
            access = store.add_caseworker(identity.public)
        finally:
            store.close()
        return NewKey(identity.public, key_path, pub_path, access)


def unlock(home: Home, passphrase: str, *, min_kdf: crypto.KdfParams, name: str | None = None) -> crypto.Identity:
    """Open the caseworker key named ``name``, or the one key of this home, or whichever opens.

    ``min_kdf`` is the cheapest argon2id cost accepted (``crypto.WeakKdfError`` below it): the caller
    passes it explicitly, the production cost outside tests.
    """
    home.require()
    if name is not None:
        path = home.key_path(name)
        if not path.is_file():
            raise HomeError(f"No key named {name!r} in {home.path}.")
        return crypto.unlock_identity(path.read_bytes(), passphrase, min_kdf=min_kdf)
    candidates = home.key_files()
    for path in candidates[:-1]:
        try:
            return crypto.unlock_identity(path.read_bytes(), passphrase, min_kdf=min_kdf)
        except crypto.WrongPassphraseError:
            continue
    return crypto.unlock_identity(candidates[-1].read_bytes(), passphrase, min_kdf=min_kdf)
