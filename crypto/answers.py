"""Answers to a questionnaire, checked against it, and the one encoding of the payload that names it.

A questionnaire payload (schema 3, docs/FORMAT.md §10.4) is a request whose answers are keyed by the
questionnaire's field ids and which names the questionnaire it was made with (id, version, SHA-256 of
the canonical file). ``normalize_answers`` applies the questionnaire's own bounds, with the field and a
reason in every refusal (``RequestInvalidError``); ``encode_questionnaire_request`` gives the canonical
bytes, refused past the envelope's one bucket (``RequestTooLargeError``), so every request a
questionnaire accepts seals to one size (``crypto.questionnaire_size`` says how large it can get).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from crypto.errors import RequestInvalidError
from crypto.questionnaire import Field, Questionnaire
from crypto.request_schema import canonical_json, check_locale, check_reply_key, check_text, day_field, with_files

SCHEMA = 3


def _one_of(f: Field, value: Any) -> str | None:
    if value is None or value == "":
        if f.required:
            raise RequestInvalidError(f.id, "required")
        return None
    if not isinstance(value, str) or f.choice(value) is None:
        raise RequestInvalidError(f.id, "not_a_choice")
    return value


def _any_of(f: Field, value: Any) -> list[str]:
    if value is None:
        value = []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RequestInvalidError(f.id, "not_a_list")
    if any(f.choice(v) is None for v in value):
        raise RequestInvalidError(f.id, "not_a_choice")
    if f.required and not value:
        raise RequestInvalidError(f.id, "required")
    return [c.id for c in f.choices if c.id in value]  # a set, in the questionnaire's order


def _integer(f: Field, value: Any) -> int | None:
    if value is None:
        if f.required:
            raise RequestInvalidError(f.id, "required")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestInvalidError(f.id, "not_an_integer")
    assert f.min is not None and f.max is not None
    if not f.min <= value <= f.max:
        raise RequestInvalidError(f.id, "out_of_range")
    return value


def _required_here(f: Field, answers: Mapping[str, Any]) -> bool:
    if f.optional_when is not None and answers.get(f.optional_when[0]) == f.optional_when[1]:
        return False
    return f.required


def normalize_answers(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of ``questionnaire`` in normalised form (absent optional answers as null, [] or "")."""
    if not isinstance(answers, Mapping):
        raise RequestInvalidError("answers", "not_a_mapping")
    unknown = sorted(set(answers) - set(questionnaire.field_ids), key=str)
    if unknown:
        raise RequestInvalidError(str(unknown[0])[:40], "unknown_field")
    out: dict[str, Any] = {}
    for f in questionnaire.fields:
        value = answers.get(f.id)
        if f.kind == "one_of":
            out[f.id] = _one_of(f, value)
        elif f.kind == "any_of":
            out[f.id] = _any_of(f, value)
        elif f.kind == "integer":
            out[f.id] = _integer(f, value)
        elif f.kind in ("short_text", "long_text"):
            assert f.max_chars is not None
            out[f.id] = check_text(f.id, value, limit=f.max_chars, required=_required_here(f, answers))
        elif f.kind == "consent":
            if value is not True:
                raise RequestInvalidError(f.id, "required")
            out[f.id] = True
        else:  # "file": the manifest of sealed files arrives with the attachments (not yet in this schema)
            if value not in (None, []):
                raise RequestInvalidError(f.id, "not_supported")
            out[f.id] = []
    for f in questionnaire.fields:
        if f.at_most is not None and out[f.id] is not None and out[f.at_most] is not None and (
                out[f.id] > out[f.at_most]):  # fmt: skip
            raise RequestInvalidError(f.id, "more_than_" + f.at_most)
    return out


def questionnaire_request(
    questionnaire: Questionnaire, answers: Mapping[str, Any], *, locale: str, submitted_on: datetime.date | str,
    reply_key: str, files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The normalised schema 3 payload: the answers, the questionnaire they were given to, and the manifest of
    the files sent with them (``files``, crypto.manifest; None or absent when no file was sent)."""
    if locale not in questionnaire.languages:
        raise RequestInvalidError("locale", "not_a_language_of_the_questionnaire")
    payload = {
        "schema": SCHEMA, "kind": "request", "locale": check_locale(locale), "submitted_on": day_field(submitted_on),
        "reply_key": check_reply_key(reply_key),
        "questionnaire": {"id": questionnaire.id, "version": questionnaire.version, "sha256": questionnaire.sha256},
        "answers": normalize_answers(questionnaire, answers),
        **({} if files is None else {"files": files}),
    }  # fmt: skip
    return with_files(payload, payload)


def encode_questionnaire_request(
    questionnaire: Questionnaire, answers: Mapping[str, Any], *, locale: str, submitted_on: datetime.date | str,
    reply_key: str, files: list[dict[str, Any]] | None = None,
) -> bytes:  # fmt: skip
    """The canonical bytes (RequestTooLargeError past the envelope's one bucket, MAX_REQUEST_BYTES)."""
    return canonical_json(questionnaire_request(
        questionnaire, answers, locale=locale, submitted_on=submitted_on, reply_key=reply_key,
        files=files))  # fmt: skip
