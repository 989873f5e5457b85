"""Invariant 5: Russian is complete. Every string the code and templates use has a Russian translation."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "intake" / "translations" / "ru" / "LC_MESSAGES"


def used_msgids() -> set[str]:
    method_map, options_map = parse_mapping_cfg(io.StringIO((ROOT / "intake" / "babel.cfg").read_text()))
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _complete(message: Message) -> bool:
    """Translated, and a plural in all three Russian forms (1 цифра, 2 цифры, 5 цифр)."""
    if message.pluralizable:
        return len(message.string) == 3 and all(message.string)
    return bool(message.string)


def test_no_untranslated_or_fuzzy_russian_msgid() -> None:
    catalog = read_po((CATALOG / "messages.po").open("rb"))
    problems = [m.id for m in catalog if m.id and (not _complete(m) or m.fuzzy)]
    assert problems == []
    assert not catalog.fuzzy, "the catalog header is marked fuzzy (gettext would ignore it)"


def test_every_string_in_code_and_templates_is_in_the_catalog() -> None:
    catalog = read_po((CATALOG / "messages.po").open("rb"))
    used = used_msgids()
    assert len(used) > 80, "extraction found too little: is babel.cfg right?"
    missing = sorted(m for m in used if not catalog.get(m) or not _complete(catalog.get(m)))
    assert missing == [], "run pybabel extract/update and translate these"


def _frozen(value: Any) -> Any:
    return value if isinstance(value, str) else tuple(value)  # plural ids and strings come as lists or tuples


def test_compiled_catalog_matches_the_po_file() -> None:
    def entries(catalog: Iterable[Message]) -> dict[Any, Any]:
        return {_frozen(m.id): _frozen(m.string) for m in catalog if m.id}

    po = entries(read_po((CATALOG / "messages.po").open("rb")))
    mo = entries(read_mo((CATALOG / "messages.mo").open("rb")))
    assert po == mo, "recompile: pybabel compile -d intake/translations -D messages"


PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_placeholders_survive_translation() -> None:
    for message in read_po((CATALOG / "messages.po").open("rb")):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == expected, (message.id, string)


GLOSSARY = ROOT / "docs" / "GLOSSARY.md"


def banned_stems() -> list[str]:
    section = GLOSSARY.read_text(encoding="utf-8").split("## Words we do not use", 1)[1]
    return [stem.lower() for stem in re.findall(r"^\| `([^`]+)` \|", section, re.M)]


def test_no_banned_russian_term_comes_back() -> None:
    # Issue 12 item 3: «кураторы», «заберут», «Забрана»... frighten the person this is written for.
    stems = banned_stems()
    assert len(stems) >= 8 and "куратор" in stems, "docs/GLOSSARY.md lost its list of banned terms"
    texts = {f"msgstr of {m.id!r}": " ".join(_frozen(m.string) if not isinstance(m.string, str) else [m.string])
             for m in read_po((CATALOG / "messages.po").open("rb")) if m.id}  # fmt: skip
    texts.update({str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
                  for path in (ROOT / "templates").glob("*.html")})  # fmt: skip
    found = [(where, stem) for where, text in texts.items() for stem in stems if stem in text.lower()]
    assert found == [], "see docs/GLOSSARY.md for the word to use instead"


def test_the_banned_term_check_would_catch_a_relapse() -> None:
    assert any(stem in "Наши кураторы заберут вашу заявку".lower() for stem in banned_stems())
