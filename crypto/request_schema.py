"""The request payload (schemas 1 and 2) and its one canonical encoding: the exact bytes that get sealed.

Schema 2 adds ``kind: "request"`` and ``reply_key`` (the requester's X25519 reply key, base64); a schema 1
request has neither and means "no reply possible". Schema 1 stays readable and encodable.

Both the server (which encodes) and the laptop (which decodes) use this module, so the two can never
disagree on a field. The encoding is compact JSON with sorted keys in UTF-8; every field is present in
its normalised form (see ``encode_request``). Text bounds are in characters, as the form shows them;
the encoded size is bounded too, by ``MAX_REQUEST_BYTES``, the fixed padding bucket of the envelope.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any

from crypto.errors import (
    MalformedError,
    RequestInvalidError,
    RequestTooLargeError,
    UnsupportedVersionError,
)
from crypto.manifest import MANIFEST_WORST_BYTES, normalize_manifest
from crypto.reply_keys import ReplyPublicKey
from crypto.text import is_blank

SCHEMA_VERSION = 2  # what new requests use; READABLE_SCHEMAS are all a reader accepts
READABLE_SCHEMAS = (1, 2, 3)  # 3: answers keyed by the ids of the questionnaire it names (crypto.answers)
PAYLOAD_KINDS = ("request", "followup")
# Every request the form accepts pads to this one size, so ciphertext length says nothing about it.
# 10,000 Cyrillic characters are ~20 KB of UTF-8; 32 KiB holds them with every other field at its bound.
MAX_REQUEST_BYTES = 32768

DANGER = ("immediate", "serious", "not_immediate")
THREAT_FROM = ("authorities", "family", "community", "partner", "other")
DETENTION = ("never", "past", "recent")
LOCATION = ("chechnya", "north_caucasus", "russia_other", "outside_russia", "undisclosed")
DOCUMENTS = ("internal_passport", "international_passport", "none", "confiscated")
CONTACT_METHOD = ("signal", "telegram", "whatsapp", "email", "phone", "other")
TEXT_LIMITS = {"health": 1000, "contact": 200, "safe_times": 200, "alias": 100, "story": 10000}
PEOPLE_RANGE = (1, 20)
CHILDREN_RANGE = (0, 20)

REQUEST_FIELDS = (
    "danger", "threat_from", "detention", "location", "people", "children", "documents",
    "health", "contact_method", "contact", "safe_times", "alias", "story", "consent",
)  # fmt: skip
META_FIELDS = ("schema", "locale", "submitted_on")
V2_FIELDS = ("kind", "reply_key")
# Optional in schema 2 (and 3, and follow-ups): the manifest of the files sent with it (crypto.manifest).
FILES_FIELD = "files"

_ONE_OF: dict[str, tuple[tuple[str, ...], bool]] = {
    "danger": (DANGER, True),
    "detention": (DETENTION, False),
    "location": (LOCATION, False),
    "contact_method": (CONTACT_METHOD, True),
}
_ANY_OF = {"threat_from": THREAT_FROM, "documents": DOCUMENTS}
_REQUIRED_TEXT = {"contact", "story"}
_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")
# Unicode categories Cc (C0, DEL, C1) and Cs (surrogates), less tab, line feed and carriage return.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _one_of(field: str, value: Any) -> str | None:
    choices, required = _ONE_OF[field]
    if value is None or value == "":
        if required:
            raise RequestInvalidError(field, "required")
        return None
    if not isinstance(value, str) or value not in choices:
        raise RequestInvalidError(field, "not_a_choice")
    return value


def _any_of(field: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RequestInvalidError(field, "not_a_list")
    choices = _ANY_OF[field]
    if any(v not in choices for v in value):
        raise RequestInvalidError(field, "not_a_choice")
    return [c for c in choices if c in value]


def _integer(field: str, value: Any, bounds: tuple[int, int], required: bool) -> int | None:
    if value is None:
        if required:
            raise RequestInvalidError(field, "required")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestInvalidError(field, "not_an_integer")
    if not bounds[0] <= value <= bounds[1]:
        raise RequestInvalidError(field, "out_of_range")
    return value


def check_text(field: str, value: Any, *, limit: int, required: bool) -> str:
    """A free-text field: ``limit`` characters, no control character but tab, LF and CR."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RequestInvalidError(field, "not_text")
    if required and is_blank(value):
        raise RequestInvalidError(field, "required")
    if len(value) > limit:
        raise RequestInvalidError(field, "too_long")
    if _has_forbidden_character(value):
        raise RequestInvalidError(field, "control_character")
    return value


def _has_forbidden_character(value: str) -> bool:
    if _CLEAN_TEXTS.get(id(value)) is value:
        return False
    return FORBIDDEN_CHARACTERS.search(value) is not None


# The texts of the payload ``decode_request`` parsed last, when its bytes show that none can hold a forbidden
# character (``_plainly_clean``), by identity: each is kept with its id, so that id cannot name another text
# while it is here, and a text never changes. Searching a story costs more than the rest of its checks; a
# schema 3 answer is checked twice (by shape when its envelope is opened, then against its questionnaire,
# crypto.answers.normalize_answers), and neither searches it. Filled only where envelopes are opened (the
# laptop): the server, which never decodes a payload, keeps no text here.
_CLEAN_TEXTS: dict[int, str] = {}
_CLEAN_TEXTS_MAX = 256
# What could put a forbidden character in a string of JSON text that json.loads accepts: it refuses a raw C0
# control inside a string; a surrogate can only be written as an escape (UTF-8 cannot hold one). So: DEL, a C1
# control (U+0080-U+009F: C2 80 to C2 9F in UTF-8), or an escape for \b, \f or \uXXXX (found among others,
# such as an escaped backslash before a "u": the texts are then searched, as always).
_RAW_C1 = re.compile(b"\xc2[\x80-\x9f]")
_ESCAPES_OF_FORBIDDEN = re.compile(rb"\\[bfu]")


def _plainly_clean(data: bytes) -> bool:
    # Each test a search for one byte first (memchr speed): a few microseconds for a story of 10,000 characters.
    if b"\\" in data and _ESCAPES_OF_FORBIDDEN.search(data) is not None:
        return False
    return b"\x7f" not in data and (b"\xc2" not in data or _RAW_C1.search(data) is None)


def _remember_clean_texts(data: bytes, payload: dict[str, Any]) -> None:
    """Keep the payload's texts (its own and its answers') as searched, if its bytes can hold no forbidden one."""
    if not _plainly_clean(data):
        return
    texts = [v for v in payload.values() if v.__class__ is str]
    answers = payload.get("answers")
    if answers.__class__ is dict:
        texts += [v for v in answers.values() if v.__class__ is str]
    if len(_CLEAN_TEXTS) + len(texts) > _CLEAN_TEXTS_MAX:
        _CLEAN_TEXTS.clear()
    for text in texts:
        _CLEAN_TEXTS[id(text)] = text


def _text(field: str, value: Any) -> str:
    return check_text(field, value, limit=TEXT_LIMITS[field], required=field in _REQUIRED_TEXT)


def check_locale(value: Any) -> str:
    if not isinstance(value, str) or not _LOCALE.fullmatch(value):
        raise RequestInvalidError("locale", "not_a_locale")
    return value


def check_reply_key(value: Any) -> str:
    """The ``reply_key`` field: canonical base64 of an X25519 key that is not of small order."""
    try:
        return ReplyPublicKey.from_b64(value).to_b64()
    except MalformedError:
        raise RequestInvalidError("reply_key", "not_a_key") from None


def check_schema(payload: Mapping[str, Any]) -> int:
    """``schema`` first (an unknown one is UnsupportedVersionError), then, in schema 2, ``kind``."""
    if not isinstance(payload, Mapping):
        raise MalformedError("a payload is a mapping of field names to values")
    schema = payload.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise RequestInvalidError("schema", "required")
    if schema not in READABLE_SCHEMAS:
        # Checked before unknown keys: a newer schema is expected to bring keys we do not know.
        raise UnsupportedVersionError(f"payload schema {schema} is not supported")
    if schema >= 2 and payload.get("kind") not in PAYLOAD_KINDS:
        raise RequestInvalidError("kind", "not_a_choice")
    return schema


def payload_kind(payload: Mapping[str, Any]) -> str:
    """``"request"`` or ``"followup"``: what a decoded payload is. A schema 1 payload is a request."""
    return "request" if check_schema(payload) == 1 else str(payload["kind"])


def day_field(value: Any) -> str:
    if value.__class__ is str and value in _DAYS:  # most requests of a queue were sent on a few hundred days
        return value
    if isinstance(value, datetime.datetime):
        raise RequestInvalidError("submitted_on", "not_a_day")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
        else:
            if day == value and value.__class__ is str and len(_DAYS) < _DAYS_MAX:
                _DAYS.add(value)
            return day
    raise RequestInvalidError("submitted_on", "not_a_day")


_DAYS: set[str] = set()  # texts day_field found to be days written as they are written back
_DAYS_MAX = 20_000


def check_known_fields(payload: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(payload) - set(allowed), key=str)
    if unknown:
        raise RequestInvalidError(str(unknown[0])[:40], "unknown_field")


def normalize_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``request`` against schema 1 or 2 (or the shape of schema 3) and return it in normalised form."""
    schema = check_schema(request)
    if schema == 3:
        from crypto.answers import normalize_questionnaire_payload  # answers builds on this module

        return normalize_questionnaire_payload(request)
    if schema >= 2 and request["kind"] != "request":
        raise MalformedError("this payload is a follow-up, not a request")
    check_known_fields(request, REQUEST_FIELDS + META_FIELDS + ((*V2_FIELDS, FILES_FIELD) if schema >= 2 else ()))
    out: dict[str, Any] = {"schema": schema, "locale": check_locale(request.get("locale"))}
    if schema >= 2:
        out["kind"] = "request"
        out["reply_key"] = check_reply_key(request.get("reply_key"))
    out["submitted_on"] = day_field(request.get("submitted_on"))
    for field in _ONE_OF:
        out[field] = _one_of(field, request.get(field))
    for field in _ANY_OF:
        out[field] = _any_of(field, request.get(field))
    out["people"] = _integer("people", request.get("people"), PEOPLE_RANGE, required=True)
    out["children"] = _integer("children", request.get("children"), CHILDREN_RANGE, required=False)
    if out["children"] is not None and out["children"] > out["people"]:
        raise RequestInvalidError("children", "more_than_people")
    for field in TEXT_LIMITS:
        out[field] = _text(field, request.get(field))
    if request.get("consent") is not True:
        raise RequestInvalidError("consent", "required")
    out["consent"] = True
    return with_files(out, request) if schema >= 2 else out


def with_files(normal: dict[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """``normal`` with the payload's manifest, checked, if it has one (absent means no file)."""
    if FILES_FIELD in payload:
        normal[FILES_FIELD] = normalize_manifest(payload[FILES_FIELD])
    return normal


_WIDE = {1: "a", 2: "ж", 3: "中", 4: "\U0001f600"}


def largest_request_bytes(per_char: int) -> int:
    """The largest schema 2 request the form's bounds allow, every text character ``per_char`` UTF-8 bytes wide,
    with a manifest of the format's most files at their worst: the bucket must hold it for the widths the form's
    languages use (2: Cyrillic), so a request with files seals to the one size (tests/crypto/test_manifest.py)."""
    request = {
        "schema": 2, "kind": "request", "locale": "xxx-xxxxxxxx", "submitted_on": "2026-12-01", "reply_key": "A" * 44,
        **{field: max(choices, key=len) for field, (choices, _) in _ONE_OF.items()},
        **{field: list(choices) for field, choices in _ANY_OF.items()}, "people": 20, "children": 20,
        **{field: _WIDE[per_char] * limit for field, limit in TEXT_LIMITS.items()}, "consent": True,
    }  # fmt: skip
    text = json.dumps(request, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return len(text.encode("utf-8")) + MANIFEST_WORST_BYTES


def canonical_json(normal: Mapping[str, Any]) -> bytes:
    """The one encoding of a normalised payload; RequestTooLargeError past ``MAX_REQUEST_BYTES``."""
    data = json.dumps(normal, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )
    if len(data) > MAX_REQUEST_BYTES:
        raise RequestTooLargeError(len(data), MAX_REQUEST_BYTES)
    return data


def encode_request(request: Mapping[str, Any]) -> bytes:
    """Validate (schema 1 or 2) and return the canonical bytes. RequestTooLargeError past ``MAX_REQUEST_BYTES``."""
    return canonical_json(normalize_request(request))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # a repeated key leaves fewer keys than pairs
    if len(out) != len(pairs):
        raise MalformedError("the request repeats a field")
    return out


def _integer_literal(literal: str) -> int:
    # -0 is the same number as 0 to some parsers and a float to others: one spelling only.
    if literal == "-0":
        raise MalformedError("the payload writes zero as -0")
    return int(literal)


def _no_constant(name: str) -> Any:
    raise MalformedError(f"the request holds the non-JSON number {name}")


# One decoder for every payload: json.loads given these hooks builds a decoder and its scanner on every call (a
# fifth of a payload's parse). A decoder keeps nothing that changes a result (its scanner only interns keys, and
# forgets them after each call), so it is shared, across threads too, as json.loads shares its default one.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_int=_integer_literal
)


def decode_request(data: bytes) -> dict[str, Any]:
    """Parse and validate a request an envelope carried (a follow-up is MalformedError here)."""
    payload = parse_json(data)
    _remember_clean_texts(data, payload)
    return normalize_request(payload)


def parse_json(data: bytes) -> dict[str, Any]:
    """Bytes to one JSON object (§3 steps 1-2). Only MalformedError (or a subclass) escapes."""
    if len(data) > MAX_REQUEST_BYTES:
        raise RequestTooLargeError(len(data), MAX_REQUEST_BYTES)
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedError("the request is not UTF-8") from None
    except (ValueError, RecursionError):
        raise MalformedError("the request is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedError("the request is not a JSON object")
    return value
