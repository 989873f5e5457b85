"""Property tests over everything the desk parses: query strings, forms, paths. Never a 500, never markup."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.realparts import need_module

need_module("flask")

from tests.triage.desk_setup import desk_client, desk_state, load_home
from tests.triage.helpers import PASSPHRASE, Server, Triage
from triage.desk import queue as q

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Any text, with the characters that matter here mixed in often: markup, bidi overrides, zero-width, NUL.
text = st.lists(
    st.text(st.characters(codec="utf-8"), max_size=40)
    | st.sampled_from(["<script>", "\u202e", "\u200b", "\x00", "'\"", "{{ 7*7 }}", "../", "Нас ищут"]),
    max_size=8,
).map("".join)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, str]:
    from triage.desk import create_app

    tmp = tmp_path_factory.mktemp("desk-inputs")
    passphrase = tmp / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    loaded = load_home(Triage(tmp / "home", passphrase), Server(), tmp)
    state = desk_state(loaded.home)
    client = desk_client(create_app(state))
    client.get(f"/open?key={state.secret}")
    return client, state, loaded.entries[0].entry_id.hex()


@SETTINGS
@given(status=text, level=text, assignee=text, search=text)
def test_any_filter_gives_a_page_and_echoes_no_markup(
    desk: Any, status: str, level: str, assignee: str, search: str
) -> None:
    client, state, _ = desk
    # Filters arrive by POST (never in an address) and come back as a page behind a random token
    posted = client.post("/", data={"csrf": state.csrf, "status": status, "level": level, "assignee": assignee,
                                    "q": search})  # fmt: skip
    assert posted.status_code == 303
    location = posted.headers["Location"]
    parts = urllib.parse.urlsplit(location)
    assert parts.path == f"/{state.prefix}/" and set(urllib.parse.parse_qs(parts.query)) <= {"view"}
    response = client.get(location)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<script" not in body.lower() and "\u202e" not in body
    assert client.get("/?" + urllib.parse.urlencode({"view": search})).status_code == 200  # a stale token: all cases


@SETTINGS
@given(fields=st.dictionaries(st.sampled_from(["status", "note", "assignee", "csrf", "extra"]), text, max_size=5))
def test_any_case_form_is_answered_with_a_page_not_a_trace(desk: Any, fields: dict[str, str]) -> None:
    client, state, case_id = desk
    fields = {**fields, "csrf": state.csrf}
    response = client.post(f"/case/{case_id}", data=fields)
    assert response.status_code in (303, 400), response.status_code
    assert "Traceback" not in response.get_data(as_text=True)


@SETTINGS
@given(case_id=text, folder=text, name=text)
def test_any_path_or_file_name_is_refused_or_answered(desk: Any, case_id: str, folder: str, name: str) -> None:
    client, state, _ = desk
    assert client.get("/case/" + urllib.parse.quote(case_id, safe="")).status_code in (200, 404, 308)
    response = client.post("/usb/import", data={"csrf": state.csrf, "folder": folder, "file": name})
    assert response.status_code == 400
    assert client.get("/usb?" + urllib.parse.urlencode({"folder": folder})).status_code == 200


@given(status=text, level=text, assignee=text, search=text)
def test_filters_keep_only_known_values_and_bounded_text(status: str, level: str, assignee: str, search: str) -> None:
    filters = q.Filters.from_args(status, level, assignee, search)
    assert filters.status in ("", *q.STATUSES) and filters.level in ("", *q.LEVELS)
    assert len(filters.assignee) <= 64 and len(filters.text) <= 200
