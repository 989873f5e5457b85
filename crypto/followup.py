"""The follow-up payload (schema 2, ``kind: "followup"``): a requester's answer to a caseworker's reply.

It travels exactly like a request: canonical JSON (docs/FORMAT.md §3.2), sealed to the caseworkers in a
request envelope of the same fixed size, so a seized database cannot tell a follow-up from a new
request. The laptop files it under its case by ``reply_key``, which only the sealed payload carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crypto.errors import MalformedError
from crypto.request_schema import (
    FILES_FIELD,
    canonical_json,
    check_known_fields,
    check_locale,
    check_reply_key,
    check_schema,
    check_text,
    day_field,
    normalize_request,
    parse_json,
    payload_kind,
    with_files,
)

MESSAGE_LIMIT = 4000
FOLLOWUP_FIELDS = ("schema", "kind", "locale", "submitted_on", "reply_key", "message")


def normalize_followup(followup: Mapping[str, Any]) -> dict[str, Any]:
    """Check a follow-up (every field required but ``files``) and return it in normalised form."""
    if check_schema(followup) != 2 or followup["kind"] != "followup":
        raise MalformedError("a follow-up is a schema 2 payload of kind 'followup'")
    check_known_fields(followup, (*FOLLOWUP_FIELDS, FILES_FIELD))
    return with_files({
        "schema": 2,
        "kind": "followup",
        "locale": check_locale(followup.get("locale")),
        "submitted_on": day_field(followup.get("submitted_on")),
        "reply_key": check_reply_key(followup.get("reply_key")),
        "message": check_text("message", followup.get("message"), limit=MESSAGE_LIMIT, required=True),
    }, followup)  # fmt: skip


def encode_followup(followup: Mapping[str, Any]) -> bytes:
    """Validate and return the canonical bytes (always within the request bucket: 4,000 characters and the
    largest manifest fit)."""
    return canonical_json(normalize_followup(followup))


def decode_payload(data: bytes) -> dict[str, Any]:
    """Any payload an envelope carries, checked and normalised; ``payload_kind`` says which it is."""
    value = parse_json(data)
    if payload_kind(value) == "followup":
        return normalize_followup(value)
    return normalize_request(value)
