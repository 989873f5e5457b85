"""The caseworker's private key file: argon2id stretches the passphrase, XChaCha20-Poly1305 seals the keys.

Every KDF parameter sits in the header, and the whole header is the AEAD's associated data, so nobody
can lower the parameters of an existing file without the passphrase. Parameters read from a file are
bounded: a hostile key file cannot make us allocate more than ``MAX_MEMLIMIT``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.utils

from crypto.binary import Reader, u8, u32
from crypto.errors import MalformedError, UnsupportedVersionError, WeakKdfError, WrongPassphraseError
from crypto.keys import KEY_SIZE, Identity, check_name

MAGIC = b"ITKS"
VERSION = 1
KDF_ARGON2ID = 1
SALT_SIZE = 16
NONCE_SIZE = 24
MIN_OPSLIMIT = 1
MAX_OPSLIMIT = 16
MIN_MEMLIMIT = 8 * 1024
MAX_MEMLIMIT = 1024 * 1024 * 1024
HEADER_SIZE = 4 + 1 + 1 + 4 + 4 + SALT_SIZE + NONCE_SIZE


@dataclass(frozen=True)
class KdfParams:
    """argon2id cost: ``opslimit`` passes over ``memlimit`` bytes (one lane, as libsodium does)."""

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        if not MIN_OPSLIMIT <= self.opslimit <= MAX_OPSLIMIT:
            raise MalformedError(f"argon2id passes must be {MIN_OPSLIMIT} to {MAX_OPSLIMIT}")
        if not MIN_MEMLIMIT <= self.memlimit <= MAX_MEMLIMIT or self.memlimit % 1024:
            raise MalformedError("argon2id memory must be whole KiB between 8 KiB and 1 GiB")


KDF_PRODUCTION = KdfParams(opslimit=3, memlimit=256 * 1024 * 1024)
# Tests pass this explicitly; nothing in production code paths selects it.
KDF_FOR_TESTS_ONLY = KdfParams(opslimit=1, memlimit=8 * 1024 * 1024)


def _passphrase_bytes(passphrase: str) -> bytes:
    # NFC so that the same passphrase typed on two keyboards gives the same bytes.
    if not isinstance(passphrase, str) or not passphrase:
        raise WrongPassphraseError("the passphrase is empty")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _derive(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    key: bytes = nacl.pwhash.argon2id.kdf(
        KEY_SIZE, _passphrase_bytes(passphrase), salt, opslimit=kdf.opslimit, memlimit=kdf.memlimit
    )
    return key


def lock_identity(identity: Identity, passphrase: str, *, kdf: KdfParams = KDF_PRODUCTION) -> bytes:
    """The private key file's bytes for ``identity``, readable only with ``passphrase``."""
    salt = nacl.utils.random(SALT_SIZE)
    nonce = nacl.utils.random(NONCE_SIZE)
    header = MAGIC + u8(VERSION) + u8(KDF_ARGON2ID) + u32(kdf.opslimit) + u32(kdf.memlimit // 1024) + salt + nonce
    box_secret, sign_seed = identity.secret_bytes()
    name = identity.name.encode("utf-8")
    plaintext = box_secret + sign_seed + u8(len(name)) + name
    key = _derive(passphrase, salt, kdf)
    sealed: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, header, nonce, key)
    return header + sealed


def read_kdf_params(data: bytes) -> KdfParams:
    """The cost a key file asks for, checked against our bounds before any memory is spent."""
    reader = Reader(data, "the private key file")
    reader.expect(MAGIC, "private key file marker")
    if reader.u8() != VERSION:
        raise UnsupportedVersionError("this private key file has a version this tool does not know")
    if reader.u8() != KDF_ARGON2ID:
        raise UnsupportedVersionError("this private key file uses an unknown key derivation")
    opslimit = reader.u32()
    memlimit_kib = reader.u32()
    if memlimit_kib > MAX_MEMLIMIT // 1024:
        raise MalformedError("the private key file asks for more than 1 GiB of memory")
    return KdfParams(opslimit=opslimit, memlimit=memlimit_kib * 1024)


def unlock_identity(data: bytes, passphrase: str, *, min_kdf: KdfParams = KDF_PRODUCTION) -> Identity:
    """Open a private key file. WrongPassphraseError if the passphrase (or the file) is wrong.

    ``min_kdf`` is the cheapest argon2id cost accepted (WeakKdfError below it, before any derivation):
    someone who swaps a stolen laptop's key file for one of trivial cost would otherwise make the
    passphrase typed into it fall to guessing thousands of times faster. Production code keeps the
    default; tests pass ``KDF_FOR_TESTS_ONLY`` explicitly.
    """
    kdf = read_kdf_params(data)
    if kdf.opslimit < min_kdf.opslimit or kdf.memlimit < min_kdf.memlimit:
        raise WeakKdfError(
            f"this key file's passphrase hash is too cheap (argon2id t={kdf.opslimit}, {kdf.memlimit // 1024} KiB; "
            f"at least t={min_kdf.opslimit}, {min_kdf.memlimit // 1024} KiB is required): a key made by this tool "
            "never is, so the file may have been replaced",
            kdf.opslimit,
            kdf.memlimit // 1024,
        )
    reader = Reader(data, "the private key file")
    header = reader.take(HEADER_SIZE)
    salt = header[14 : 14 + SALT_SIZE]
    nonce = header[14 + SALT_SIZE :]
    sealed = reader.take(reader.remaining)
    if len(sealed) < 16 + 2 * KEY_SIZE + 2:
        raise MalformedError("the private key file is truncated")
    key = _derive(passphrase, salt, kdf)
    try:
        plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, header, nonce, key)
    except nacl.exceptions.CryptoError:
        raise WrongPassphraseError("the passphrase does not open this key file") from None
    inner = Reader(plaintext, "the private key file's contents")
    box_secret = inner.take(KEY_SIZE)
    sign_seed = inner.take(KEY_SIZE)
    name = inner.utf8(inner.u8())
    inner.end()
    if check_name(name) != name:
        raise MalformedError("the name in the private key file is not in its normalised form")
    return Identity(name, box_secret, sign_seed)
