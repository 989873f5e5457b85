"""The questionnaire file: the shipped one is today's form, bad files are refused naming the place, sizes hold.

The size property is invariant 11 for any questionnaire: every payload its bounds accept seals to one
size, and the computed worst case is never exceeded.
"""

from __future__ import annotations

import datetime
import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from crypto import request_schema as schema
from crypto.answers import encode_questionnaire_request, normalize_answers, questionnaire_request
from crypto.envelope import FIXED_BUCKET, padded_size
from crypto.manifest import worst_manifest
from crypto.questionnaire import (
    KINDS,
    QuestionnaireError,
    builtin_questionnaire,
    canonical_form,
    load_questionnaire,
)
from crypto.questionnaire_size import WORST_BYTES_PER_CHAR, check_fits, size_report, width_of

REPLY_KEY = crypto.derive_reply_keypair("1" * 30, bytes(32)).public.to_b64()
DAY = datetime.date(2026, 12, 1)


def test_the_shipped_questionnaire_is_todays_form_field_for_field() -> None:
    q = builtin_questionnaire()
    assert q.field_ids == schema.REQUEST_FIELDS
    choices = {"danger": schema.DANGER, "threat_from": schema.THREAT_FROM, "detention": schema.DETENTION,
               "location": schema.LOCATION, "documents": schema.DOCUMENTS,
               "contact_method": schema.CONTACT_METHOD}  # fmt: skip
    for field_id, ids in choices.items():
        assert tuple(c.id for c in q.field(field_id).choices) == ids
    for field_id, limit in schema.TEXT_LIMITS.items():
        assert q.field(field_id).max_chars == limit
    assert (q.field("people").min, q.field("people").max) == schema.PEOPLE_RANGE
    assert (q.field("children").min, q.field("children").max) == schema.CHILDREN_RANGE
    assert q.field("children").at_most == "people"
    required = {f.id for f in q.fields if f.required}
    assert required == {"danger", "people", "contact_method", "contact", "story", "consent"}
    assert q.field("story").optional_when == ("danger", "immediate")
    assert q.languages == ("en", "ru")


def test_the_shipped_questionnaires_fit_one_envelope_at_their_bounds() -> None:
    for name in ("evacuation-request", "relocation-lgbtqi"):
        report = check_fits(builtin_questionnaire(name))
        assert report.at_bounds <= schema.MAX_REQUEST_BYTES < report.worst_case or report.worst_case <= FIXED_BUCKET


def test_the_hash_covers_the_words_not_the_layout() -> None:
    text = SMALL
    moved = "# a comment\n" + text.replace('kind = "one_of"', 'kind   =   "one_of"')
    assert load_questionnaire(text).sha256 == load_questionnaire(moved).sha256
    reworded = text.replace("Are you safe?", "Are you safe now?")
    assert load_questionnaire(text).sha256 != load_questionnaire(reworded).sha256
    q = load_questionnaire(text)
    assert crypto_sha256(canonical_form(_parsed(text))) == q.sha256


def crypto_sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _parsed(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)


SMALL = """
format = 1
id = "small"
version = 3
languages = ["en", "ru"]

[[section]]
id = "main"
title = { en = "Main", ru = "Главное" }

[[field]]
id = "safe"
section = "main"
kind = "one_of"
required = true
label = { en = "Are you safe?", ru = "Вы в безопасности?" }
choices = [
    { id = "yes", label = { en = "Yes", ru = "Да" } },
    { id = "no", label = { en = "No", ru = "Нет" }, points = 50, level = "emergency" },
]

[[field]]
id = "words"
section = "main"
kind = "long_text"
label = { en = "Tell us", ru = "Расскажите" }
max_chars = 100

[[field]]
id = "agree"
section = "main"
kind = "consent"
required = true
label = { en = "I agree", ru = "Я согласен" }
"""


BAD = [
    (SMALL.replace('kind = "long_text"', 'kind = "essay"'), 'field "words": unknown kind'),
    (SMALL.replace('id = "words"', 'id = "safe"'), 'field "safe": this id appears twice'),
    (SMALL.replace('label = { en = "Tell us", ru = "Расскажите" }', 'label = { en = "Tell us" }'),
     'field "words" label: the \'ru\' words are missing'),
    (SMALL.replace("max_chars = 100", "max_chars = 100000"), 'field "words" max_chars'),
    (SMALL.replace('{ id = "no"', '{ id = "No!"'), "choice 2 id: an id is a plain token"),
    (SMALL.replace('"Tell us"', '"Tell <b>us</b>"'), 'field "words" label.en: is plain text'),
    (SMALL.replace('"Tell us"', '"Tell \\u202eus"'), "invisible or control character (U+202E)"),
    (SMALL.replace('id = "words"', 'id = "csrf_token"'), 'field "csrf_token": this id is used by the form'),
    (SMALL.replace("version = 3", "version = 2026-01-01"), "holds a date"),
    (SMALL.replace('section = "main"\nkind = "long_text"', 'section = "other"\nkind = "long_text"'),
     "names the section 'other'"),
    (SMALL.replace('kind = "consent"', 'kind = "short_text"\nmax_chars = 5'), "needs a consent field"),
    (SMALL.replace("[[field]]\nid = \"words\"", "[[field]]\nid = \"words\"\nmin = 1"),
     "a long_text field has no 'min'"),
    ("format = 1\nid = ", "is not valid TOML"),
    (SMALL.replace("format = 1", "format = 2"), "format"),
    (SMALL + "\nextra = 1\n", "unknown key 'extra'"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD)
def test_a_bad_questionnaire_is_refused_with_one_sentence_naming_the_place(text: str, fragment: str) -> None:
    with pytest.raises(QuestionnaireError) as refused:
        load_questionnaire(text)
    message = str(refused.value)
    assert fragment in message, message
    assert "\n" not in message and "Traceback" not in message


def test_a_too_large_file_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(QuestionnaireError, match="larger than 256 KiB"):
        load_questionnaire("#" * (256 * 1024 + 1))


def test_bounds_that_do_not_fit_one_envelope_name_the_field_to_shorten() -> None:
    big = SMALL.replace("max_chars = 100", "max_chars = 20000")  # 20,000 Cyrillic characters: 40 KB
    q = load_questionnaire(big)
    with pytest.raises(QuestionnaireError, match='field "words": at their bounds the answers take'):
        check_fits(q)


@given(st.binary(max_size=2000))
def test_any_bytes_give_a_questionnaire_or_one_typed_error(data: bytes) -> None:
    try:
        q = load_questionnaire(data)
    except QuestionnaireError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert q.fields and any(f.kind == "consent" for f in q.fields)


@given(st.text(alphabet=string.printable + "ёЖ\u202e", max_size=400).map(lambda s: SMALL.replace("Tell us", s)))
def test_any_label_gives_a_questionnaire_or_one_typed_error(text: str) -> None:
    try:
        q = load_questionnaire(text)
    except QuestionnaireError as error:
        assert "\n" not in str(error)
    else:
        label = q.field("words").label["en"]
        assert "<" not in label and ">" not in label and "\u202e" not in label


# ---- the size property over generated questionnaires --------------------------------------------------

WIDE = "😀"  # 4 UTF-8 bytes
ESCAPED = '"\\\n'


@st.composite
def questionnaires(draw: Any) -> Any:
    languages = draw(st.sampled_from([["en"], ["ru"], ["en", "ru"], ["zh"], ["en", "hy"]]))
    n = draw(st.integers(1, 8))
    lines = ["format = 1", 'id = "generated"', "version = 1", f"languages = {languages!r}".replace("'", '"'),
             "[[section]]", 'id = "s"', "title = " + words(languages, "Section")]  # fmt: skip
    for i in range(n):
        kind = draw(st.sampled_from([k for k in KINDS if k not in ("consent", "file")]))
        lines += ["[[field]]", f'id = "f{i}"', 'section = "s"', f'kind = "{kind}"',
                  f"required = {str(draw(st.booleans())).lower()}", "label = " + words(languages, f"Q{i}")]  # fmt: skip
        if kind in ("one_of", "any_of"):
            ids = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), min_size=1, max_size=6,
                                unique=True))  # fmt: skip
            lines.append("choices = [" + ", ".join(f'{{ id = "{c}", label = {words(languages, c)} }}' for c in ids)
                         + "]")  # fmt: skip
        elif kind == "integer":
            low = draw(st.integers(-1000, 1000))
            lines += [f"min = {low}", f"max = {draw(st.integers(low, 100000))}"]
        else:
            lines.append(f"max_chars = {draw(st.integers(1, 500 if kind == 'short_text' else 6000))}")
    lines += ["[[field]]", 'id = "agree"', 'section = "s"', 'kind = "consent"', "required = true",
              "label = " + words(languages, "OK")]  # fmt: skip
    return load_questionnaire("\n".join(lines))


def words(languages: list[str], text: str) -> str:
    return "{ " + ", ".join(f'{lang} = "{text}"' for lang in languages) + " }"


@st.composite
def answers(draw: Any, q: Any, *, worst: bool) -> dict[str, Any]:
    """Answers at and around every field's bound; text at its bound in the widest characters allowed."""
    out: dict[str, Any] = {}
    width_char = {1: "a", 2: "ж", 3: "中"}[width_of(q.languages)]
    for f in q.fields:
        if f.kind == "one_of":
            out[f.id] = draw(st.sampled_from([c.id for c in f.choices] + ([None] if not f.required else [])))
        elif f.kind == "any_of":
            out[f.id] = [c.id for c in f.choices] if draw(st.booleans()) or f.required else []
        elif f.kind == "integer":
            out[f.id] = draw(st.sampled_from([f.min, f.max, (f.min + f.max) // 2]))
        elif f.kind in ("short_text", "long_text"):
            length = draw(st.sampled_from([f.max_chars, f.max_chars - 1 if f.max_chars > 1 else 1, 1]))
            alphabet = (WIDE + ESCAPED) if worst else width_char
            filler = WIDE if worst else width_char  # never only white space: a required text needs a word
            mixed = "".join(draw(st.sampled_from(alphabet)) for _ in range(min(length, 40) - 1))
            out[f.id] = filler + mixed + filler * max(0, length - 40)
        else:
            out[f.id] = True
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_accepted_payload_exceeds_the_worst_case_and_every_fitting_one_seals_to_one_size(data: Any) -> None:
    q = data.draw(questionnaires())
    report = size_report(q)
    locale = q.languages[0]
    for worst in (True, False):
        given_answers = data.draw(answers(q, worst=worst))
        # With or without files: the manifest's worst case is part of both figures (invariant 11, issue 24).
        files = data.draw(st.sampled_from([None, worst_manifest()[:1], worst_manifest()]))
        try:
            payload = encode_questionnaire_request(q, given_answers, locale=locale, submitted_on=DAY,
                                                   reply_key=REPLY_KEY, files=files)  # fmt: skip
        except crypto.RequestTooLargeError as refused:
            # Refused only past the bucket, and never when the bounds fit and the text is in the language.
            assert refused.size > schema.MAX_REQUEST_BYTES
            assert worst or not report.fits
            continue
        assert len(payload) <= report.worst_case
        if not worst:
            assert len(payload) <= report.at_bounds
        assert padded_size(len(payload)) == FIXED_BUCKET  # one sealed size for all of them
    assert WORST_BYTES_PER_CHAR == 4


def maximal_answers(q: Any) -> dict[str, Any]:
    """The one set of answers that takes the most bytes: longest choices, every set, longest numbers, wide text."""
    out: dict[str, Any] = {}
    for f in q.fields:
        if f.kind == "one_of":
            longest = max(f.choices, key=lambda c: len(c.id)).id
            out[f.id] = None if not f.required and len(longest) + 2 < 4 else longest
        elif f.kind == "any_of":
            out[f.id] = [c.id for c in f.choices]
        elif f.kind == "integer":
            longest_number = max((f.min, f.max), key=lambda n: len(str(n)))
            out[f.id] = None if not f.required and len(str(longest_number)) < 4 else longest_number
        elif f.kind in ("short_text", "long_text"):
            out[f.id] = WIDE * f.max_chars
        else:
            out[f.id] = True
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(questionnaires())
def test_the_computed_worst_case_is_exactly_the_largest_payload(q: Any) -> None:
    payload = questionnaire_request(q, maximal_answers(q), locale=max(q.languages, key=len), submitted_on=DAY,
                                    reply_key=REPLY_KEY, files=worst_manifest())  # fmt: skip
    encoded = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert len(encoded) == size_report(q).worst_case


def test_answers_are_checked_against_the_questionnaires_own_bounds() -> None:
    q = load_questionnaire(SMALL)
    good = {"safe": "no", "words": "ж" * 100, "agree": True}
    assert normalize_answers(q, good) == good
    for bad, reason in [({**good, "safe": "maybe"}, "not_a_choice"), ({**good, "words": "ж" * 101}, "too_long"),
                        ({**good, "agree": False}, "required"), ({**good, "other": 1}, "unknown_field"),
                        ({**good, "words": "a\x00b"}, "control_character"),
                        ({"words": "", "agree": True}, "required")]:  # fmt: skip
        with pytest.raises(crypto.RequestInvalidError) as refused:
            normalize_answers(q, bad)
        assert refused.value.reason == reason


def test_a_text_may_be_left_out_when_the_named_answer_was_given() -> None:
    q = builtin_questionnaire()
    base = {"danger": "immediate", "people": 1, "contact_method": "signal", "contact": "@me", "consent": True}
    assert normalize_answers(q, base)["story"] == ""
    with pytest.raises(crypto.RequestInvalidError, match="story"):
        normalize_answers(q, {**base, "danger": "serious"})
    with pytest.raises(crypto.RequestInvalidError) as refused:
        normalize_answers(q, {**base, "people": 2, "children": 3})
    assert refused.value.reason == "more_than_people"
