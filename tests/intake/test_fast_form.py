"""intake.fastform plus crypto.answers accept exactly what the questionnaire's form accepts, with the same answers.

The form (intake.questionnaire_form) is built only to show errors; a valid submission is decoded by
``FormReader`` and validated once, by ``crypto.answers.check_answers``. For both shipped questionnaires and for
generated ones, over arbitrary and hostile values: the two agree on every body, and on the answers.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from crypto.answers import check_answers, normalize_answers
from crypto.errors import RequestInvalidError
from crypto.questionnaire import Questionnaire, builtin_questionnaire
from intake.fastform import FormReader, form_answers
from intake.questionnaire_form import form_class
from tests.crypto.test_questionnaire import questionnaires
from tests.intake.helpers import OTHER_DIGITS, csrf_token, other_digit_strategy, valid_fields

FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                       max_examples=300, deadline=None)  # fmt: skip
EVACUATION = builtin_questionnaire()
RELOCATION = builtin_questionnaire("relocation-lgbtqi")
NUMBERS = [str(n) for n in range(-3, 25)] + [
    " 3 ", "003", "+3", "3.0", "1e1", "0x3", "٣", "²", "1²", "３", "\t7", "-0", "--3", "- 3", "-", "1000000", "99999",
    "-1000", "0000003",
]  # fmt: skip
HOSTILE = ["", " ", "\t", "\u00a0", "\u3000", "\r\n", "\r\n\r\n", "false", "False", "y", "on", "0", "\x00",
           "\x7f", "\x85", "\x1c", "\u2028", "\ud800", "<script>", "immediate ", " immediate", "IMMEDIATE", "\ufeff",
           "a\r\nb", "Ж\r"]  # fmt: skip


def _long(limit: int) -> Any:
    """Texts at and around a field's bound, some made to fit only once CRLF becomes LF."""
    return st.one_of(
        st.integers(max(0, limit - 2), limit + 2).map(lambda n: "Ж" * n),
        st.integers(0, 3).map(lambda n: "\r\n" * n + "я" * max(0, limit - n)),
        st.integers(0, 3).map(lambda n: " " * (limit + n)),
    )


def values_for(q: Questionnaire) -> Any:
    choices = [c.id for f in q.fields for c in f.choices] or ["x"]
    limits = sorted({f.max_chars for f in q.fields if f.max_chars is not None})
    value = st.one_of(
        st.sampled_from(choices), st.sampled_from(NUMBERS), st.sampled_from(HOSTILE), st.sampled_from(OTHER_DIGITS),
        other_digit_strategy(), st.text(max_size=40), st.integers(-1001, 100001).map(str),
        *(_long(limit) for limit in limits),
    )  # fmt: skip
    return st.one_of(st.none(), st.lists(value, min_size=1, max_size=3))  # absent, or sent once or more


def base_body(q: Questionnaire) -> dict[str, list[str]]:
    """A body the form accepts: every field answered at its simplest."""
    if q is EVACUATION:
        return {k: v if isinstance(v, list) else [v] for k, v in valid_fields().items()}
    body: dict[str, list[str]] = {}
    for f in q.fields:
        if f.kind in ("one_of", "any_of"):
            body[f.id] = [f.choices[0].id]
        elif f.kind == "integer":
            body[f.id] = [str(f.min)]
        elif f.kind in ("short_text", "long_text"):
            body[f.id] = ["x"]
        elif f.kind == "consent":
            body[f.id] = ["y"]
    return body


def bodies(q: Questionnaire) -> Any:
    names = [f.id for f in q.fields] + ["csrf_token", "other"]
    return st.fixed_dictionaries({}, optional={name: values_for(q) for name in names}).map(
        lambda changes: {**base_body(q), **changes})


def check(app: Flask, q: Questionnaire, body: dict[str, list[str] | None], lang: str) -> None:
    formdata = MultiDict([(k, v) for k, values in body.items() if values is not None for v in values])
    with app.test_request_context(f"/{lang}/request", method="POST"):
        g.lang = lang  # what the view's language preprocessor sets (Babel reads it)
        form = form_class(q)(formdata=formdata, meta={"csrf": False})
        accepted = form.validate()
        try:
            checked = check_answers(q, FormReader(q).decode(formdata))
        except RequestInvalidError as error:
            assert not accepted, (error.field, error.reason)
            return
        assert accepted, form.errors
        assert dict(checked.answers) == normalize_answers(q, form_answers(q, form.data))


@FIXTURES_OK
@given(body=bodies(EVACUATION), lang=st.sampled_from(["en", "ru"]))
@example(body={**base_body(EVACUATION), "people": ["²"], "children": ["1"]}, lang="en")
@example(body={**base_body(EVACUATION), "danger": ["immediate"], "story": ["   "]}, lang="ru")
@example(body={**base_body(EVACUATION), "danger": ["serious"], "story": ["\r\n"]}, lang="en")
@example(body={**base_body(EVACUATION), "consent": ["false", "y"]}, lang="en")
@example(body={**base_body(EVACUATION), "alias": ["\r\n" * 50]}, lang="en")
@example(body={**base_body(EVACUATION), "people": ["2"], "children": ["3"]}, lang="en")
@example(body={**base_body(EVACUATION), "children": [""], "detention": [""], "threat_from": [""]}, lang="en")
@example(body={**base_body(EVACUATION), "story": ["\x1c"], "danger": ["serious"]}, lang="en")
def test_the_fast_reader_accepts_exactly_what_the_shipped_form_accepts(sqlite_app: Flask,
                                                                       body: dict[str, list[str] | None],
                                                                       lang: str) -> None:  # fmt: skip
    check(sqlite_app, EVACUATION, body, lang)


@FIXTURES_OK
@given(body=bodies(RELOCATION), lang=st.sampled_from(["en", "ru"]))
@example(body={**base_body(RELOCATION), "risk": ["unsafe_now"], "situation": [" "]}, lang="en")
@example(body={**base_body(RELOCATION), "household": ["11"]}, lang="ru")
def test_the_fast_reader_accepts_exactly_what_the_example_form_accepts(sqlite_app: Flask,
                                                                       body: dict[str, list[str] | None],
                                                                       lang: str) -> None:  # fmt: skip
    check(sqlite_app, RELOCATION, body, lang)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=150,
          deadline=None)  # fmt: skip
@given(data=st.data())
def test_the_fast_reader_accepts_exactly_what_any_questionnaires_form_accepts(sqlite_app: Flask, data: Any) -> None:
    q = data.draw(questionnaires())
    check(sqlite_app, q, data.draw(bodies(q)), q.languages[0])


@pytest.mark.parametrize("seeded", ["strip", "crlf"])
def test_the_comparison_catches_a_reader_that_drifts(sqlite_app: Flask, seeded: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # The property above would fail if the reader read a field differently from the form.
    original = FormReader.decode

    def drifted(self: FormReader, formdata: MultiDict[str, str]) -> dict[str, Any]:
        answers = original(self, formdata)
        if seeded == "strip":
            answers["contact"] = (answers["contact"] or "").strip() or None
        else:
            answers["story"] = formdata.get("story")
        return answers

    monkeypatch.setattr(FormReader, "decode", drifted)
    body = {**base_body(EVACUATION), "contact": [" @x "] if seeded == "strip" else ["@x"],
            "story": ["a\r\nb"]}  # fmt: skip
    with pytest.raises(AssertionError):
        check(sqlite_app, EVACUATION, body, "en")


def test_the_fast_path_serves_a_real_submission_with_csrf_checked(sqlite_client: FlaskClient) -> None:
    token = csrf_token(sqlite_client, "/en/request")
    assert sqlite_client.post("/en/request", data=valid_fields()).status_code == 400  # no token: refused
    assert sqlite_client.post("/en/request", data={**valid_fields(), "csrf_token": token + "x"}).status_code == 400
    ok = sqlite_client.post("/en/request", data={**valid_fields(), "csrf_token": token})
    assert ok.status_code == 200 and 'id="receipt"' in ok.get_data(as_text=True)


def test_a_valid_submission_never_builds_the_form(sqlite_client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    token = csrf_token(sqlite_client, "/en/request")
    form = sqlite_client.application.extensions["questionnaire_form"].form
    monkeypatch.setattr(form, "__init__", lambda *a, **k: (_ for _ in ()).throw(AssertionError("form built")))
    ok = sqlite_client.post("/en/request", data={**valid_fields(), "csrf_token": token})
    assert ok.status_code == 200 and 'id="receipt"' in ok.get_data(as_text=True)
