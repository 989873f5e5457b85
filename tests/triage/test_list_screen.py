"""`triage list` fits a screen, one line per case with the count on top, in English and in Russian."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.triage.helpers import TEST_CONFIG, Server, Triage, make_request
from triage.cli import main

LONG_STORY = "Билеты уже куплены на следующую неделю, " * 20 + "\nвторая строка"


@pytest.fixture
def many(triage: Triage, server: Server, tmp_path: Path) -> Triage:
    alice = triage.keygen("Alice")
    requests = [make_request(story=LONG_STORY, location="north_caucasus", people=2, children=1)] * 3
    requests += [make_request(danger="immediate", story=f"случай {i}") for i in range(10)]
    requests += [make_request(danger="serious", threat_from=["partner"], story="партнёр угрожает")] * 8
    triage.ok("import", server.bundle(tmp_path / "b", [server.entry(r, [alice]) for r in requests]))
    return triage


def run(triage: Triage, *args: str, lines: int = 14, columns: int = 110) -> str:
    env = {"LINES": str(lines), "COLUMNS": str(columns), "TRIAGE_LANG": "", "LANG": "C.UTF-8"}
    head = ["--home", str(triage.home), "--passphrase-file", str(triage.passphrase_file)]
    # --each: these identical stories would otherwise be folded as bursts (test_bursts.py)
    result = CliRunner().invoke(main, [*head, "list", "--each", *args], obj=TEST_CONFIG, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_queue_fits_the_screen_with_the_count_on_top(many: Triage) -> None:
    output = run(many, lines=14)
    lines = output.rstrip("\n").splitlines()
    assert len(lines) <= 14
    assert lines[0] == "21 cases: emergency 10, urgent 8, normal 3. Showing the first 9; --limit N or --all for more."
    assert all(len(line) <= 110 for line in lines)
    rows = [line for line in lines[2:] if re.match(r"[0-9a-f]{8} ", line)]
    assert len(rows) == 9  # one line per case, nothing wrapped


def test_all_shows_every_case_on_its_own_line(many: Triage) -> None:
    lines = run(many, "--all", lines=14).rstrip("\n").splitlines()
    assert lines[0] == "21 cases: emergency 10, urgent 8, normal 3"
    assert len([line for line in lines if re.match(r"[0-9a-f]{8} ", line)]) == 21


def test_the_row_shows_where_why_and_their_words(many: Triage) -> None:
    output = run(many, "--all", columns=200)
    row = next(line for line in output.splitlines() if "Билеты" in line)
    assert "N. Caucasus" in row and "Still in the North Caucasus" in row and "…" in row
    assert "вторая строка" not in output
    partner = next(line for line in output.splitlines() if "партнёр" in line)
    assert " urgent " in partner  # their own answer, "serious threats", is the floor


def test_the_queue_in_russian_has_no_english_left(many: Triage) -> None:
    output = run(many, "--all", "--lang", "ru", columns=200)
    assert output.splitlines()[0] == "21 обращение: экстренный 10, срочный 8, обычный 3"
    assert "Сев. Кавказ" in output and "Всё ещё на Северном Кавказе" in output
    english = re.findall(r"\b[A-Za-z]{3,}\b", output)
    assert english == [], english


def test_plurals_in_the_count(triage: Triage, server: Server, tmp_path: Path) -> None:
    alice = triage.keygen("Alice")
    entries = [server.entry(make_request(story="x"), [alice]) for _ in range(2)]
    triage.ok("import", server.bundle(tmp_path / "b", entries))
    assert run(triage).splitlines()[0] == "2 cases: normal 2"
    assert run(triage, "--lang", "ru").splitlines()[0] == "2 обращения: обычный 2"
    entries = [server.entry(make_request(story="x"), [alice]) for _ in range(3)]
    triage.ok("import", server.bundle(tmp_path / "c", entries))
    assert run(triage, "--lang", "ru").splitlines()[0] == "5 обращений: обычный 5"


def test_show_in_russian_uses_the_words_of_the_form(many: Triage) -> None:
    case_id = re.search(r"^([0-9a-f]{8}) ", run(many, "--all"), re.M).group(1)  # type: ignore[union-attr]
    env = {"COLUMNS": "160", "TRIAGE_LANG": "ru"}
    head = ["--home", str(many.home), "--passphrase-file", str(many.passphrase_file)]
    output = CliRunner().invoke(main, [*head, "show", case_id], obj=TEST_CONFIG, env=env).stdout
    assert "Мне грозит опасность сейчас или в ближайшие дни" in output
    assert "Опасность для жизни сейчас или в ближайшие дни (+100)" in output
    assert set(re.findall(r"\b[A-Za-z]{3,}\b", output)) <= {"Signal"}, output  # a name, the same in Russian


@pytest.mark.parametrize("columns", [80, 100])
def test_the_reasons_keep_their_room_on_a_narrow_terminal(many: Triage, columns: int) -> None:
    output = run(many, "--all", "--lang", "ru", columns=columns)
    lines = output.rstrip("\n").splitlines()
    assert all(len(line) <= columns for line in lines), output
    header = lines[1]
    assert "Почему" in header and "Рассказ" in header
    assert "Ответственный" not in header, "nobody is assigned: the empty column goes first"
    why_at = header.index("Почему")
    row = next(line for line in lines if "Всё ещё на Северном Кавказе"[:10] in line)
    reason = row[why_at:].split("  ")[0]
    assert len(reason.rstrip("…")) >= 22, (reason, output)  # the weightiest reason, readable

