"""Known-answer files for payload schema 3 (docs/FORMAT.md §12.4): answers keyed by field id, under the
questionnaire they name. Called by ``make_vectors.main``; ``python -m tests.vectors.make_questionnaire_vectors``
writes only these.

A reader checks the shape of a schema 3 payload before it knows the questionnaire, so these vectors are
decoded without one: a success keeps the payload's canonical bytes; each fault is one shape rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import crypto
from crypto.answers import encode_questionnaire_request
from crypto.questionnaire import builtin_questionnaire
from crypto.request_schema import canonical_json

Write = Callable[..., None]
SECRET = bytes(range(100, 132))
DIGITS = "314159265358979323846264338327"


def payloads(write: Write, b2: Callable[[bytes], str]) -> None:
    reply_key = crypto.derive_reply_keypair(DIGITS, SECRET).public.to_b64()
    relocation = builtin_questionnaire("relocation-lgbtqi")
    answers = {"risk": "unsafe_soon", "harm": ["outed", "arrest"], "country": "Уганда", "household": 2,
               "passport": "expired", "situation": "Нужна помощь. 🏳️‍🌈", "contact_method": "signal",
               "contact": "@vector", "consent": True}  # fmt: skip
    good = encode_questionnaire_request(relocation, answers, locale="ru", submitted_on="2026-12-01",
                                        reply_key=reply_key)  # fmt: skip
    write("request-success-schema-3", good, kind="request", expect="success",
          payload_blake2b=b2(canonical_json(crypto.decode_payload(good))),
          comment="schema 3: the answers of relocation-lgbtqi version 1 under its id, version and hash")  # fmt: skip
    base = json.loads(good)

    def dump(value: dict[str, object]) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")

    faults = [
        ("schema-3-followup", {**base, "kind": "followup"}, "a follow-up stays schema 2"),
        ("schema-3-flat-fields", {**base, "danger": "immediate"}, "a field outside answers"),
        ("schema-3-no-questionnaire", {k: v for k, v in base.items() if k != "questionnaire"},
         "the questionnaire reference is required"),
        ("schema-3-hash-upper-case", {**base, "questionnaire": {**base["questionnaire"], "sha256": "AB" * 32}},
         "the hash is 64 lowercase hex digits"),
        ("schema-3-reserved-field-id", {**base, "answers": {**base["answers"], "csrf_token": "x"}},
         "a reserved name is never a field id"),
        ("schema-3-false-answer", {**base, "answers": {**base["answers"], "consent": False}},
         "false is never an answer"),
        ("schema-3-repeated-choice", {**base, "answers": {**base["answers"], "harm": ["arrest", "arrest"]}},
         "a list of choices names each once"),
    ]  # fmt: skip
    for name, value, comment in faults:
        write(f"request-malformed-{name}", dump(value), kind="request", expect="malformed", comment=comment)


if __name__ == "__main__":
    from tests.vectors.make_vectors import b2, write

    payloads(write, b2)
