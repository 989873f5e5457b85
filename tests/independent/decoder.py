"""A second, independent decoder written from docs/FORMAT.md alone (never from crypto/).

Its only purpose is to check that the specification is complete: if this file and the reference
implementation disagree on a known-answer vector, the spec (or the vector) is wrong.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import itertools
import json
import re
import struct
import unicodedata
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from nacl import bindings as sodium
from nacl import exceptions as sodium_errors


class DecodeError(Exception):
    kind = "error"


class Malformed(DecodeError):
    kind = "malformed"


class UnsupportedVersion(DecodeError):
    kind = "unsupported-version"


class NotRecipient(DecodeError):
    kind = "not-recipient"


class Tampered(DecodeError):
    kind = "tampered"


class UnknownSigner(DecodeError):
    kind = "unknown-signer"


class WrongServer(DecodeError):
    kind = "wrong-server"


class WrongPassphrase(DecodeError):
    kind = "wrong-passphrase"


class WeakKdf(DecodeError):
    kind = "weak-kdf"


def blake2b(data: bytes, size: int) -> bytes:
    return hashlib.blake2b(data, digest_size=size).digest()


def _u32(data: bytes, at: int) -> int:
    return int(struct.unpack_from(">I", data, at)[0])


def _u64(data: bytes, at: int) -> int:
    return int(struct.unpack_from(">Q", data, at)[0])


def _magic_and_version(data: bytes, magic: bytes) -> None:
    # §1: a known magic with an unknown version is "unsupported version", never a guess.
    if len(data) < 5 or data[:4] != magic:
        raise Malformed("magic")
    if data[4] != 1:
        raise UnsupportedVersion(str(data[4]))


def _day(data: bytes, at: int) -> datetime.date:
    value = _u32(data, at)
    try:
        return datetime.date(value // 10000, value // 100 % 100, value % 100)
    except ValueError:
        raise Malformed("day") from None


# ---- §3 request payload -------------------------------------------------------------------

MAX_REQUEST_BYTES = 32768
THREAT_FROM = ("authorities", "family", "community", "partner", "other")
DOCUMENTS = ("internal_passport", "international_passport", "none", "confiscated")
ONE_OF = {
    "danger": ("immediate", "serious", "not_immediate"),
    "contact_method": ("signal", "telegram", "whatsapp", "email", "phone", "other"),
}
OPTIONAL_ONE_OF = {
    "detention": ("never", "past", "recent"),
    "location": ("chechnya", "north_caucasus", "russia_other", "outside_russia", "undisclosed"),
}
# (max characters, must hold something other than white space)
TEXT = {
    "health": (1000, False),
    "contact": (200, True),
    "safe_times": (200, False),
    "alias": (100, False),
    "story": (10000, True),
}
# §3 table, "required (default)": absent optional keys take these.
DEFAULTS: dict[str, Any] = {
    "threat_from": [],
    "detention": None,
    "location": None,
    "children": None,
    "documents": [],
    "health": "",
    "safe_times": "",
    "alias": "",
}
REQUIRED = ("schema", "locale", "submitted_on", "danger", "people", "contact_method", "contact", "story", "consent")
KEYS = frozenset(REQUIRED) | frozenset(DEFAULTS)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Malformed("duplicate key")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise Malformed("not JSON: " + name)


def _int_literal(text: str) -> int:
    if text == "-0":  # §3: refused
        raise Malformed("-0")
    return int(text)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ordered_subset(value: Any, choices: tuple[str, ...]) -> list[str]:
    """§3: a set, any order, repeats allowed; normalised to table order without repeats."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v in choices for v in value):
        raise Malformed("choice list")
    return [c for c in choices if c in value]


# §1: Unicode White_Space, exactly.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)


def _text(value: Any, limit: int, needs_content: bool) -> str:
    if not isinstance(value, str):
        raise Malformed("text")
    if needs_content and not value.strip(WHITE_SPACE):
        raise Malformed("empty text")
    if len(value) > limit:
        raise Malformed("text length")
    for ch in value:
        if ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise Malformed("control character")
    return value


def _json_object(data: bytes, limit: int) -> dict[str, Any]:
    """§3 steps 1-2."""
    if len(data) > limit:
        raise Malformed("too large")
    try:
        obj = json.loads(
            data.decode("utf-8"), object_pairs_hook=_pairs, parse_constant=_no_constants, parse_int=_int_literal
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Malformed("not JSON") from None
    if not isinstance(obj, dict):
        raise Malformed("not an object")
    return obj


def _date_text(day: Any) -> None:
    if not isinstance(day, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day):
        raise Malformed("day")
    try:
        datetime.date(int(day[:4]), int(day[5:7]), int(day[8:]))
    except ValueError:
        raise Malformed("day") from None


def _locale(value: Any) -> None:
    if not isinstance(value, str) or not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?", value):
        raise Malformed("locale")


def _reply_key(value: Any) -> None:
    """§3.1: canonical base64 (44 characters, unused bits zero) of 32 bytes not of small order (§5)."""
    if not isinstance(value, str) or len(value) != 44:
        raise Malformed("reply_key")
    raw = _b64(value, 32)
    if base64.b64encode(raw).decode() != value or raw[:31] + bytes([raw[31] & 0x7F]) in SMALL_ORDER:
        raise Malformed("reply_key")


FOLLOWUP_KEYS = frozenset({"schema", "kind", "locale", "submitted_on", "reply_key", "message"})
ENTRY_KEYS = frozenset({"blob", "key", "name", "type", "size", "sha256", "blob_size", "blob_sha256"})
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _sanitised(name: str) -> str:
    """§13.3's procedure, written from the text."""
    name = name.replace("\\", "/").split("/")[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(" " if c.isspace() else c for c in name)
    name = "".join(c for c in name if unicodedata.category(c) not in _DROPPED)
    name = " ".join(name.split())[:120]
    name = unicodedata.normalize("NFC", name).strip()
    return "file" if name in ("", ".", "..") else name


def _stored_size(n: int) -> int:
    length = n + 8
    exponent = length.bit_length() - 1
    step = 1 << (exponent - exponent.bit_length())
    stream = -(-length // step) * step
    return 29 + stream + 17 * -(-stream // 65536)


def _files(value: Any) -> None:
    """§13.3: the manifest of the files sent with a payload."""
    if not isinstance(value, list) or not 1 <= len(value) <= 5:
        raise Malformed("files")
    blobs = set()
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != ENTRY_KEYS:
            raise Malformed("files")
        for key, digits in (("blob", 32), ("key", 64), ("sha256", 64), ("blob_sha256", 64)):
            if not isinstance(entry[key], str) or not re.fullmatch(f"[0-9a-f]{{{digits}}}", entry[key]):
                raise Malformed("files")
        name, claimed = entry["name"], entry["type"]
        if not isinstance(name, str) or not 1 <= len(name) <= 120 or _sanitised(name) != name:
            raise Malformed("files")
        if not isinstance(claimed, str) or len(claimed) > 100 or not re.fullmatch(r"[\x20-\x7e]*", claimed) or (
                claimed != claimed.strip()):  # fmt: skip
            raise Malformed("files")
        size = entry["size"]
        if not _is_int(size) or not 0 <= size <= 1 << 31 or entry["blob_size"] != _stored_size(size) or (
                not _is_int(entry["blob_size"])):  # fmt: skip
            raise Malformed("files")
        blobs.add(entry["blob"])
    if len(blobs) != len(value):
        raise Malformed("files")


def decode_request(data: bytes) -> dict[str, Any]:
    """§3: returns the normalised payload (every key present): a request or a follow-up."""
    obj = _json_object(data, MAX_REQUEST_BYTES)
    schema = obj.get("schema")
    if not _is_int(schema):
        raise Malformed("schema")
    if schema not in (1, 2, 3):  # §3 step 3
        raise UnsupportedVersion("schema")
    if schema == 3:
        return _schema_3(obj)
    kind = obj.get("kind") if schema == 2 else "request"
    if kind not in ("request", "followup"):  # §3 step 4
        raise Malformed("kind")
    if kind == "followup":
        if set(obj) - {"files"} != FOLLOWUP_KEYS:  # §3.2: no key outside the table, every key but files required
            raise Malformed("keys")
        if "files" in obj:
            _files(obj["files"])
        _locale(obj["locale"])
        _date_text(obj["submitted_on"])
        _reply_key(obj["reply_key"])
        _text(obj["message"], 4000, True)
        return obj
    keys = KEYS | {"kind", "reply_key", "files"} if schema == 2 else KEYS
    required = (*REQUIRED, "kind", "reply_key") if schema == 2 else REQUIRED
    if not keys.issuperset(obj) or not all(k in obj for k in required):
        raise Malformed("keys")
    # §3: null for an optional key is the key absent; "" is absent for detention and location only.
    present = {k: v for k, v in obj.items() if not (v is None and k in DEFAULTS)}
    req = {**DEFAULTS, **present}
    for key in OPTIONAL_ONE_OF:
        if req[key] == "":
            req[key] = None
    if schema == 2:
        _reply_key(req["reply_key"])
        if "files" in req:
            _files(req["files"])
    _locale(req["locale"])
    _date_text(req["submitted_on"])
    for key, choices in ONE_OF.items():
        if req[key] not in choices:
            raise Malformed(key)
    for key, choices in OPTIONAL_ONE_OF.items():
        if req[key] is not None and req[key] not in choices:
            raise Malformed(key)
    req["threat_from"] = _ordered_subset(req["threat_from"], THREAT_FROM)
    req["documents"] = _ordered_subset(req["documents"], DOCUMENTS)
    people, children = req["people"], req["children"]
    if not _is_int(people) or not 1 <= people <= 20:
        raise Malformed("people")
    if children is not None and (not _is_int(children) or not 0 <= children <= min(20, people)):
        raise Malformed("children")
    for key, (limit, needs_content) in TEXT.items():
        req[key] = _text("" if req[key] is None else req[key], limit, needs_content)
    if req["consent"] is not True:
        raise Malformed("consent")
    return req


SCHEMA_3_KEYS = frozenset({"schema", "kind", "locale", "submitted_on", "reply_key", "questionnaire", "answers"})
RESERVED = frozenset({
    "csrf_token", "submission", "lang", "receipt", "message", "schema", "kind", "locale", "submitted_on",
    "reply_key", "questionnaire", "answers", "attachments", "consent_text",
})  # fmt: skip
PLAIN_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _schema_3(obj: dict[str, Any]) -> dict[str, Any]:
    """§12.4, the shape every schema 3 payload has (read before the questionnaire it names is known)."""
    if obj.get("kind") != "request" or set(obj) - {"files"} != SCHEMA_3_KEYS:
        raise Malformed("keys")
    _locale(obj["locale"])
    _date_text(obj["submitted_on"])
    _reply_key(obj["reply_key"])
    ref = obj["questionnaire"]
    if not isinstance(ref, dict) or set(ref) != {"id", "version", "sha256"}:
        raise Malformed("questionnaire")
    if not isinstance(ref["id"], str) or not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", ref["id"]):
        raise Malformed("questionnaire id")
    if not _is_int(ref["version"]) or not 1 <= ref["version"] <= 1_000_000:
        raise Malformed("questionnaire version")
    if not isinstance(ref["sha256"], str) or not re.fullmatch(r"[0-9a-f]{64}", ref["sha256"]):
        raise Malformed("questionnaire hash")
    answers = obj["answers"]
    if not isinstance(answers, dict) or len(answers) > 80:
        raise Malformed("answers")
    for key, value in answers.items():
        if not PLAIN_ID.fullmatch(key) or key in RESERVED:
            raise Malformed("field id")
        if value is None or value is True:
            continue
        if _is_int(value):
            if not -1_000_000 <= value <= 1_000_000:
                raise Malformed("number")
        elif isinstance(value, str):
            _text(value, 20000, False)
        elif isinstance(value, list):
            if len(value) > 40 or len(set(map(str, value))) != len(value):
                raise Malformed("choices")
            if not all(isinstance(v, str) and PLAIN_ID.fullmatch(v) for v in value):
                raise Malformed("choice id")
        else:
            raise Malformed("answer")  # false, a fraction, an object
    return obj


def canonical(request: dict[str, Any]) -> bytes:
    return json.dumps(request, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


# ---- §4 envelope --------------------------------------------------------------------------

MAX_PAYLOAD = 1_048_576


def padded_size(length: int) -> int:
    if not 0 <= length <= MAX_PAYLOAD:
        raise Malformed("payload length")
    if length <= MAX_REQUEST_BYTES:
        return MAX_REQUEST_BYTES
    e = length.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


def open_envelope(data: bytes, box_sk: bytes) -> bytes:
    """§4.4: returns the payload bytes (the caller decodes them per §3)."""
    if len(data) < 5 or data[:4] != b"ITKE":
        raise Malformed("magic")
    version = data[4]
    if version not in (1, 2):
        raise UnsupportedVersion(str(version))
    if len(data) < 10:
        raise Malformed("short")
    n, p = data[5], _u32(data, 6)
    if not 1 <= n <= 16 or not MAX_REQUEST_BYTES <= p <= MAX_PAYLOAD:
        raise Malformed("header")
    commitment_size = 32 if version == 2 else 0
    head = 34 + 80 * n + commitment_size
    if len(data) != head + 4 + p + 16:
        raise Malformed("length")
    box_pk = sodium.crypto_scalarmult_base(box_sk)
    key = None
    for i in range(n):
        stanza = data[10 + 80 * i : 90 + 80 * i]
        try:
            opened = sodium.crypto_box_seal_open(stanza, box_pk, box_sk)
        except sodium_errors.CryptoError:
            continue
        if len(opened) == 32:
            key = opened
            break
    if key is None:
        raise NotRecipient()
    commitment = data[10 + 80 * n : 10 + 80 * n + commitment_size]
    label = b"intake envelope key commitment v2"
    if version == 2 and commitment != hashlib.blake2b(label, digest_size=32, key=key).digest():
        raise Tampered("key commitment")
    try:
        plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(data[head:], data[:head], data[head - 24 : head], key)
    except sodium_errors.CryptoError:
        raise Tampered("envelope") from None
    length = _u32(plain, 0)
    if length > p or padded_size(length) != p or any(plain[4 + length :]):
        raise Malformed("padding")
    return plain[4 : 4 + length]


# ---- §5 public key file -------------------------------------------------------------------

TITLE = "intake caseworker public key"
# §5: the X25519 points of small order, with the top bit cleared (readers ignore it).
SMALL_ORDER = {
    bytes.fromhex(h)
    for h in (
        "00" * 32,
        "01" + "00" * 31,
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ec" + "ff" * 30 + "7f",
        "ed" + "ff" * 30 + "7f",
        "ee" + "ff" * 30 + "7f",
    )
}
FIELDS = ("name", "encryption", "signing", "fingerprint", "self-signature")


@dataclass(frozen=True)
class PublicKey:
    name: str
    box_pk: bytes
    sign_pk: bytes


def _b64(text: str, size: int) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("base64") from None
    if len(raw) != size:
        raise Malformed("key size")
    return raw


def caseworker_fingerprint(box_pk: bytes, sign_pk: bytes) -> bytes:
    return blake2b(b"intake fingerprint v1\x00caseworker\x00" + box_pk + sign_pk, 16)


def _parse_fingerprint(text: str) -> bytes:
    digits = re.sub(r"[ \t:-]", "", text).lower()
    if not re.fullmatch(r"[0-9a-f]{32}", digits):
        raise Malformed("fingerprint")
    return bytes.fromhex(digits)


def _name(text: str) -> bytes:
    name = unicodedata.normalize("NFC", text.strip(WHITE_SPACE))
    raw = name.encode("utf-8")
    if not 1 <= len(name) <= 64 or len(raw) > 255:
        raise Malformed("name length")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in name):
        raise Malformed("name character")
    return raw


def read_public_key(data: bytes) -> PublicKey:
    if len(data) > 4096:
        raise Malformed("too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not UTF-8") from None
    # §5: LF-separated; a trailing CR and spaces or tabs at either end removed; then "#" lines skipped.
    lines = [ln.strip(" \t\r") for ln in text.split("\n")]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines or lines[0] != TITLE + " v1":
        if lines and lines[0].startswith(TITLE):
            raise UnsupportedVersion("public key")
        raise Malformed("title")
    if len(lines) != 6:
        raise Malformed("line count")
    values = []
    for field, line in zip(FIELDS, lines[1:], strict=True):
        label, sep, value = line.partition(":")
        if not sep or label != field:
            raise Malformed("field")
        values.append(value.strip(" \t"))
    name = _name(values[0])
    box_pk, sign_pk = _b64(values[1], 32), _b64(values[2], 32)
    fingerprint = _parse_fingerprint(values[3])
    signature = _b64(values[4], 64)
    if box_pk[:31] + bytes([box_pk[31] & 0x7F]) in SMALL_ORDER:
        raise Malformed("small-order key")
    if fingerprint != caseworker_fingerprint(box_pk, sign_pk):
        raise Tampered("fingerprint")
    message = b"intake public key v1\x00" + bytes([len(name)]) + name + box_pk + sign_pk
    _verify(signature, message, sign_pk)
    return PublicKey(name.decode(), box_pk, sign_pk)


def _verify(signature: bytes, message: bytes, public: bytes) -> None:
    try:
        sodium.crypto_sign_open(signature + message, public)
    except (sodium_errors.BadSignatureError, sodium_errors.CryptoError, ValueError):
        raise Tampered("signature") from None


# ---- §6 private key file ------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateKey:
    secret: bytes  # the decrypted `secret` field, exactly as §6 lays it out
    box_sk: bytes
    sign_seed: bytes
    name: str


def read_private_key(
    data: bytes, passphrase: str, *, floor: tuple[int, int] = (3, 262144), max_memory_kib: int = 1_048_576
) -> PrivateKey:
    """§6 steps 1-8. ``floor`` is the reader's (t, m KiB) floor; max_memory_kib lets a property test
    refuse costly (but legal) headers early."""
    _magic_and_version(data, b"ITKS")
    if len(data) < 6:
        raise Malformed("no kdf id")
    if data[5] != 1:
        raise UnsupportedVersion("kdf")  # §6: an unknown KDF id is unsupported version
    if len(data) < 14:
        raise Malformed("cost cut short")
    t, m = _u32(data, 6), _u32(data, 10)
    if not 1 <= t <= 16 or not 8 <= m <= min(1_048_576, max_memory_kib):
        raise Malformed("kdf cost")
    if t < floor[0] or m < floor[1]:
        raise WeakKdf()
    if len(data) < 54 + 16 + 66:
        raise Malformed("short")
    password = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    if not password:
        raise WrongPassphrase("empty")
    key = sodium.crypto_pwhash_alg(32, password, data[14:30], t, m * 1024, sodium.crypto_pwhash_ALG_ARGON2ID13)
    try:
        secret = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(data[54:], data[:54], data[30:54], key)
    except sodium_errors.CryptoError:
        raise WrongPassphrase() from None
    if len(secret) < 65 or len(secret) != 65 + secret[64]:
        raise Malformed("secret")
    try:
        name = secret[65:].decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("name") from None
    if _name(name) != secret[65:]:  # the §5 rules, and stored already trimmed and NFC
        raise Malformed("name not normalised")
    return PrivateKey(secret, secret[:32], secret[32:64], name)


# ---- §7 server signing key file -----------------------------------------------------------


def read_server_key(data: bytes) -> bytes:
    """§7 in its order; returns the Ed25519 public key of the seed."""
    if len(data) > 4096:
        raise Malformed("size")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise Malformed("ascii") from None
    tokens = [t for t in re.split(r"[ \t\n\x0b\x0c\r]+", text) if t]
    if len(tokens) < 5 or tokens[:4] != ["intake", "server", "signing", "key"]:
        raise Malformed("title")
    if tokens[4] != "v1":
        raise UnsupportedVersion(tokens[4])
    if len(tokens) != 6:
        raise Malformed("tokens")
    seed = _b64(tokens[5], 32)
    public, _ = sodium.crypto_sign_seed_keypair(seed)
    return bytes(public)


# ---- §8 signed containers -----------------------------------------------------------------


def _container_signature(data: bytes, signer: bytes) -> None:
    body, signature = data[:-64], data[-64:]
    _verify(signature, b"intake signed container v1\x00" + blake2b(body, 64), signer)


@dataclass(frozen=True)
class BundleEntry:
    entry_id: bytes
    serial: int
    envelope: bytes
    sealed_to: bytes = b""  # k × 16-byte fingerprints (version 2)


@dataclass(frozen=True)
class Bundle:
    recipients: list[tuple[bytes, bytes, str]]  # (box_pk, sign_pk, name); empty for version 1
    entries: list[BundleEntry]
    delivered: bytes = b""  # version 3: the confirmed reply digests, 32 bytes each
    former: list[tuple[bytes, bytes, str]] = dataclass_field(default_factory=list)  # version 4: removed keys
    questionnaires: list[bytes] = dataclass_field(default_factory=list)  # version 5: canonical texts
    blobs: list[tuple[bytes, bytes]] = dataclass_field(default_factory=list)  # version 5: (blob_id, sealed file)


def _recipient_set(data: bytes, at: int, end: int, least: int = 1) -> tuple[list[tuple[bytes, bytes, str]], int]:
    """§8.1 version 2: the recipient set starting at ``at``; returns it and the offset after it."""
    if at >= end or not least <= data[at] <= 64:
        raise Malformed("recipient count")
    count, at = data[at], at + 1
    found: list[tuple[bytes, bytes, str]] = []
    for _ in range(count):
        if at + 65 > end or at + 65 + data[at + 64] > end:
            raise Malformed("recipient cut short")
        box_pk, sign_pk, size = data[at : at + 32], data[at + 32 : at + 64], data[at + 64]
        raw = data[at + 65 : at + 65 + size]
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("recipient name") from None
        if _name(name) != raw:  # must already be normalised
            raise Malformed("recipient name not normalised")
        if box_pk[:31] + bytes([box_pk[31] & 0x7F]) in SMALL_ORDER:
            raise Malformed("recipient small-order key")
        found.append((box_pk, sign_pk, name))
        at += 65 + size
    if len({(b, s) for b, s, _ in found}) != count or len({n for _, _, n in found}) != count:
        raise Malformed("recipient twice")
    return found, at


def read_bundle(data: bytes, pinned_server: bytes) -> Bundle:
    """§8.1 in the order §8 states: size and magic, version, signature, signer, structure."""
    if len(data) < 61 + 64:
        raise Malformed("short")
    if data[:4] != b"ITKB":
        raise Malformed("magic")
    version = data[4]
    if version not in (1, 2, 3, 4, 5):
        raise UnsupportedVersion(str(version))
    signer = data[5:37]
    end = len(data) - 64
    if version == 5:  # the signature covers the part before the blob records and the blob table after them
        end, tail = _blob_table(data)
        _verify(data[-64:], b"intake signed container v1\x00" + blake2b(data[:end] + tail, 64), signer)
    else:
        _container_signature(data, signer)
    if signer != pinned_server:
        raise UnknownSigner()
    sequence, high_water, count = _u64(data, 37), _u64(data, 45), _u32(data, 57)
    _day(data, 53)
    if sequence < 1 or count > 1_000_000:
        raise Malformed("header")
    at, last_serial = 61, 0
    recipients: list[tuple[bytes, bytes, str]] = []
    delivered = b""
    former: list[tuple[bytes, bytes, str]] = []
    if version >= 2:
        recipients, at = _recipient_set(data, at, end)
    if version >= 3:
        if at + 4 > end:
            raise Malformed("confirmed count")
        number = _u32(data, at)
        if number > 1_000_000 or at + 4 + 32 * number > end:
            raise Malformed("confirmed replies")
        delivered, at = data[at + 4 : at + 4 + 32 * number], at + 4 + 32 * number
        digests = [delivered[i : i + 32] for i in range(0, len(delivered), 32)]
        if any(a >= b for a, b in itertools.pairwise(digests)):
            raise Malformed("confirmed order")
    if version >= 4:
        former, at = _recipient_set(data, at, end, least=1 if version == 4 else 0)
    questionnaires: list[bytes] = []
    if version == 5:
        questionnaires, at = _questionnaires(data, at, end)
    fingerprints = {caseworker_fingerprint(b, s) for b, s, _ in recipients}
    if any(caseworker_fingerprint(b, s) in fingerprints for b, s, _ in former):
        raise Malformed("a key both current and former")
    fingerprints |= {caseworker_fingerprint(b, s) for b, s, _ in former}
    entries: list[BundleEntry] = []
    for _ in range(count):
        if at + 24 > end:
            raise Malformed("entry header")
        entry_id, serial = data[at : at + 16], _u64(data, at + 16)
        at += 24
        sealed_to = b""
        if version >= 2:
            if at >= end or not 1 <= data[at] <= 16:
                raise Malformed("sealed_to count")
            k = data[at]
            sealed_to, at = data[at + 1 : at + 1 + 16 * k], at + 1 + 16 * k
        if at + 4 > end:
            raise Malformed("entry header")
        length = _u32(data, at)
        if not last_serial < serial <= high_water or not 1 <= length <= 1_049_942:
            raise Malformed("entry")
        if at + 4 + length > end:
            raise Malformed("entry length")
        envelope = data[at + 4 : at + 4 + length]
        if version >= 2:
            named = [sealed_to[i : i + 16] for i in range(0, len(sealed_to), 16)]
            if len(set(named)) != len(named) or not fingerprints.issuperset(named):
                raise Malformed("sealed_to")
            if len(envelope) < 6 or envelope[5] != len(named):
                raise Malformed("sealed_to count vs envelope")
        entries.append(BundleEntry(entry_id, serial, envelope, sealed_to))
        at, last_serial = at + 4 + length, serial
    if at != end:
        raise Malformed("trailing bytes")
    if len({e.entry_id for e in entries}) != len(entries):
        raise Malformed("duplicate id")
    blobs: list[tuple[bytes, bytes]] = []
    if version == 5:
        blobs = _blobs(data, end, _blob_table(data)[1])
    return Bundle(recipients, entries, delivered, former, questionnaires, blobs)


def _blob_table(data: bytes) -> tuple[int, bytes]:
    """§8.1 version 5: where the blob records start, and the signed table (rows and count) at the end."""
    if len(data) < 61 + 4 + 64:
        raise Tampered("short")
    count = _u32(data, len(data) - 68)
    table_start = len(data) - 68 - 56 * count
    if count > 1_000_000 or table_start < 61:
        raise Tampered("blob table")
    tail = data[table_start : len(data) - 64]
    total = sum(24 + _u64(tail, at + 16) for at in range(0, 56 * count, 56))
    if table_start - total < 61:
        raise Tampered("blob records")
    return table_start - total, tail


def _questionnaires(data: bytes, at: int, end: int) -> tuple[list[bytes], int]:
    """§8.1 version 5: u16 count ≤ 256, each u32 length 1..65,536 and canonical JSON, increasing SHA-256."""
    if at + 2 > end:
        raise Malformed("questionnaire count")
    count, at = int.from_bytes(data[at : at + 2], "big"), at + 2
    if count > 256:
        raise Malformed("questionnaire count")
    found = []
    for _ in range(count):
        if at + 4 > end:
            raise Malformed("questionnaire length")
        length = _u32(data, at)
        if not 1 <= length <= 65_536 or at + 4 + length > end:
            raise Malformed("questionnaire length")
        text = data[at + 4 : at + 4 + length]
        try:
            value = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Malformed("questionnaire not JSON") from None
        again = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
        if not isinstance(value, dict) or again.encode("utf-8") != text:
            raise Malformed("questionnaire not canonical")
        found.append(text)
        at += 4 + length
    digests = [hashlib.sha256(t).digest() for t in found]
    if any(x >= y for x, y in itertools.pairwise(digests)):
        raise Malformed("questionnaire order")
    return found, at


def _blobs(data: bytes, at: int, tail: bytes) -> list[tuple[bytes, bytes]]:
    """§8.1 version 5: the table's ids strictly increasing and sizes 54..2,215,167,005 (malformed); then each
    record's id and size the table's, and its bytes of the table's SHA-256 (else tampered: records are unsigned)."""
    rows = [(tail[r : r + 16], _u64(tail, r + 16), tail[r + 24 : r + 56]) for r in range(0, len(tail) - 4, 56)]
    for n, (blob_id, size, _) in enumerate(rows):
        if (n and blob_id <= rows[n - 1][0]) or not 54 <= size <= 2_215_167_005:
            raise Malformed("blob table")
    found = []
    for blob_id, size, digest in rows:
        if data[at : at + 24] != blob_id + size.to_bytes(8, "big"):
            raise Tampered("blob record")
        blob = data[at + 24 : at + 24 + size]
        if hashlib.sha256(blob).digest() != digest:
            raise Tampered("blob bytes")
        found.append((blob_id, blob))
        at += 24 + size
    return found



@dataclass(frozen=True)
class Ack:
    signer: bytes
    server: bytes
    bundle_sequence: int
    created_on: datetime.date
    entries: bytes  # count × (entry_id[16] || digest[32])
    replies: bytes  # replies × (mailbox[32] || container[16,441]), empty for version 1


def read_ack(data: bytes, server: bytes, caseworkers: list[bytes]) -> Ack:
    """§8.2 in the order §8 states: size and magic, version, signature, signer, server, structure."""
    if len(data) < 101 + 64:
        raise Malformed("short")
    if data[:4] != b"ITKA":
        raise Malformed("magic")
    if data[4] not in (1, 2):
        raise UnsupportedVersion(str(data[4]))
    signer = data[5:37]
    _container_signature(data, signer)
    if signer not in caseworkers:
        raise UnknownSigner()
    if data[37:69] != server:
        raise WrongServer()
    created_on = _day(data, 93)
    count = _u32(data, 97)
    version = data[4]
    if count > 1_000_000:
        raise Malformed("count")
    end = 101 + 48 * count
    if (version == 1 and len(data) != end + 64) or (version == 2 and len(data) < end + 4 + 64):
        raise Malformed("length")
    ids = [data[101 + 48 * i : 117 + 48 * i] for i in range(count)]
    if any(a >= b for a, b in itertools.pairwise(ids)):
        raise Malformed("entry order")
    replies = b""
    if version == 2:
        reply_count = _u32(data, end)
        if reply_count > 1000 or len(data) != end + 4 + 16473 * reply_count + 64:
            raise Malformed("replies")
        replies = data[end + 4 : -64]
        if any(replies[16473 * i + 32 : 16473 * i + 37] not in (b"ITKR\x01", b"ITKR\x02") for i in range(reply_count)):
            raise Malformed("reply container")
    return Ack(signer, data[37:69], _u64(data, 69), created_on, data[101:end], replies)


# ---- §10 reply keys -----------------------------------------------------------------------


def reply_keys(digits: str, reply_secret: bytes) -> tuple[bytes, bytes, bytes]:
    """§10: (reply_sk, reply_pk, mailbox)."""
    if not re.fullmatch(r"[0-9]{30}", digits, flags=re.ASCII) or len(reply_secret) != 32:
        raise Malformed("receipt digits")
    sk = hashlib.blake2b(b"intake reply key v1\x00" + digits.encode(), digest_size=32, key=reply_secret).digest()
    pk = sodium.crypto_scalarmult_base(sk)
    return sk, pk, blake2b(b"intake mailbox v1\x00" + pk, 32)


# ---- §11 reply container ------------------------------------------------------------------


def open_reply(data: bytes, reply_sk: bytes) -> dict[str, Any]:
    """§11 in its order; returns the reply object (text, written_on, and seq in version 2)."""
    if len(data) < 5 or data[:4] != b"ITKR":
        raise Malformed("magic")
    if data[4] not in (1, 2):
        raise UnsupportedVersion(str(data[4]))
    if len(data) != 16441:
        raise Malformed("length")
    try:
        plain = sodium.crypto_box_seal_open(data[5:], sodium.crypto_scalarmult_base(reply_sk), reply_sk)
    except sodium_errors.CryptoError:
        raise NotRecipient() from None
    length = _u32(plain, 0)
    if length > 16384 or any(plain[4 + length :]):
        raise Malformed("padding")
    obj = _json_object(plain[4 : 4 + length], 16384)
    if set(obj) != ({"text", "written_on"} if data[4] == 1 else {"seq", "text", "written_on"}):
        raise Malformed("keys")
    if data[4] == 2 and (type(obj["seq"]) is not int or not 1 <= obj["seq"] <= 1_000_000):
        raise Malformed("seq")
    _text(obj["text"], 4000, True)
    _date_text(obj["written_on"])
    return obj
