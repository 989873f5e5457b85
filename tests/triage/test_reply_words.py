"""Which follow-ups the caseworker is asked to check by the code word (issue 18 item 9)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage.reply_words import asks_to_change_contact_or_plans


@pytest.mark.parametrize(
    "text",
    [
        "Это я. Мой новый номер +7 928 000 11 22",
        "Пишите мне теперь в телеграм @safe_handle",
        "Планы изменились, встречаемся в другом месте",
        "Не приезжайте в пятницу, лучше в субботу",
        "Please use my new Signal number instead",
        "Change of plans: don't come to the station",
        "My new email is someone@example.org",
    ],
)
def test_a_message_that_asks_to_change_contacts_or_plans_is_marked(text: str) -> None:
    assert asks_to_change_contact_or_plans(text)


@pytest.mark.parametrize("text", ["Спасибо, жду.", "Да, это я. Всё хорошо.", "Thank you, I am waiting.", "Ок"])
def test_a_message_that_asks_nothing_of_the_kind_is_not_marked(text: str) -> None:
    assert not asks_to_change_contact_or_plans(text)


@given(st.text(max_size=4000))
def test_any_text_gets_an_answer(text: str) -> None:
    assert asks_to_change_contact_or_plans(text) in (True, False)
