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
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from crypto.envelope import _open_payload, _seal_payload
from crypto.errors import MalformedError, RequestInvalidError
from crypto.keys import Identity, PublicIdentity
from crypto.questionnaire import (
    BUILTIN,
    MAX_CHOICES,
    MAX_FIELDS,
    MAX_INTEGER,
    MAX_TEXT_CHARS,
    PLAIN_ID,
    QUESTIONNAIRE_ID,
    RESERVED_IDS,
    Field,
    Questionnaire,
    builtin_questionnaire,
)
from crypto.reply_keys import ReplyPublicKey
from crypto.request_schema import (
    canonical_json,
    check_known_fields,
    check_locale,
    check_reply_key,
    check_text,
    day_field,
    parse_json,
    with_files,
)

SCHEMA = 3
PAYLOAD_KEYS = ("schema", "kind", "locale", "submitted_on", "reply_key", "questionnaire", "answers", "files")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _one_of(f: Field, value: Any) -> str | None:
    if value is None or value == "":
        if f.required:
            raise RequestInvalidError(f.id, "required")
        return None
    if not isinstance(value, str) or not _is_choice(f, value):
        raise RequestInvalidError(f.id, "not_a_choice")
    return value


def _is_choice(f: Field, value: str) -> bool:
    # A str itself is looked up among the ids; anything else (a subclass) compared with each, as always.
    return value in f.choice_ids if value.__class__ is str else f.choice(value) is not None


def _any_of(f: Field, value: Any) -> list[str]:
    if value is None:
        value = []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RequestInvalidError(f.id, "not_a_list")
    if not all(_is_choice(f, v) for v in value):
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
    known = questionnaire.field_id_set
    if not known.issuperset(answers):
        unknown = sorted(set(answers) - known, key=str)
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


@dataclass(frozen=True)
class CheckedAnswers:
    """Answers ``normalize_answers`` accepted for the questionnaire with this hash: encoded without a second check."""

    questionnaire_sha256: str
    answers: Mapping[str, Any]


def check_answers(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> CheckedAnswers:
    """Validate ``answers`` once (RequestInvalidError naming the field); the result is what gets encoded."""
    return CheckedAnswers(questionnaire.sha256, MappingProxyType(normalize_answers(questionnaire, answers)))


def encode_checked(
    questionnaire: Questionnaire, checked: CheckedAnswers, *, locale: str, submitted_on: datetime.date | str,
    reply_key: str | ReplyPublicKey, files: list[dict[str, Any]] | None = None,
) -> bytes:  # fmt: skip
    """The canonical schema 3 bytes of answers already checked (RequestTooLargeError past the one bucket).

    ``reply_key``: its text, checked here, or the ``ReplyPublicKey`` itself, checked when it was made."""
    if checked.questionnaire_sha256 != questionnaire.sha256:
        raise RequestInvalidError("questionnaire", "checked_against_another_questionnaire")
    return canonical_json(_payload(questionnaire, checked.answers, locale, submitted_on, reply_key, files))


def _payload(questionnaire: Questionnaire, normal: Mapping[str, Any], locale: str, submitted_on: datetime.date | str,
             reply_key: str | ReplyPublicKey, files: list[dict[str, Any]] | None) -> dict[str, Any]:  # fmt: skip
    if locale not in questionnaire.languages:
        raise RequestInvalidError("locale", "not_a_language_of_the_questionnaire")
    payload = {
        "schema": SCHEMA, "kind": "request", "locale": check_locale(locale), "submitted_on": day_field(submitted_on),
        # A ReplyPublicKey refused a low-order point when it was made, and its text is the canonical one: it is
        # not decoded and checked again (an X25519 per submission).
        "reply_key": reply_key.to_b64() if isinstance(reply_key, ReplyPublicKey) else check_reply_key(reply_key),
        "questionnaire": {"id": questionnaire.id, "version": questionnaire.version, "sha256": questionnaire.sha256},
        "answers": dict(normal),
        **({} if files is None else {"files": files}),
    }  # fmt: skip
    return with_files(payload, payload)


def questionnaire_request(
    questionnaire: Questionnaire, answers: Mapping[str, Any], *, locale: str, submitted_on: datetime.date | str,
    reply_key: str, files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The normalised schema 3 payload: the answers, the questionnaire they were given to, and the manifest of
    the files sent with them (``files``, crypto.manifest; None or absent when no file was sent)."""
    return _payload(questionnaire, normalize_answers(questionnaire, answers), locale, submitted_on, reply_key, files)


def encode_questionnaire_request(
    questionnaire: Questionnaire, answers: Mapping[str, Any], *, locale: str, submitted_on: datetime.date | str,
    reply_key: str, files: list[dict[str, Any]] | None = None,
) -> bytes:  # fmt: skip
    """The canonical bytes (RequestTooLargeError past the envelope's one bucket, MAX_REQUEST_BYTES)."""
    return encode_checked(questionnaire, check_answers(questionnaire, answers), locale=locale,
                          submitted_on=submitted_on, reply_key=reply_key, files=files)  # fmt: skip


def seal_encoded_request(encoded: bytes, *, for_recipients: Sequence[PublicIdentity]) -> bytes:
    """Pad and seal the bytes ``encode_questionnaire_request`` returned (validated once, there; not again)."""
    return _seal_payload(encoded, for_recipients)


PAYLOAD_NAMES = frozenset(PAYLOAD_KEYS) - {"files"}  # and "files" when a file came with the request


def decode_questionnaire_request(questionnaire: Questionnaire, data: bytes) -> dict[str, Any]:
    """A schema 3 request made with ``questionnaire``, checked as it was written (MalformedError otherwise).

    The payload must name this questionnaire (id, version and SHA-256) and be exactly its canonical
    encoding: every answer in normalised form, nothing more.
    """
    payload = parse_json(data)
    keys = set(payload) - {"files"}
    if payload.get("schema") != SCHEMA or payload.get("kind") != "request" or keys != PAYLOAD_NAMES:
        raise MalformedError("this payload is not a schema 3 request")
    named = payload["questionnaire"]
    wanted = {"id": questionnaire.id, "version": questionnaire.version, "sha256": questionnaire.sha256}
    if named != wanted:
        raise MalformedError("this request names another questionnaire (id, version or hash)")
    answers = payload["answers"]
    if not isinstance(answers, dict) or set(answers) != set(questionnaire.field_ids):
        raise MalformedError("this request's answers are not the questionnaire's fields")
    try:
        rebuilt = questionnaire_request(questionnaire, answers, locale=payload["locale"],
                                      submitted_on=payload["submitted_on"], reply_key=payload["reply_key"],
                                      files=payload.get("files"))  # fmt: skip
    except RequestInvalidError as error:
        raise MalformedError(f"the answer to {error.field!r} is not valid ({error.reason})") from None
    except MalformedError:
        raise MalformedError("this request's list of files is not a valid manifest") from None
    if canonical_json(rebuilt) != data:
        raise MalformedError("this request is not in its canonical form")
    return rebuilt


Lookup = Callable[[str, int, str], Questionnaire | None]


@functools.cache
def shipped(name: str = "evacuation-request") -> Questionnaire:
    """A questionnaire shipped in the package, read once per process."""
    return builtin_questionnaire(name)


def builtin_lookup(questionnaire_id: str, version: int, sha256: str) -> Questionnaire | None:
    """The shipped questionnaire with exactly this id, version and hash, if there is one."""
    if questionnaire_id not in BUILTIN:
        return None
    found = shipped(questionnaire_id)
    return found if (found.version, found.sha256) == (version, sha256) else None


def open_questionnaire_request(envelope: bytes, identity: Identity, lookup: Lookup = builtin_lookup) -> dict[str, Any]:
    """Open an envelope holding a schema 3 request; ``lookup`` finds the questionnaire it names.

    MalformedError if the payload is not schema 3 or names a questionnaire ``lookup`` does not know.
    """
    data = _open_payload(envelope, identity)
    named = parse_json(data).get("questionnaire")
    if not isinstance(named, dict) or not isinstance(named.get("id"), str) or not isinstance(
            named.get("version"), int) or not isinstance(named.get("sha256"), str):  # fmt: skip
        raise MalformedError("this payload does not name a questionnaire")
    questionnaire = lookup(named["id"], named["version"], named["sha256"])
    if questionnaire is None:
        raise MalformedError("this request names a questionnaire this tool does not know")
    return decode_questionnaire_request(questionnaire, data)


# -- reading a schema 3 payload without its questionnaire ---------------------------------------------------
# The laptop opens an envelope before it knows whether it holds the questionnaire the payload names (that is
# looked up afterwards, among the versions a caseworker accepted). So the reader checks the shape every
# schema 3 payload has, within the bounds any questionnaire allows; ``normalize_answers`` then checks the
# answers against the questionnaire itself once it is found.


def check_questionnaire_ref(value: Any) -> dict[str, Any]:
    """The payload's ``questionnaire``: exactly ``id``, ``version`` and ``sha256``, each well formed."""
    if not isinstance(value, Mapping) or set(value) != {"id", "version", "sha256"}:
        raise RequestInvalidError("questionnaire", "not_a_reference")
    name, version, digest = value["id"], value["version"], value["sha256"]
    # A queue's requests name a few questionnaires: each reference (exactly a str, an int, a str) checked once.
    typed = name.__class__ is str and version.__class__ is int and digest.__class__ is str
    if typed and (name, version, digest) in _REFERENCES:
        return {"id": name, "version": version, "sha256": digest}
    if not isinstance(name, str) or not QUESTIONNAIRE_ID.fullmatch(name):
        raise RequestInvalidError("questionnaire", "not_an_id")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 10**6:
        raise RequestInvalidError("questionnaire", "not_a_version")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise RequestInvalidError("questionnaire", "not_a_hash")
    if typed and len(_REFERENCES) < _PLAIN_MAX:
        _REFERENCES.add((name, version, digest))
    return {"id": name, "version": version, "sha256": digest}


_REFERENCES: set[tuple[str, int, str]] = set()


def _answer(key: str, value: Any) -> Any:
    if value is None or value is True or value == "":
        return value
    if isinstance(value, bool):  # false is never an answer: a consent is true, an unticked box absent
        raise RequestInvalidError(key, "not_an_answer")
    if isinstance(value, int):
        if not -MAX_INTEGER <= value <= MAX_INTEGER:
            raise RequestInvalidError(key, "out_of_range")
        return value
    if isinstance(value, str):
        return check_text(key, value, limit=MAX_TEXT_CHARS, required=False)
    if isinstance(value, list):
        if len(value) > MAX_CHOICES or not all(_is_plain(v) for v in value):
            raise RequestInvalidError(key, "not_a_choice")
        if len(set(value)) != len(value):
            raise RequestInvalidError(key, "repeated_choice")
        return list(value)
    raise RequestInvalidError(key, "not_an_answer")


# Ids (of fields, of choices) found plain, each matched against PLAIN_ID once rather than in every request opened.
# Only exact str go in, so that ``in`` here means equal text. Never plaintext of a request: an id or a choice.
_PLAIN: set[str] = set()
_PLAIN_MAX = 4096


def _is_plain(value: Any) -> bool:
    """A str that PLAIN_ID matches whole (a field id, a choice id)."""
    if value.__class__ is str and value in _PLAIN:
        return True
    if not isinstance(value, str) or not PLAIN_ID.fullmatch(value):
        return False
    if value.__class__ is str:
        if len(_PLAIN) >= _PLAIN_MAX:
            _PLAIN.clear()
        _PLAIN.add(value)
    return True


def check_answers_shape(answers: Any) -> dict[str, Any]:
    """``answers`` as any questionnaire could have produced them: plain field ids, answer-shaped values."""
    if not isinstance(answers, Mapping):
        raise RequestInvalidError("answers", "not_a_mapping")
    if len(answers) > MAX_FIELDS:
        raise RequestInvalidError("answers", "too_many_fields")
    out: dict[str, Any] = {}
    for key, value in answers.items():
        if not _is_plain(key) or key in RESERVED_IDS:
            raise RequestInvalidError(str(key)[:40], "not_a_field_id")
        out[key] = _answer(key, value)
    return out


def normalize_questionnaire_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A schema 3 request checked as far as it can be without its questionnaire (docs/FORMAT.md §12.4).

    ``crypto.decode_request`` and ``crypto.open_envelope`` call this for schema 3; a reader that holds the
    questionnaire the payload names then checks the answers with ``normalize_answers``.
    """
    if payload.get("schema") != SCHEMA:
        raise MalformedError("this reader is for payload schema 3")
    if payload.get("kind") != "request":
        raise MalformedError("a schema 3 payload is a request")
    check_known_fields(payload, PAYLOAD_KEYS)
    return with_files({
        "schema": SCHEMA, "kind": "request", "locale": check_locale(payload.get("locale")),
        "submitted_on": day_field(payload.get("submitted_on")), "reply_key": check_reply_key(payload.get("reply_key")),
        "questionnaire": check_questionnaire_ref(payload.get("questionnaire")),
        "answers": check_answers_shape(payload.get("answers")),
    }, payload)  # fmt: skip
