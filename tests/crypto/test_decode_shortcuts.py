"""Opening a request checks every text and every id as it always did, with less work (crypto.request_schema,
crypto.answers): the same answers and the same refusals, however a payload writes them.

* A payload whose bytes cannot hold a forbidden character (no DEL, no C1 control, no \\b, \\f or \\u escape:
  json.loads refuses a raw C0 control in a string) has its texts kept as searched, and neither of a schema 3
  answer's two checks searches them again.
* Field and choice ids found plain are remembered; choices are looked up among their ids.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto import answers as answers_module
from crypto import request_schema
from crypto.answers import check_answers_shape, normalize_answers, shipped
from crypto.errors import RequestInvalidError
from crypto.questionnaire import MAX_CHOICES, MAX_FIELDS, MAX_INTEGER, MAX_TEXT_CHARS, PLAIN_ID, RESERVED_IDS, Field
from crypto.request_schema import FORBIDDEN_CHARACTERS, decode_request, parse_json
from triage.answers_view import AnswerReader

REPLY_KEY = crypto.derive_reply_keypair("0" * 30, bytes(32)).public.to_b64()
# Forbidden (C0 but tab, LF and CR; DEL; C1; surrogates) and allowed characters next to them, and what JSON
# writes with a backslash.
CHARACTERS = st.sampled_from(["\x00", "\x08", "\x0c", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\ud800", "\udfff",
                              "\t", "\n", "\r", "\xa0", "«", "\u2028", "\u202e", "\U0001f600", "\\", '"', "u", "b",
                              "f", "ж", "a", " "])  # fmt: skip
TEXT = st.lists(CHARACTERS, max_size=8).map("".join)


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except RequestInvalidError as error:
        return ("refused", type(error), error.field, error.reason)
    except crypto.MalformedError as error:
        return ("refused", type(error), str(error))


def writings(payload: dict[str, Any]) -> list[bytes]:
    """The payload written as JSON: every character as itself (\\b, \\f and \\u00XX for C0 controls, as json
    writes them), or every one past ASCII as a \\u escape; a lone surrogate makes bytes that are not UTF-8."""
    text = json.dumps(payload, ensure_ascii=False, default=str)
    return [text.encode("utf-8", "surrogatepass"), json.dumps(payload, default=str).encode("ascii")]


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    texts = {name: draw(TEXT) for name in ("health", "alias", "safe_times")}
    texts["story"] = draw(TEXT.map(lambda t: "Помогите " + t))
    texts["contact"] = draw(TEXT.map(lambda t: "@a" + t))
    day = datetime.date(2026, 11, 1).isoformat()
    if draw(st.booleans()):
        return {"schema": 1, "locale": "ru", "submitted_on": day, "danger": "serious", "people": 2,
                "contact_method": "signal", "consent": True, **texts}  # fmt: skip
    answers = {"danger": "serious", "people": 2, "contact_method": "signal", "consent": True, **texts}
    return {"schema": 3, "kind": "request", "locale": "ru", "submitted_on": day, "reply_key": REPLY_KEY,
            "questionnaire": {"id": shipped().id, "version": shipped().version, "sha256": shipped().sha256},
            "answers": answers}  # fmt: skip


def opened(data: bytes) -> Any:
    """What a listing gets from a payload: decoded (its shape checked), then read with its questionnaire."""
    decoded = outcome(lambda: decode_request(data))
    if decoded[0] != "ok":
        return decoded
    request, asked = AnswerReader().read(decoded[1])
    return decoded, request, asked.warning


@settings(max_examples=400, deadline=None)
@given(sequence=st.lists(payloads(), min_size=1, max_size=3))
def test_a_request_opens_to_what_searching_every_text_gives(sequence: list[dict[str, Any]]) -> None:
    for payload in sequence:  # one after the other, as a listing opens them: nothing carries over
        for data in writings(payload):
            # When the payload is opened with its texts kept as searched where its bytes allow it
            fast = opened(data)
            # Then it is what searching every text gives (the shortcut never taken)
            with pytest.MonkeyPatch.context() as patched:
                patched.setattr(request_schema, "_plainly_clean", lambda _: False)
                assert fast == opened(data)


@pytest.mark.parametrize("character", ["\x00", "\x08", "\x0c", "\x1b", "\x7f", "\x80", "\x9f", "\ud800", "\udfff"])
def test_a_forbidden_character_is_refused_however_it_is_written(character: str) -> None:
    payload = {"schema": 1, "locale": "ru", "submitted_on": "2026-11-01", "danger": "serious", "people": 1,
               "contact_method": "signal", "contact": "@a", "story": f"Помогите{character}нам", "consent": True}
    clean = {**payload, "story": "Помогите нам"}
    for data in writings(payload):
        decode_request(writings(clean)[0])  # a clean payload first: its texts are kept as searched
        with pytest.raises(crypto.MalformedError):
            decode_request(data)


def test_json_refuses_a_raw_control_character_in_a_string() -> None:
    # What the shortcut stands on: a C0 control can reach a text only through an escape
    for code in range(0x20):
        with pytest.raises(crypto.MalformedError):
            parse_json(b'{"story":"a' + bytes([code]) + b'b"}')


# -- the checks as they were written before ids were remembered and choices looked up (the reference) ----------


def _reference_answer(key: str, value: Any) -> Any:
    if value is None or value is True or value == "":
        return value
    if isinstance(value, bool):
        raise RequestInvalidError(key, "not_an_answer")
    if isinstance(value, int):
        if not -MAX_INTEGER <= value <= MAX_INTEGER:
            raise RequestInvalidError(key, "out_of_range")
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            raise RequestInvalidError(key, "too_long")
        if FORBIDDEN_CHARACTERS.search(value):
            raise RequestInvalidError(key, "control_character")
        return value
    if isinstance(value, list):
        if len(value) > MAX_CHOICES or not all(isinstance(v, str) and PLAIN_ID.fullmatch(v) for v in value):
            raise RequestInvalidError(key, "not_a_choice")
        if len(set(value)) != len(value):
            raise RequestInvalidError(key, "repeated_choice")
        return list(value)
    raise RequestInvalidError(key, "not_an_answer")


def reference_shape(answers: Any) -> dict[str, Any]:
    if not isinstance(answers, Mapping):
        raise RequestInvalidError("answers", "not_a_mapping")
    if len(answers) > MAX_FIELDS:
        raise RequestInvalidError("answers", "too_many_fields")
    out: dict[str, Any] = {}
    for key, value in answers.items():
        if not isinstance(key, str) or not PLAIN_ID.fullmatch(key) or key in RESERVED_IDS:
            raise RequestInvalidError(str(key)[:40], "not_a_field_id")
        out[key] = _reference_answer(key, value)
    return out


def _walking(f: Field, value: Any) -> bool:
    return f.choice(value) is not None


def reference_normalize(answers: Any) -> dict[str, Any]:
    """normalize_answers(shipped(), ...) with every choice found by walking the choices, as before."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(answers_module, "_is_choice", _walking)
        if isinstance(answers, Mapping):
            unknown = sorted(set(answers) - set(shipped().field_ids), key=str)
            if unknown:
                raise RequestInvalidError(str(unknown[0])[:40], "unknown_field")
        return normalize_answers(shipped(), answers)


class Text(str):
    """A str that is not exactly a str: compared as text, never looked up among the remembered ids."""


IDS = st.sampled_from(["danger", "threat_from", "people", "story", "consent", "schema", "answers", "Danger", "a-b",
                       "x" * 41, "documents", "detention", "children", "contact", "contact_method"])  # fmt: skip
CHOICES = st.sampled_from(["serious", "immediate", "family", "partner", "confiscated", "none", "past", "signal",
                           "Serious", "serious ", "", "1x"])  # fmt: skip
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), CHOICES, TEXT, CHOICES.map(Text),
    st.lists(st.one_of(CHOICES, CHOICES.map(Text), st.integers(0, 3), st.lists(CHOICES, max_size=1)), max_size=3),
)


@settings(max_examples=600, deadline=None)
@given(answers=st.dictionaries(st.one_of(IDS, IDS.map(Text), st.integers(0, 2)), VALUES, max_size=8),
       base=st.booleans())  # fmt: skip
def test_answers_are_checked_as_before_ids_were_remembered(answers: dict[Any, Any], base: bool) -> None:
    if base:  # most often a request that fits, with a few answers changed
        answers = {"danger": "serious", "people": 2, "contact": "@a", "story": "Помогите", "consent": True,
                   "contact_method": "signal", **answers}  # fmt: skip
    # The shape, as any questionnaire could have produced it, and the answers against the shipped questionnaire
    assert outcome(lambda: check_answers_shape(answers)) == outcome(lambda: reference_shape(answers))
    assert outcome(lambda: normalize_answers(shipped(), answers)) == outcome(lambda: reference_normalize(answers))


def test_an_id_is_remembered_only_once_it_matched() -> None:
    # A text that is not a plain id stays refused however often it is seen, and after one that is
    for _ in range(3):
        with pytest.raises(RequestInvalidError):
            check_answers_shape({"Danger": "serious"})
        check_answers_shape({"danger": "serious"})
    assert "Danger" not in answers_module._PLAIN and re.fullmatch(PLAIN_ID, "danger")


def _reference_day(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        raise RequestInvalidError("submitted_on", "not_a_day")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise RequestInvalidError("submitted_on", "not_a_day")


DAYS = st.one_of(st.dates().map(datetime.date.isoformat), st.sampled_from(["2026-02-30", "2026-1-05", "20261105",
                 "2026-11-05 ", "2026-W45-3", "２０２６-11-05"]), st.dates(), st.integers(0, 3),
                 st.dates().map(lambda d: Text(d.isoformat())))  # fmt: skip
REFERENCES = st.fixed_dictionaries({
    "id": st.sampled_from([shipped().id, "Evacuation", "x"]).flatmap(lambda v: st.sampled_from([v, Text(v)])),
    "version": st.sampled_from([1, 2, True, 1.0, 10**7, "1"]),
    "sha256": st.sampled_from([shipped().sha256, "0" * 64, "A" * 64, "0" * 63]),
})  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(days=st.lists(DAYS, min_size=1, max_size=4), references=st.lists(REFERENCES, min_size=1, max_size=4))
def test_days_and_references_checked_once_are_checked_as_before(days: list[Any], references: list[Any]) -> None:
    from crypto.answers import check_questionnaire_ref
    from crypto.request_schema import day_field

    for value in days + days:  # each seen twice: the second time from what was remembered
        assert outcome(lambda value=value: day_field(value)) == outcome(lambda value=value: _reference_day(value))
    for value in references + references:
        got = outcome(lambda value=value: check_questionnaire_ref(value))
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(answers_module, "_REFERENCES", set())  # nothing remembered: every check made
            assert got == outcome(lambda value=value: check_questionnaire_ref(value))
        if got[0] == "ok":
            assert [type(v) for v in got[1].values()] == [type(value[k]) for k in ("id", "version", "sha256")]
