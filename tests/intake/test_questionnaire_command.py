"""`intake questionnaire check FILE`: the operator's check of a questionnaire before using it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto.questionnaire import builtin_questionnaire
from intake.cli import main
from tests.crypto.test_questionnaire import SMALL

SHIPPED = Path(__file__).resolve().parents[2] / "crypto" / "questionnaires"


@pytest.mark.parametrize("name", ["evacuation-request", "relocation-lgbtqi"])
def test_a_shipped_questionnaire_passes_with_its_sizes_and_a_preview_in_every_language(name: str) -> None:
    result = CliRunner().invoke(main, ["questionnaire", "check", str(SHIPPED / f"{name}.toml")])
    assert result.exit_code == 0, result.output
    q = builtin_questionnaire(name)
    assert q.sha256 in result.output
    assert "of the 32,768 an envelope holds" in result.output
    for language in q.languages:
        assert f"== {language}:" in result.output
        for f in q.fields:
            assert f.label[language] in result.output
            for choice in f.choices:
                assert choice.label[language] in result.output


def test_a_bad_questionnaire_gets_one_sentence_and_a_failing_exit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace('kind = "long_text"', 'kind = "essay"'))
    result = CliRunner().invoke(main, ["questionnaire", "check", str(bad)])
    assert result.exit_code == 1
    assert 'field "words": unknown kind' in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_too_large_bounds_name_the_field_to_shorten(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text(SMALL.replace("max_chars = 100", "max_chars = 20000"))
    result = CliRunner().invoke(main, ["questionnaire", "check", str(big)])
    assert result.exit_code == 1 and 'field "words"' in result.output and "shorten" in result.output


def test_devices_fifos_and_huge_files_are_refused_without_being_read(tmp_path: Path) -> None:
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as out:
        out.truncate(10 * 1024 * 1024)
    for path, reason in [(zero, "is not a regular file"), (fifo, "is not a regular file"),
                         (huge, "is larger than 256 KiB"), (tmp_path, "is not a regular file")]:  # fmt: skip
        result = CliRunner().invoke(main, ["questionnaire", "check", str(path)])
        assert result.exit_code != 0, path
        assert reason in result.output or "is a directory" in result.output, result.output
        assert "Traceback" not in result.output
