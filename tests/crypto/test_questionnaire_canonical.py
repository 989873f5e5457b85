"""The canonical-form reader (crypto.questionnaire_canonical): what bundles carry, read strictly."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.questionnaire import BUILTIN, QuestionnaireError, builtin_questionnaire, canonical_form, load_questionnaire
from crypto.questionnaire_canonical import MAX_CANONICAL_BYTES, load_canonical, questionnaire_hash

SHIPPED = builtin_questionnaire().canonical


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_the_canonical_bytes_read_back_to_the_same_questionnaire(name: str) -> None:
    made = builtin_questionnaire(name)
    again = load_canonical(made.canonical)
    assert again == made and again.sha256 == hashlib.sha256(made.canonical).hexdigest()
    assert questionnaire_hash(made.canonical) == made.sha256
    assert len(made.canonical) <= MAX_CANONICAL_BYTES


def test_any_other_spelling_of_the_same_data_is_refused() -> None:
    data = json.loads(SHIPPED)
    for other in (json.dumps(data).encode(), json.dumps(data, sort_keys=True).encode(),
                  json.dumps(data, sort_keys=True, separators=(",", ":")).encode(),  # \\u escapes, not UTF-8
                  SHIPPED + b"\n", b" " + SHIPPED):  # fmt: skip
        with pytest.raises(QuestionnaireError, match=r"canonical form|not JSON"):
            load_canonical(other)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "larger than|not JSON"),
        (b"[" * 30_000 + b"]" * 30_000, "not JSON|not a questionnaire"),
        (SHIPPED.replace(b'"format":1', b'"format":null'), "not a questionnaire"),
        (SHIPPED.replace(b'"format":1', b'"format":1.0'), "not a questionnaire"),
        (SHIPPED.replace(b'"format":1', b'"format":NaN'), "not JSON|not a questionnaire|canonical"),
        (b"\xff" + SHIPPED, "UTF-8"),
        (b"[]", "not a questionnaire"),
        (b"x" * (MAX_CANONICAL_BYTES + 1), "larger than"),
    ],
)
def test_hostile_bytes_are_refused_with_a_sentence(data: bytes, reason: str) -> None:
    with pytest.raises(QuestionnaireError, match=reason):
        load_canonical(data)


def test_a_reworded_toml_file_and_its_canonical_bytes_agree() -> None:
    from tests.triage.questionnaire_helpers import builtin_text

    reordered = "# a comment the hash does not cover\n" + builtin_text().replace("format = 1\n", "", 1)
    reordered = reordered.replace('id = "evacuation-request"\n', 'id = "evacuation-request"\nformat = 1\n', 1)
    assert load_questionnaire(reordered).canonical == SHIPPED


def _reads_or_refuses(data: bytes) -> None:
    try:
        made = load_canonical(data)
    except QuestionnaireError as error:
        assert str(error) and "\n" not in str(error)
    else:  # whatever it accepts is exactly canonical, and its hash covers exactly these bytes
        assert made.canonical == data and made.sha256 == hashlib.sha256(data).hexdigest()
        assert canonical_form(json.loads(data)) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_read_or_are_refused_with_a_sentence(data: bytes) -> None:
    _reads_or_refuses(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SHIPPED) - 1), st.integers(0, 255))
def test_a_changed_byte_reads_as_another_questionnaire_or_is_refused(at: int, value: int) -> None:
    _reads_or_refuses(SHIPPED[:at] + bytes([value]) + SHIPPED[at + 1 :])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**7), 10**7) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON, st.sampled_from(["format", "id", "version", "languages", "section", "field", "title", "urgent"]))
def test_any_json_in_a_questionnaire_s_place_reads_or_is_refused(value: object, key: str) -> None:
    data = json.loads(SHIPPED)
    data[key] = value
    _reads_or_refuses(canonical_form(data))


FIELD_KEYS = ["id", "section", "kind", "required", "label", "short", "help", "choices", "min", "max", "max_chars",
              "max_files", "at_most", "optional_when", "errors"]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(JSON, st.integers(0, 13), st.sampled_from(FIELD_KEYS), st.booleans())
def test_any_json_in_a_field_s_place_reads_or_is_refused(value: object, n: int, key: str, in_choice: bool) -> None:
    data = json.loads(SHIPPED)
    place = data["field"][n]
    if in_choice and place.get("choices"):
        place = place["choices"][0]
        key = ["id", "label", "points", "level"][len(key) % 4]
    place[key] = value
    _reads_or_refuses(canonical_form(data))
