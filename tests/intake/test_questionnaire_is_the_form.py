"""The shipped questionnaire file is today's form, word for word, in English and Russian.

Until the form is drawn from the file (issue 23), the file must not drift from the form it describes:
every label, choice and hint the form shows is the file's, in both languages.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale

from crypto.questionnaire import builtin_questionnaire
from intake.config import IntakeConfig
from intake.views import request_form_class
from tests.intake.conftest import make_app


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_label_and_choice_of_the_form_is_the_questionnaires(sqlite_config: IntakeConfig, identity: Any,
                                                                   language: str) -> None:  # fmt: skip
    app: Flask = make_app(sqlite_config, identity)
    q = builtin_questionnaire()
    with app.test_request_context(), force_locale(language):
        RequestForm = request_form_class()
        for f in q.fields:
            unbound = getattr(RequestForm, f.id)
            assert str(unbound.args[0]) == f.label[language], f.id
            choices = unbound.kwargs.get("choices")
            if f.choices:
                assert [(c.value, str(c.label)) for c in choices] == [(c.id, c.label[language]) for c in f.choices]
