"""The desk's queue says why and who (issue 19 item 10) and folds bursts (issue 21 item 4), in Flask's client.

The reason column shows the weightiest reason with the rest under a <details> (no hover, no script), the
alias is shown, cases sharing a contact or a reply key are marked "possibly the same person as №…" and can
be linked as duplicates; a burst of near-identical requests is one row whose list opens every request;
a note is corrected by a new note that supersedes it, the trail keeping both.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")

from tests.triage.desk_setup import desk_client, desk_state
from tests.triage.helpers import Server, Triage, make_request
from tests.triage.test_groups import FLOOD
from triage.home import Home


@pytest.fixture
def desk(triage: Triage, server: Server, tmp_path: Path) -> tuple[Any, Any, dict[str, str]]:
    from triage.desk import create_app

    alice = triage.keygen("Alice")
    named = {
        "marina": make_request(alias="Марина", danger="immediate", threat_from=["family"], story="Брат ищет меня",
                               contact="+7 900 123-45-67"),
        "again": make_request(alias="М.", story="Это снова я, Марина", contact="89001234567"),
        "other": make_request(alias="", story="Соседи угрожают", contact="@someone_else"),
    }  # fmt: skip
    flood = [make_request(story=FLOOD, contact=f"@flood{i}") for i in range(25)]
    entries = {key: server.entry(r, [alice]) for key, r in named.items()}
    flood_entries = [server.entry(r, [alice]) for r in flood]
    triage.ok("import", server.bundle(tmp_path / "b", [*entries.values(), *flood_entries]))
    state = desk_state(Home(triage.home))
    client = desk_client(create_app(state))
    client.get(f"/open?key={state.secret}")
    ids = {key: e.entry_id.hex() for key, e in entries.items()} | {"flood": flood_entries[0].entry_id.hex()}
    return client, state, ids


def _row(page: str, entry_id: str, state: Any) -> str:
    """The queue row whose first cell links to the case (the desk's link carries a token, not the id)."""
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page, re.S)
    link = f"/{state.prefix}/case/{state.cases.token(entry_id)}\""
    return next(r for r in rows if link in r.split("</td>", 1)[0])


def test_the_queue_shows_the_top_reason_the_rest_unfolded_and_the_alias(desk: tuple[Any, Any, dict[str, str]]) -> None:
    client, state, ids = desk
    page = client.get("/").get_data(as_text=True)
    row = _row(page, ids["marina"], state)
    assert "Марина" in row
    reasons = re.search(r'<td class="why">(.*?)</td>', row, re.S).group(1)  # type: ignore[union-attr]
    assert "<details><summary>" in reasons and "<li>" in reasons, "the other reasons open without hover or script"
    assert ">Name<" in page and ">Why<" in page and ">Story<" in page


def test_cases_that_share_a_contact_are_marked_and_can_be_linked(desk: tuple[Any, Any, dict[str, str]]) -> None:
    client, state, ids = desk
    page = client.get("/").get_data(as_text=True)
    again = _row(page, ids["again"], state)
    assert "possibly the same person as" in again and ids["marina"][:8] in again
    assert "possibly the same person as" not in _row(page, ids["other"], state)
    case_page = client.get(f"/case/{ids['again']}").get_data(as_text=True)
    assert "Possibly the same person as" in case_page
    # When the caseworker links them
    done = client.post(f"/case/{ids['again']}/duplicate", data={"csrf": state.csrf, "of": ids["marina"]})
    assert done.status_code == 303
    linked = client.get(f"/case/{ids['again']}").get_data(as_text=True)
    assert "duplicate" in linked and f"linked this case as a duplicate of №{ids['marina'][:8]}" in linked
    original = client.get(f"/case/{ids['marina']}").get_data(as_text=True)
    assert f"linked №{ids['again'][:8]} to this case as its duplicate" in original
    itself = client.post(f"/case/{ids['again']}/duplicate", data={"csrf": state.csrf, "of": ids["again"]})
    assert itself.status_code == 400


def test_a_burst_is_one_row_and_each_request_still_opens(desk: tuple[Any, Any, dict[str, str]]) -> None:
    client, state, _ids = desk
    page = client.get("/").get_data(as_text=True)
    assert 'id="bursts"' in page
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page, re.S)[1:]
    assert len(rows) == 4, "three cases and one row for the 25 alike"
    burst = next(r for r in rows if 'class="burst"' in r)
    tokens = re.findall(rf'href="/{state.prefix}/case/([A-Za-z0-9_-]+)"', burst)
    members = [state.cases.value(token) for token in tokens]  # the links carry tokens, never the case id
    assert len(set(members)) == 25 and "+24 near-identical" in burst
    for member in set(members):
        assert client.get(f"/case/{member}").status_code == 200
    assert "Sent in a burst with 24 near-identical requests" in client.get(f"/case/{members[0]}").get_data(as_text=True)


def test_a_note_is_corrected_and_the_trail_keeps_both(desk: tuple[Any, Any, dict[str, str]]) -> None:
    client, state, ids = desk
    client.post(f"/case/{ids['other']}", data={"csrf": state.csrf, "note": "звонить после 18:00"})
    assert client.post(f"/case/{ids['other']}/note/0", data={"csrf": state.csrf, "note": "звонить после 20:00"}
                       ).status_code == 303  # fmt: skip
    page = client.get(f"/case/{ids['other']}").get_data(as_text=True)
    assert "звонить после 18:00" in page and "звонить после 20:00" in page
    assert 'class="superseded"' in page and "corrects note 1" in page and "corrected note 1 (both are kept)" in page
    assert client.post(f"/case/{ids['other']}/note/5", data={"csrf": state.csrf, "note": "x"}).status_code == 400


def test_the_desk_names_the_person_by_their_alias_and_uses_one_word_per_thing(
    desk: tuple[Any, Any, dict[str, str]],
) -> None:
    client, state, ids = desk
    state.lang = "ru"
    page = client.get(f"/case/{ids['marina']}").get_data(as_text=True)
    queue = client.get("/").get_data(as_text=True)
    for text in (page, queue):
        assert "заявител" not in text and "Их слова" not in text and "вывез" not in text
    assert "Рассказ" in page and "Рассказ" in queue and "в очереди" in queue


@pytest.mark.parametrize(("alias", "named"), [("Марина", "Марина"), ("", "человек")])
def test_the_thread_names_the_person_by_the_alias_they_gave(
    triage: Triage, server: Server, tmp_path: Path, alias: str, named: str
) -> None:
    from tests.triage.test_conversation import RECEIPT, followup, followup_entry, v2_request
    from triage.desk import create_app

    alice = triage.keygen("Alice")
    request = server.entry(v2_request(RECEIPT, alias=alias), [alice])
    answer = followup_entry(server, followup(RECEIPT, "Я жду"), [alice])
    triage.ok("import", server.bundle(tmp_path / "b", [request, answer]))
    state = desk_state(Home(triage.home), lang="ru")
    client = desk_client(create_app(state))
    client.get(f"/open?key={state.secret}")
    thread = client.get(f"/case/{request.entry_id.hex()}").get_data(as_text=True).split('id="thread"')[1]
    assert named in thread.split("</li>")[0] and "заявител" not in thread
    assert named in triage.ok("--lang", "ru", "show", request.entry_id.hex()[:8]).stdout
