"""The command line in Russian: every line a caseworker reads in a morning's work, with no English left.

A string printed without going through the catalogue fails here (and `test_i18n` fails for a marked string
without a translation). Names, fingerprints, ids, paths and command lines stay as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from tests.triage.helpers import TEST_CONFIG, Server, Triage, make_request
from triage.cli import main

# What may stay in Latin letters: product and command names, and the placeholders of a command line.
ALLOWED = {"Signal", "triage", "intake", "apply", "ack", "out", "FILE", "init", "export", "grant", "import",
           "Alice", "home", "eva", "reply", "template", "language", "received", "contact", "verify", "list",
           "each", "Tails"}  # fmt: skip


def english_words(output: str, tmp_path: Path) -> list[str]:
    text = output.replace(str(tmp_path), " ")
    words = re.findall(r"\b[A-Za-z]{3,}\b", text)
    # Fingerprint groups (4 hex digits), and a case's id (8 or 32) that happens to hold no digit (one in 2,500)
    return [w for w in words if w not in ALLOWED and not re.fullmatch(r"[a-f]{3,4}|[a-f]{8}|[a-f]{32}", w)]


def ru(triage: Triage, *args: str, input: str | None = None) -> str:
    head = ["--home", str(triage.home), "--passphrase-file", str(triage.passphrase_file), "--lang", "ru"]
    result = CliRunner().invoke(main, [*head, *args], obj=TEST_CONFIG, input=input, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_morning_on_the_command_line_in_russian(triage: Triage, server: Server, tmp_path: Path) -> None:
    alice = triage.keygen("Alice")
    stories = ("Нам угрожают соседи", "Муж бьёт меня и детей", "Брат ищет меня в Москве")
    entries = [server.entry(make_request(story=story, danger="serious"), [alice]) for story in stories]
    server.high_water += 2  # two serials this laptop never sees: a gap
    bundle = server.bundle(tmp_path / "b", entries)
    outputs = [
        ru(triage, "import", "--fingerprint", server.key.public.fingerprint, str(bundle)),
        ru(triage, "list"),
    ]
    case_id = re.search(r"^([0-9a-f]{8}) ", outputs[1], re.M).group(1)  # type: ignore[union-attr]
    outputs += [
        ru(triage, "show", case_id),
        ru(triage, "set", case_id, "--status", "на связи", "--note", input="позвонили\n"),
        ru(triage, "reply-templates", "--language", "ru"),
        ru(triage, "ack", "--out", str(tmp_path / "ack.eva")),
        ru(triage, "info"),
    ]
    joined = "\n".join(outputs)
    assert "Пакет № 1: 3 конверта." in joined and "новых 3" in joined
    assert "2 заявок, пронумерованных сервером" in joined
    assert "Обращение " + case_id + ": на связи, 1 заметка." in joined
    assert "--template contact --language ru" in joined
    assert "подтверждает 3 конверта, несёт 0 ответов" in joined
    assert english_words(joined, tmp_path) == [], joined


def test_desk_help_is_whole_in_russian_and_in_english() -> None:
    from click.testing import CliRunner

    from triage.cli import main

    russian = CliRunner().invoke(main, ["--lang", "ru", "desk", "--help"], terminal_width=100).output
    assert "Запуск:" in russian and "Параметры" in russian and "Рабочее место сотрудника" in russian
    assert "--show-address" in russian and "по умолчанию: 10" in russian and "ПАПКА" in russian
    # no English sentence is left: every line of the option list is in Russian but for the option names
    for english in ("Lock the desk", "USB stick", "Do not start", "Also print", "Language of", "priority policy",
                    "Show this message", "Usage:", "Options"):  # fmt: skip
        assert english not in russian, english
    english_help = CliRunner().invoke(main, ["--lang", "en", "desk", "--help"], terminal_width=100).output
    assert "Usage:" in english_help and "one-time address" in english_help and "LAPTOP_DESK" not in english_help
def test_every_command_s_help_is_in_russian(triage: Triage, tmp_path: Path) -> None:
    from triage.cli_language import _commands

    names = [c.name for c in _commands(main) if c is not main]
    for args in [["--help"], *[[name, "--help"] for name in names]]:
        output = CliRunner().invoke(main, ["--lang", "ru", *args], env={"COLUMNS": "100"}).output
        output = re.sub(r"-\n\s+", "-", output)  # an option name wrapped at its hyphen
        prose = re.sub(r"--[a-z-]+|\$[A-Z_]+|`[^`]*`|\[desk\]|TRIAGE_LANG=\w+|~/\S+|\S+\.(pub|toml|md)\b|"
                       r"\b[A-Z]{2,}\b|\[en\|ru\]|en\|ru|\ben\b|\bru\b|TOML|JSON|CSV|Ctrl-C|nano|echo", " ", output)
        left = [w for w in english_words(prose, tmp_path) if w not in {"main", *"-".join(names).split("-")}]
        assert left == [], (args, left, output)
    top = CliRunner().invoke(main, ["--lang", "ru", "--help"]).output
    assert "--note TEXT" not in top and "--note ТЕКСТ" not in top


def test_click_s_own_words_are_in_russian(tmp_path: Path) -> None:
    for args in (["lisst"], ["list", "--bogus"], ["set", "--status", "вывозим", "1a2b"], ["import"]):
        result = CliRunner().invoke(main, ["--lang", "ru", *args], env={"COLUMNS": "100"}, prog_name="triage")
        assert result.exit_code == 2
        assert "Ошибка:" in result.output and "Запуск:" in result.output, result.output
        prose = re.sub(r"'[^']*'|«[^»]*»|--[a-z-]+|\b[A-Z]{2,}\b|triage \w+", " ", result.output)
        assert english_words(prose, tmp_path) == [], result.output


def test_statuses_are_accepted_by_their_russian_names(triage: Triage, server: Server, tmp_path: Path) -> None:
    alice = triage.keygen("Alice")
    bundle = server.bundle(tmp_path / "b", [server.entry(make_request(), [alice])])
    triage.ok("import", bundle)
    case_id = json.loads(triage.ok("list", "--json").stdout)[0]["short_id"]
    for typed, status in (("в работе", "in_progress"), ("В безопасности", "evacuated"), ("уехали", "evacuated"),
                          ("in_progress", "in_progress"), ("not eligible", "not_eligible")):  # fmt: skip
        triage.ok("set", case_id, "--status", typed)
        assert json.loads(triage.ok("list", "--json", "--status", status).stdout)[0]["status"] == status
