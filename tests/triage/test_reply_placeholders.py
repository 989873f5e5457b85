"""A ready-made reply never leaves with its placeholders (issue 19 item 8), from the CLI and from the desk.

The code word «[слово]» is the person's only way to tell the caseworkers from the people hunting them: a
reply that still holds a template's placeholder is refused with a sentence naming them, by the operations
layer that both faces call.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from tests.realparts import need_module
from tests.triage.helpers import Server, Triage
from tests.triage.test_conversation import RECEIPT, v2_request
from triage.cli import can_edit_template
from triage.freetext import memory_folder
from triage.i18n import translator
from triage.templates import PlaceholdersLeftError, find_template, load_templates, placeholders_left

SHIPPED = Path(__file__).resolve().parents[2] / "triage"


@pytest.fixture
def one_case(triage: Triage, server: Server, tmp_path: Path) -> tuple[Triage, crypto.BundleEntry]:
    alice = triage.keygen("Alice")
    request = server.entry(v2_request(RECEIPT, story="Нам нужна помощь"), [alice])
    triage.ok("import", server.bundle(tmp_path / "b", [request]))
    return triage, request


def _thread(triage: Triage) -> list[dict[str, str]]:
    return json.loads(triage.ok("list", "--json").stdout)[0]["thread"]  # type: ignore[no-any-return]


def test_the_cli_refuses_a_template_sent_as_it_is(one_case: tuple[Triage, crypto.BundleEntry]) -> None:
    triage, request = one_case
    # When the caseworker presses Enter on the ready-made reply without replacing its words
    result = triage.run("--lang", "ru", "reply", request.entry_id.hex()[:8], "--template", "contact", input="")
    # Then nothing is queued, and the sentence names every placeholder left
    assert result.exit_code == 1
    for word in ("[слово]", "[имя или условное слово]", "[Signal / контакт, который вы оставили]"):
        assert word in result.output
    assert "ничего не поставлено в очередь" in result.output and "Traceback" not in result.output
    assert _thread(triage) == []


def test_a_reply_with_every_placeholder_replaced_is_queued(one_case: tuple[Triage, crypto.BundleEntry]) -> None:
    triage, request = one_case
    text = find_template(triage.home, "contact", "ru").text
    for placeholder, word in (("[Signal / контакт, который вы оставили]", "Signal"), ("[слово]", "«сирень»"),
                              ("[имя или условное слово]", "Марины")):  # fmt: skip
        text = text.replace(placeholder, word)
    triage.ok("reply", request.entry_id.hex()[:8], input=text)
    assert "«сирень»" in _thread(triage)[0]["text"]


def test_one_placeholder_left_is_enough_to_refuse(one_case: tuple[Triage, crypto.BundleEntry]) -> None:
    triage, request = one_case
    result = triage.run("reply", request.entry_id.hex()[:8], input="We will say the code word [word] first.")
    assert result.exit_code == 1 and "[word]" in result.output and _thread(triage) == []


def test_a_home_template_s_own_placeholders_count_too(one_case: tuple[Triage, crypto.BundleEntry]) -> None:
    triage, request = one_case
    (triage.home / "reply_templates.toml").write_text(
        '[[reply]]\nname = "meet"\nlanguage = "en"\ntitle = "Meet"\ntext = "Meet at [place]."\n', encoding="utf-8"
    )
    refused = triage.run("reply", request.entry_id.hex()[:8], input="Meet at [ place ].")
    assert refused.exit_code == 1 and "[ place ]" in refused.output
    # the shipped placeholders are still checked when the home's file drops them
    assert triage.run("reply", request.entry_id.hex()[:8], input="Say [слово].").exit_code == 1
    assert _thread(triage) == []


def test_brackets_that_are_no_placeholder_are_the_caseworker_s_own_words() -> None:
    assert placeholders_left("See point [2] of the list [as agreed].", {"[слово]"}) == []


@given(st.text(max_size=300))
def test_any_text_with_a_placeholder_in_it_is_refused(prefix: str) -> None:
    known = {"[слово]"}
    assert placeholders_left(prefix + " [слово] " + prefix, known) == ["[слово]"]
    left = placeholders_left(prefix, known)
    assert left == [] or all(p.casefold().replace(" ", "") == "[слово]" for p in left)


def test_the_sentence_is_in_the_caseworker_s_language() -> None:
    error = PlaceholdersLeftError(["[слово]"])
    assert "[слово]" in error.in_language(translator("ru")) and "[слово]" in str(error)
    assert re.search(r"[а-я]{4}", error.in_language(translator("ru")))


def test_a_template_is_never_typed_at_a_one_line_prompt() -> None:
    assert can_edit_template({}, interactive=False)  # piped: the finished text comes in
    assert not can_edit_template({}, interactive=True)  # no editor: refused before the passphrase
    # an editor only where its file can live in memory (never on the disk)
    assert can_edit_template({"EDITOR": "vi"}, interactive=True) == (memory_folder({}) is not None)


def test_the_cli_refuses_a_template_when_it_has_no_editor(one_case: tuple[Triage, crypto.BundleEntry],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    triage, request = one_case
    monkeypatch.setattr("triage.cli.can_edit_template", lambda environ, interactive: False)
    result = triage.run("reply", request.entry_id.hex()[:8], "--template", "received", input="")
    assert result.exit_code == 1 and "$EDITOR" in result.output and _thread(triage) == []


def test_no_template_breaks_a_line_in_the_middle_of_a_sentence() -> None:
    for template in load_templates(SHIPPED / "nowhere"):
        for line in template.text.splitlines():
            assert line.rstrip()[-1:] in tuple(".!?:…»]"), (template.name, template.language, line)


def test_the_desk_refuses_a_template_and_keeps_what_was_typed(
    one_case: tuple[Triage, crypto.BundleEntry],
) -> None:
    need_module("flask")
    from tests.triage.desk_setup import desk_client, desk_state
    from triage.desk import create_app
    from triage.home import Home

    triage, request = one_case
    state = desk_state(Home(triage.home), lang="ru")
    client = desk_client(create_app(state))
    client.get(f"/open?key={state.secret}")
    text = find_template(triage.home, "contact", "ru").text.replace("[слово]", "«сирень»")
    page = client.post(f"/case/{request.entry_id.hex()}/reply", data={"csrf": state.csrf, "text": text})
    body = page.get_data(as_text=True)
    assert page.status_code == 400
    assert 'id="reply-error"' in body and "[имя или условное слово]" in body.split('id="reply-error"')[1][:600]
    assert "«сирень»" in body, "the composer keeps the text as typed"
    assert _thread(triage) == []
