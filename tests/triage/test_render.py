"""Text from strangers, shown on a terminal or opened in a spreadsheet, and ids typed by a caseworker."""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.triage.helpers import Server, Triage, make_request
from triage.render import _csv_cell, clean

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@given(st.text())
def test_clean_leaves_nothing_invisible_or_overprinting(text: str) -> None:
    shown = clean(text)
    assert "\r" not in shown
    assert all(ch in "\n\t" or unicodedata.category(ch) not in ("Cf", "Cc", "Co") for ch in shown)


@given(st.text())
def test_clean_changes_only_what_it_must(text: str) -> None:
    if all(unicodedata.category(ch) not in ("Cf", "Cc", "Co") for ch in text):
        assert clean(text) == text


@given(st.text())
def test_csv_cells_never_start_a_formula_and_keep_the_text(text: str) -> None:
    cell = _csv_cell(text)
    assert not cell.startswith(FORMULA_START)
    assert cell in (text, "'" + text)
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell])
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == [cell]


def test_any_typed_id_gives_a_case_or_one_sentence(triage: Triage, server: Server, tmp_path: Path) -> None:
    alice = triage.keygen("Alice")
    entry = server.entry(make_request(), [alice])
    triage.ok("import", server.bundle(tmp_path / "b", [entry]))

    @settings(max_examples=40)
    @given(typed=st.text(max_size=40) | st.just(entry.entry_id.hex()[:3]) | st.just(entry.entry_id.hex().upper()))
    def check(typed: str) -> None:
        result = triage.run("show", "--", typed)
        assert "Traceback" not in result.output
        if result.exit_code == 0:
            assert entry.entry_id.hex() in result.output
        else:
            assert result.output.strip().count("\n") == 0

    check()


def test_the_json_escape_pattern_is_exactly_the_disguising_characters() -> None:
    # The pattern is written as ranges for speed; it must still match exactly the characters clean() marks.
    import unicodedata

    from triage.text import _DISGUISING, _disguising_pattern

    pattern = _disguising_pattern()
    for code in [*range(0x30000), *range(0xE0000, 0xE0080), 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD]:
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        expected = (unicodedata.category(ch) in _DISGUISING and ch not in "\n\t") or code >= 0xF0000
        assert bool(pattern.fullmatch(ch)) == expected, hex(code)
