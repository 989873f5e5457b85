"""A questionnaire in its canonical form: the exact bytes its SHA-256 covers, as bundles carry them.

The server records the canonical form (docs/FORMAT.md §12.2) of every questionnaire version it serves and
the export bundle carries those bytes; the laptop reads them here. The reader is strict: the bytes must be
UTF-8 JSON that is *already* canonical (re-encoding them gives them back byte for byte, so the hash a
laptop computes is the hash the payloads name and nothing outside the hash can change a word), hold only
what a TOML file can hold (no null), and pass every rule of the file loader (``load_questionnaire``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from crypto.questionnaire import (
    _TOP_KEYS,
    Questionnaire,
    QuestionnaireError,
    _keys,
    _questionnaire,
    canonical_form,
)

MAX_CANONICAL_BYTES = 64 * 1024  # the bundle's limit per questionnaire (FORMAT.md §8.1)
_MAX_DEPTH = 8  # a questionnaire nests tables four deep at most (field, choice, label, language)


def _plain_data(value: Any, depth: int = 0) -> bool:
    """Only objects, arrays, text, whole numbers and booleans, nested no deeper than a questionnaire needs."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_plain_data(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_plain_data(v, depth + 1) for v in value)
    return isinstance(value, str | int | bool)


def load_canonical(data: bytes, *, source: str = "questionnaire") -> Questionnaire:
    """Read a questionnaire's canonical bytes; QuestionnaireError with one sentence naming the place."""
    if not isinstance(data, bytes) or not 0 < len(data) <= MAX_CANONICAL_BYTES:
        raise QuestionnaireError(f"{source}: is empty or larger than {MAX_CANONICAL_BYTES // 1024} KiB")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise QuestionnaireError(f"{source}: is not UTF-8 text") from None
    except (ValueError, RecursionError):
        raise QuestionnaireError(f"{source}: is not JSON") from None
    if not isinstance(raw, dict) or not _plain_data(raw):
        raise QuestionnaireError(f"{source}: is not a questionnaire (a table of text, whole numbers and true/false)")
    try:
        again = canonical_form(raw)
    except (TypeError, ValueError):
        raise QuestionnaireError(f"{source}: holds a value a questionnaire cannot hold") from None
    if again != data:
        raise QuestionnaireError(f"{source}: is not in canonical form (compact JSON, keys sorted, UTF-8)")
    # The loader hashes exactly these bytes: the questionnaire's sha256 is SHA-256(data).
    return _questionnaire(_keys(raw, _TOP_KEYS, {"format", "id", "version", "languages", "section", "field"},
                                source), data)  # fmt: skip


def questionnaire_hash(data: bytes) -> str:
    """The lowercase hex SHA-256 a payload names for the questionnaire whose canonical bytes are ``data``."""
    return hashlib.sha256(data).hexdigest()
