"""Caseworker identities, the server's bundle-signing key, and the fingerprints people read aloud.

A caseworker identity is two key pairs: X25519 (requests are sealed to it) and Ed25519 (the caseworker
signs acknowledgements with it). The server has one Ed25519 key of its own, which signs export bundles;
it lives unencrypted in the server's instance folder because the server must sign unattended.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from crypto.binary import u8
from crypto.errors import MalformedError, TamperedError, UnsupportedVersionError
from crypto.text import trim

KEY_SIZE = 32
SIGNATURE_SIZE = 64
MAX_NAME_BYTES = 255
MAX_NAME_CHARS = 64
PUBLIC_KEY_TITLE = "intake caseworker public key v1"
SERVER_KEY_TITLE = "intake server signing key v1"
_SELF_SIGNATURE_CONTEXT = b"intake public key v1\x00"
_CASEWORKER_FP_CONTEXT = b"intake fingerprint v1\x00caseworker\x00"
_SERVER_FP_CONTEXT = b"intake fingerprint v1\x00server\x00"


def _fingerprint(context: bytes, *keys: bytes) -> str:
    digest = hashlib.blake2b(context + b"".join(keys), digest_size=16).hexdigest()
    return "-".join(digest[i : i + 4] for i in range(0, 32, 4))


def normalize_fingerprint(text: str) -> str:
    """Accept a fingerprint as people paste it (any case, with or without separators)."""
    compact = "".join(ch for ch in trim(text).lower() if ch not in " -:\t")
    if len(compact) != 32 or any(ch not in "0123456789abcdef" for ch in compact):
        raise MalformedError("a fingerprint is 32 hexadecimal digits, like 1a2b-3c4d-…")
    return "-".join(compact[i : i + 4] for i in range(0, 32, 4))


def check_name(name: str) -> str:
    """Names label keys for people; they must print on one line and fit one length byte."""
    if not isinstance(name, str):
        raise MalformedError("a key name must be text")
    name = unicodedata.normalize("NFC", trim(name))
    if not name or len(name) > MAX_NAME_CHARS or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise MalformedError(f"a key name has 1 to {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in name):
        raise MalformedError("a key name may not contain control characters")
    return name


# The u-coordinates (mod p) of every point of order 1, 2, 4 or 8 on Curve25519 (0, 1 and the two of order
# 8, as libsodium lists them) and on its twist (0 and p - 1). X25519 ignores the top bit of an encoding and
# reduces it mod p, so these five values are all 14 encodings of a small-order key. A table, not a scalar
# multiplication: triage checks the reply key of every envelope it opens (tests/crypto/test_keys.py proves
# the table agrees with a multiplication by a fixed scalar, which is zero exactly for these points).
_P = 2**255 - 19
_SMALL_ORDER_U = frozenset({
    0, 1, _P - 1,
    int.from_bytes(bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), "little"),
    int.from_bytes(bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"), "little"),
})  # fmt: skip
_LOW_255_BITS = (1 << 255) - 1


def has_small_order(box_public: bytes) -> bool:
    """True for every X25519 public key of order 1, 2, 4 or 8 (all zeros is only one of them), and for
    anything that is not 32 bytes."""
    if len(box_public) != 32:
        return True
    return (int.from_bytes(box_public, "little") & _LOW_255_BITS) % _P in _SMALL_ORDER_U


def _b64decode(text: str, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedError(f"the {what} is not base64") from None
    if len(raw) != size:
        raise MalformedError(f"the {what} must be {size} bytes")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, eq=False)
class PublicIdentity:
    """What the operator registers: a name, the sealing key and the signing key of one caseworker."""

    name: str
    box_public: bytes
    sign_public: bytes
    self_signature: bytes | None = None
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", check_name(self.name))
        for what, key in (("encryption key", self.box_public), ("signing key", self.sign_public)):
            if not isinstance(key, bytes) or len(key) != KEY_SIZE:
                raise MalformedError(f"the {what} must be {KEY_SIZE} bytes")
        if has_small_order(self.box_public):
            raise MalformedError("the encryption key is a low-order point: nothing sealed to it would be secret")
        object.__setattr__(self, "fingerprint", _fingerprint(_CASEWORKER_FP_CONTEXT, self.box_public, self.sign_public))
        if self.self_signature is not None:
            self.verify(self._signed_message(), self.self_signature)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicIdentity):
            return NotImplemented
        return hmac.compare_digest(self.box_public + self.sign_public, other.box_public + other.sign_public)

    def __hash__(self) -> int:
        return hash((self.box_public, self.sign_public))

    def _signed_message(self) -> bytes:
        name = self.name.encode("utf-8")
        return _SELF_SIGNATURE_CONTEXT + u8(len(name)) + name + self.box_public + self.sign_public

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise TamperedError unless ``signature`` is this caseworker's over ``message``."""
        _verify(self.sign_public, message, signature)

    def to_text(self) -> str:
        """The public key file: text, safe to paste into an email, self-signed against typos."""
        if self.self_signature is None:
            raise MalformedError("only a self-signed public identity can be written out")
        lines = [
            PUBLIC_KEY_TITLE,
            f"name: {self.name}",
            f"encryption: {_b64(self.box_public)}",
            f"signing: {_b64(self.sign_public)}",
            f"fingerprint: {self.fingerprint}",
            f"self-signature: {_b64(self.self_signature)}",
        ]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str | bytes) -> PublicIdentity:
        """Parse a public key file and check its self-signature and fingerprint line."""
        if isinstance(text, bytes):
            if len(text) > 4096:
                raise MalformedError("a public key file is under 4 KiB")
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedError("a public key file is UTF-8 text") from None
        if len(text.encode("utf-8", "surrogatepass")) > 4096:
            raise MalformedError("a public key file is under 4 KiB")
        # LF separates lines; a CR before it, and spaces or tabs around a line, are forgiven (email).
        lines = [ln.strip(" \t\r") for ln in text.split("\n")]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        if not lines or not lines[0].startswith("intake caseworker public key"):
            raise MalformedError("this is not an intake caseworker public key file")
        if lines[0] != PUBLIC_KEY_TITLE:
            raise UnsupportedVersionError("this public key file has a version this tool does not know")
        keys = ("name", "encryption", "signing", "fingerprint", "self-signature")
        if len(lines) != 1 + len(keys):
            raise MalformedError("a public key file has exactly six lines")
        values: dict[str, str] = {}
        for key, line in zip(keys, lines[1:], strict=True):
            label, sep, value = line.partition(":")
            if not sep or label != key:
                raise MalformedError(f"expected the line {key!r} in the public key file")
            values[key] = value.strip(" \t")
        public = cls(
            name=values["name"],
            box_public=_b64decode(values["encryption"], KEY_SIZE, "encryption key"),
            sign_public=_b64decode(values["signing"], KEY_SIZE, "signing key"),
            self_signature=_b64decode(values["self-signature"], SIGNATURE_SIZE, "self-signature"),
        )
        if normalize_fingerprint(values["fingerprint"]) != public.fingerprint:
            raise TamperedError("the fingerprint line does not match the keys in the file")
        return public


def _verify(sign_public: bytes, message: bytes, signature: bytes) -> None:
    try:
        nacl.signing.VerifyKey(sign_public).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError):
        raise TamperedError("the signature does not verify") from None


class Identity:
    """A caseworker's private keys. Only ``crypto.keyfile`` ever serialises it, under a passphrase."""

    def __init__(self, name: str, box_secret: bytes, sign_seed: bytes) -> None:
        if len(box_secret) != KEY_SIZE or len(sign_seed) != KEY_SIZE:
            raise MalformedError(f"secret keys are {KEY_SIZE} bytes")
        self._box = nacl.public.PrivateKey(box_secret)
        self._sign = nacl.signing.SigningKey(sign_seed)
        unsigned = PublicIdentity(name, bytes(self._box.public_key), bytes(self._sign.verify_key))
        self.public = PublicIdentity(
            unsigned.name,
            unsigned.box_public,
            unsigned.sign_public,
            self_signature=self.sign(unsigned._signed_message()),
        )

    @classmethod
    def generate(cls, name: str) -> Identity:
        return cls(
            check_name(name),
            bytes(nacl.public.PrivateKey.generate()),
            bytes(nacl.signing.SigningKey.generate()),
        )

    @property
    def name(self) -> str:
        return self.public.name

    @property
    def fingerprint(self) -> str:
        return self.public.fingerprint

    def sign(self, message: bytes) -> bytes:
        return bytes(self._sign.sign(message).signature)

    def secret_bytes(self) -> tuple[bytes, bytes]:
        return bytes(self._box), bytes(self._sign)

    def box_private_key(self) -> nacl.public.PrivateKey:
        return self._box

    def __repr__(self) -> str:
        return f"Identity(name={self.name!r}, fingerprint={self.fingerprint!r})"


@dataclass(frozen=True, eq=False)
class ServerPublicKey:
    """The server's bundle-signing public key, as the laptop pins it."""

    raw: bytes
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != KEY_SIZE:
            raise MalformedError(f"a server key is {KEY_SIZE} bytes")
        object.__setattr__(self, "fingerprint", _fingerprint(_SERVER_FP_CONTEXT, self.raw))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerPublicKey):
            return NotImplemented
        return hmac.compare_digest(self.raw, other.raw)

    def __hash__(self) -> int:
        return hash(self.raw)

    def verify(self, message: bytes, signature: bytes) -> None:
        _verify(self.raw, message, signature)

    def to_text(self) -> str:
        return f"{_b64(self.raw)}\n"

    @classmethod
    def from_text(cls, text: str) -> ServerPublicKey:
        return cls(_b64decode(trim(text), KEY_SIZE, "server key"))


class ServerKey:
    """The server's Ed25519 bundle-signing key. Its file is a secret: keep it mode 0600."""

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != KEY_SIZE:
            raise MalformedError(f"a server key seed is {KEY_SIZE} bytes")
        self._sign = nacl.signing.SigningKey(seed)
        self.public = ServerPublicKey(bytes(self._sign.verify_key))

    @classmethod
    def generate(cls) -> ServerKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    def sign(self, message: bytes) -> bytes:
        return bytes(self._sign.sign(message).signature)

    def to_bytes(self) -> bytes:
        return f"{SERVER_KEY_TITLE}\n{_b64(bytes(self._sign))}\n".encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> ServerKey:
        """Read the key file in FORMAT.md §7's order: size and ASCII, title, version, then the seed."""
        if len(data) > 4096:
            raise MalformedError("a server key file is under 4 KiB")
        try:
            tokens = [t for t in re.split("[ \t\n\r\x0b\x0c]+", data.decode("ascii")) if t]
        except UnicodeDecodeError:
            raise MalformedError("the server key file is not ASCII text") from None
        title = SERVER_KEY_TITLE.split()
        if tokens[:4] != title[:4] or len(tokens) < 5:
            raise MalformedError("this is not an intake server signing key file")
        if tokens[4] != title[4]:
            raise UnsupportedVersionError("this server key file has a version this tool does not know")
        if len(tokens) != 6:
            raise MalformedError("a server key file is its title and one base64 seed")
        return cls(_b64decode(tokens[5], KEY_SIZE, "server key seed"))

    def __repr__(self) -> str:
        return f"ServerKey(fingerprint={self.public.fingerprint!r})"
