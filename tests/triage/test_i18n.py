"""English and Russian for triage (CLI and desk) are complete, compiled, and use the form's own words."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.realparts import need_module
from triage.i18n import translator

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "triage" / "locale" / "ru" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def used_msgids() -> set[str]:
    method_map, options_map = parse_mapping_cfg(io.StringIO((ROOT / "triage" / "babel.cfg").read_text()))
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    return {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords
        )
    }


def catalog() -> dict[str, object]:
    return {(m.id if isinstance(m.id, str) else m.id[0]): m for m in read_po((CATALOG / "triage.po").open("rb"))}


def test_every_string_of_triage_has_a_russian_translation() -> None:
    messages = read_po((CATALOG / "triage.po").open("rb"))
    assert not messages.fuzzy
    untranslated = [m.id for m in messages if m.id and (m.fuzzy or not all(_tuple(m.string) or [""]))]
    assert untranslated == []
    used = used_msgids()
    assert len(used) > 150, "extraction found too little: is triage/babel.cfg right?"
    missing = sorted(used - set(catalog()))
    assert missing == [], "pybabel extract -F triage/babel.cfg -k N_ ...; update triage.po and translate these"


def test_compiled_catalogue_matches_the_po_file() -> None:
    def flat(messages: object) -> dict[object, object]:
        return {_tuple(m.id): _tuple(m.string) for m in messages if m.id}  # type: ignore[attr-defined]

    po = flat(read_po((CATALOG / "triage.po").open("rb")))
    mo = flat(read_mo((CATALOG / "triage.mo").open("rb")))
    assert po == mo, "recompile: pybabel compile -D triage -d triage/locale"


def _tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def test_placeholders_survive_translation() -> None:
    for message in read_po((CATALOG / "triage.po").open("rb")):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(" ".join(ids))) - {"num"}
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) - {"num"} == wanted, message.id


@pytest.mark.parametrize(("n", "form"), [(1, "1 обращение"), (2, "2 обращения"), (5, "5 обращений"),
                                         (11, "11 обращений"), (21, "21 обращение"), (22, "22 обращения")])  # fmt: skip
def test_russian_plurals_are_right(n: int, form: str) -> None:
    assert translator("ru").ngettext("%(num)d case", "%(num)d cases", n) == form
    assert translator("en").ngettext("%(num)d case", "%(num)d cases", n) == f"{n} case" + ("" if n == 1 else "s")


def test_labels_are_the_words_of_the_intake_form() -> None:
    need_module("flask_wtf")
    from intake import forms
    from triage.labels import CHOICE_LABELS, FIELD_LABELS

    intake_ru = {m.id: m.string for m in read_po((ROOT / "intake/translations/ru/LC_MESSAGES/messages.po").open("rb"))}
    label_sources = {
        "danger": forms.DANGER_LABELS, "threat_from": forms.THREAT_LABELS, "detention": forms.DETENTION_LABELS,
        "location": forms.LOCATION_LABELS, "documents": forms.DOCUMENT_LABELS, "contact_method": forms.CONTACT_LABELS,
    }  # fmt: skip
    ru = translator("ru")
    for field, labels in label_sources.items():
        for value, label in labels.items():
            english = label._args[0] if hasattr(label, "_args") else str(label)  # a lazy string's msgid
            assert CHOICE_LABELS[field][value] == english, (field, value)
            if english in intake_ru:
                assert ru.gettext(english) == intake_ru[english], (field, value)
    # The questions the form shows are the shipped questionnaire's words (issue 23): triage's labels are them.
    from crypto.questionnaire import builtin_questionnaire

    questionnaire = builtin_questionnaire()
    for field, label in FIELD_LABELS.items():
        assert label == questionnaire.field(field).label["en"], field
        assert ru.gettext(label) == questionnaire.field(field).label["ru"] == intake_ru[label], field


def desk_banned_words() -> list[str]:
    glossary = (ROOT / "docs" / "GLOSSARY.md").read_text(encoding="utf-8")
    section = glossary.split("Words the desk and the command line do not use", 1)[1]
    return [word.lower() for word in re.findall(r"^\| «([^»]+)» \|", section, re.M)]


def test_the_desk_avoids_the_words_it_does_not_use() -> None:
    banned = desk_banned_words()
    assert {"заявитель", "вывез"} <= set(banned), "docs/GLOSSARY.md lost the desk's list"
    texts = {}
    for name in ("triage.po", "click.po"):
        for message in read_po((CATALOG / name).open("rb")):
            if message.id:
                strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
                texts[f"{name}: {message.id!r}"] = " ".join(strings)
    for path in (ROOT / "triage" / "desk" / "templates").glob("*.html"):
        texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    found = [(where, word) for where, text in texts.items() for word in banned if word in text.lower()]
    assert found == [], "see docs/GLOSSARY.md, the desk's section, for the word to use"


def test_the_desk_s_word_check_would_catch_a_relapse() -> None:
    assert any(word in "Сообщение от заявителя: нас вывезли" for word in desk_banned_words())


def test_every_help_text_and_click_word_has_a_russian_translation() -> None:
    import click

    from triage.cli import main
    from triage.cli_language import _commands, click_catalogue, help_id

    t = translator("ru")
    missing = []
    for command in _commands(main):
        texts = [command.help] + [p.help for p in command.params if isinstance(p, click.Option)]
        for text in filter(None, texts):
            if t.catalogue.gettext(help_id(text)) == help_id(text) and click_catalogue("ru").gettext(text) == text:
                missing.append(help_id(text)[:60])
    assert missing == [], "add the help text to triage.po (msgid: the docstring without its indentation)"
    for word in ("Usage:", "Options", "Commands", "Error: {message}", "No such option {name!r}.",
                 "Show this message and exit.", "Missing argument", "Invalid value for {param_hint}: {message}"):
        assert click_catalogue("ru").gettext(word) != word, word
