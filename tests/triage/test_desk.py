"""The desk through Flask's test client: the pages, the operations behind them, both languages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")

from tests.triage.desk_setup import Loaded, desk_client, desk_state, load_home
from tests.triage.helpers import Server, Triage


@pytest.fixture
def loaded(triage: Triage, server: Server, tmp_path: Path) -> Loaded:
    return load_home(triage, server, tmp_path)


@pytest.fixture
def state(loaded: Loaded) -> Any:
    return desk_state(loaded.home)


@pytest.fixture
def client(state: Any) -> Any:
    from triage.desk import create_app

    client = desk_client(create_app(state))
    response = client.get(f"/open?key={state.secret}")
    assert response.status_code == 303
    return client


def test_the_app_is_not_in_testing_mode_by_default(state: Any) -> None:
    from triage.desk import create_app

    assert create_app(state).testing is False


def test_queue_shows_the_most_urgent_first(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    order = [page.index(s) for s in ("Нас ищут прямо сейчас.", "Задержали в прошлом месяце", "Угрозы от семьи.")]
    assert order == sorted(order)
    assert "Вторая строка" not in page  # only the first line of the story
    assert "5 cases" in page


def test_case_page_shows_the_words_of_the_form(client: Any, loaded: Loaded) -> None:
    entry = loaded.entries[1]
    page = client.get(f"/case/{entry.entry_id.hex()}").get_data(as_text=True)
    assert "In danger now, or within days" in page
    assert "Police, security services or other authorities" in page
    assert "immediate" not in re.sub(r"<[^>]+>", "", page).split("The request")[1].split("Update")[0]


def test_set_status_note_and_assignee_go_to_the_store(client: Any, state: Any, loaded: Loaded) -> None:
    entry = loaded.entries[0]
    response = client.post(
        f"/case/{entry.entry_id.hex()[:8]}",
        data={"csrf": state.csrf, "status": "contacted", "note": "Позвонили", "assignee": "Alice"},
    )
    assert response.status_code == 303
    listed = loaded.triage.ok("list", "--json").stdout
    assert '"status":"contacted"' in listed.replace(" ", "")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Позвонили" in page and "Alice set the status to" in page


def test_russian_everywhere(client: Any, state: Any, loaded: Loaded) -> None:
    client.post("/language", data={"csrf": state.csrf, "lang": "ru", "back": "/"})
    page = client.get("/").get_data(as_text=True)
    assert "5 обращений" in page or "5 дел" in page
    case = client.get(f"/case/{loaded.entries[1].entry_id.hex()}").get_data(as_text=True)
    assert "Мне грозит опасность сейчас или в ближайшие дни" in case
