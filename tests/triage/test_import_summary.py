"""The import summary never contradicts itself (issue 19 item 11), in English and in Russian."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage.i18n import translator
from triage.importer import ImportSummary
from triage.summary import print_import_summary


def printed(summary: ImportSummary, lang: str, capsys: pytest.CaptureFixture[str]) -> str:
    print_import_summary(summary, as_json=False, t=translator(lang))
    return capsys.readouterr().out


def test_a_bundle_of_one_follow_up_says_no_new_case_and_one_message(capsys: pytest.CaptureFixture[str]) -> None:
    summary = ImportSummary(1, 1, 1, followups=1, followups_waiting=1)
    english = printed(summary, "en", capsys)
    assert "of the new ones" not in english and "added to its case" not in english
    assert "new cases 0, follow-up messages 1" in english and "1 follow-up waits for a case" in english
    russian = printed(summary, "ru", capsys)
    assert "новых обращений 0, новых сообщений 1" in russian and "из новых" not in russian


def test_a_follow_up_that_found_its_case_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    english = printed(ImportSummary(2, 3, 3, new=2, followups=1), "en", capsys)
    assert "new cases 2, follow-up messages 1" in english
    assert "1 follow-up message was added to its case's conversation." in english


def test_already_imported_is_never_followed_by_new_ones(capsys: pytest.CaptureFixture[str]) -> None:
    again = printed(ImportSummary(3, 5, 5, duplicate=5, same_bundle_again=True), "en", capsys)
    assert "already imported this bundle; nothing changed" in again and "new 0" in again
    more = printed(ImportSummary(3, 5, 5, new=1, duplicate=4, same_bundle_again=True), "en", capsys)
    assert "nothing changed" not in more and "1 of its envelopes is new to this store" in more
    assert "новых 1" in printed(ImportSummary(3, 5, 5, new=1, duplicate=4, same_bundle_again=True), "ru", capsys)


@given(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.booleans())
def test_no_count_of_new_things_disagrees_with_another(new: int, followups: int, waiting: int, again: bool) -> None:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_import_summary(ImportSummary(1, 9, 9, new=new, followups=followups, followups_waiting=waiting,
                                           same_bundle_again=again), as_json=False)  # fmt: skip
    text = out.getvalue()
    assert not ("nothing changed" in text and (new or followups))
    shown_new = re.search(r"new (?:cases )?(\d+)", text)
    assert shown_new is not None and int(shown_new.group(1)) == new
    joined = re.search(r"(\d+) follow-up messages? (?:was|were) added", text)
    assert joined is None or int(joined.group(1)) <= followups
