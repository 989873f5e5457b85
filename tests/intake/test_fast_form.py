"""intake.fastform accepts exactly what RequestForm.validate() accepts, and yields exactly the same request."""

from __future__ import annotations

import datetime
from typing import Any

from flask import Flask, g
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from crypto.request_schema import CONTACT_METHOD, DANGER, DETENTION, DOCUMENTS, LOCATION, TEXT_LIMITS, THREAT_FROM
from intake import fastform
from intake.forms import RequestForm, to_request
from tests.intake.helpers import OTHER_DIGITS, csrf_token, other_digit_strategy, valid_fields

FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                       max_examples=400, deadline=None)  # fmt: skip
FIELDS = ["danger", "threat_from", "detention", "location", "people", "children", "documents", "health",
          "contact_method", "contact", "safe_times", "alias", "story", "consent"]  # fmt: skip
CHOICES = [*DANGER, *THREAT_FROM, *DETENTION, *LOCATION, *DOCUMENTS, *CONTACT_METHOD]
NUMBERS = [str(n) for n in range(-1, 25)] + [" 3 ", "003", "+3", "3.0", "1e1", "0x3", "٣", "²", "1²", "３", "\t7"]
HOSTILE = ["", " ", "\t", "\u00a0", "\u3000", "\r\n", "\r\n\r\n", "false", "False", "y", "on", "0", "\x00",
           "\x7f", "\x85", "\u2028", "\ud800", "<script>", "immediate ", " immediate", "IMMEDIATE", "\ufeff",
           "a\r\nb", "Ж\r"]  # fmt: skip


def _long(limit: int) -> Any:
    """Texts at and around a field's bound, some made to fit only once CRLF becomes LF."""
    return st.one_of(
        st.integers(limit - 2, limit + 2).map(lambda n: "Ж" * n),
        st.integers(0, 3).map(lambda n: "\r\n" * n + "я" * (limit - n)),
        st.integers(0, 3).map(lambda n: " " * (limit + n)),
    )


VALUE = st.one_of(
    st.sampled_from(CHOICES), st.sampled_from(NUMBERS), st.sampled_from(HOSTILE), st.sampled_from(OTHER_DIGITS),
    other_digit_strategy(), st.text(max_size=40), *(_long(limit) for limit in TEXT_LIMITS.values()),
)  # fmt: skip
# Absent, or sent once or more (a hand-made body may repeat any name).
FIELD_VALUES = st.one_of(st.none(), st.lists(VALUE, min_size=1, max_size=3))


def _base() -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in valid_fields().items()}


BODY = st.fixed_dictionaries(
    {},
    optional={name: FIELD_VALUES for name in FIELDS},
).map(lambda changes: {**_base(), **changes})


def _check(app: Flask, body: dict[str, list[str] | None], lang: str) -> None:
    formdata = MultiDict([(k, v) for k, values in body.items() if values is not None for v in values])
    day = datetime.date(2026, 11, 27)
    with app.test_request_context(f"/{lang}/request", method="POST"):
        g.lang = lang  # what the view's language preprocessor sets (Babel reads it)
        form = RequestForm(formdata=formdata, meta={"csrf": False})
        accepted = form.validate()
        fast = fastform.answers(formdata)
        assert (fast is not None) == accepted, (accepted, form.errors)
        if fast is not None:
            assert to_request(fast, lang, day) == form.to_request(lang, day)


@FIXTURES_OK
@given(body=BODY, lang=st.sampled_from(["en", "ru"]))
@example(body={**_base(), "people": ["²"], "children": ["1"]}, lang="en")
@example(body={**_base(), "danger": ["immediate"], "story": ["   "]}, lang="ru")
@example(body={**_base(), "danger": ["serious"], "story": ["\r\n"]}, lang="en")
@example(body={**_base(), "consent": ["false", "y"]}, lang="en")
@example(body={**_base(), "alias": ["\r\n" * 50]}, lang="en")
@example(body={**_base(), "people": ["2"], "children": ["3"]}, lang="en")
@example(body={**_base(), "children": [""], "detention": [""], "threat_from": [""]}, lang="en")
def test_fast_path_accepts_exactly_what_the_form_accepts(sqlite_app: Flask, body: dict[str, list[str] | None],
                                                         lang: str) -> None:  # fmt: skip
    _check(sqlite_app, body, lang)


def test_the_fast_path_serves_a_real_submission_with_csrf_checked(sqlite_client: FlaskClient) -> None:
    token = csrf_token(sqlite_client, "/en/request")
    assert sqlite_client.post("/en/request", data=valid_fields()).status_code == 400  # no token: refused
    assert sqlite_client.post("/en/request", data={**valid_fields(), "csrf_token": token + "x"}).status_code == 400
    ok = sqlite_client.post("/en/request", data={**valid_fields(), "csrf_token": token})
    assert ok.status_code == 200 and 'id="receipt"' in ok.get_data(as_text=True)
