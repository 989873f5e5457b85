"""A page language appears only when both the questionnaire and the interface catalog are complete in it (issue 23).

The interface's languages are intake.config.LANGUAGES (English, the source, and each language with a complete
catalog); a questionnaire has every word in each language it declares (the loader refuses a missing one). The
server serves the languages both have; any missing string fails here.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import crypto
from crypto.questionnaire import BUILTIN, QuestionnaireError, builtin_questionnaire, load_questionnaire
from intake.app import create_app
from intake.config import LANGUAGES, ConfigError, IntakeConfig
from intake.instance import Instance
from tests.intake.conftest import make_app
from tests.intake.test_translations import ROOT, _complete, used_msgids

SHIPPED = Path(str(resources.files("crypto").joinpath("questionnaires", "evacuation-request.toml")))


def missing_strings(po: Path, used: set[str]) -> list[str]:
    """The interface's strings that ``po`` lacks or leaves untranslated (or fuzzy)."""
    catalog = read_po(po.open("rb"))
    return sorted(m for m in used if not catalog.get(m) or not _complete(catalog.get(m)) or catalog.get(m).fuzzy)


@pytest.fixture(scope="module")
def used() -> set[str]:
    return used_msgids()


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_interface_language_has_a_complete_catalog(language: str, used: set[str]) -> None:
    po = ROOT / "intake" / "translations" / language / "LC_MESSAGES" / "messages.po"
    assert po.is_file(), f"{language} is an interface language without a catalog"
    assert missing_strings(po, used) == []
    assert (po.with_suffix(".mo")).is_file(), "compile it: pybabel compile -d intake/translations"


def test_a_catalog_missing_one_string_is_caught(tmp_path: Path, used: set[str]) -> None:
    text = (ROOT / "intake" / "translations" / "ru" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    seeded = tmp_path / "messages.po"
    seeded.write_text(text.replace('msgstr "Пожалуйста, выберите ответ."', 'msgstr ""'), encoding="utf-8")
    assert missing_strings(seeded, used) == ["Please choose an answer."]


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_shipped_questionnaire_speaks_every_interface_language(name: str) -> None:
    assert set(LANGUAGES) <= set(builtin_questionnaire(name).languages)


def test_a_questionnaire_missing_one_word_is_refused() -> None:
    text = SHIPPED.read_text(encoding="utf-8").replace(', ru = "Где вы сейчас?"', "", 1)
    with pytest.raises(QuestionnaireError, match=r"^field \"location\" label: the 'ru' words are missing$"):
        load_questionnaire(text)


def _only_english(tmp_path: Path) -> Path:
    """The shipped questionnaire with its Russian words taken out: a questionnaire in English only."""
    import re

    text = SHIPPED.read_text(encoding="utf-8").replace('languages = ["en", "ru"]', 'languages = ["en"]')
    text = re.sub(r', ru = "(?:[^"\\]|\\.)*"', "", text)
    path = tmp_path / "en.toml"
    path.write_text(text, encoding="utf-8")
    assert load_questionnaire(text).languages == ("en",)
    return path


def test_a_language_the_questionnaire_lacks_is_not_served(tmp_path: Path, identity: crypto.Identity) -> None:
    config = IntakeConfig(instance_dir=tmp_path / "i", default_locale="en", questionnaire_path=_only_english(tmp_path))
    app = make_app(config, identity)
    assert app.extensions["intake"].config.languages == ("en",)
    client = app.test_client()
    assert client.get("/en/request").status_code == 200
    assert client.get("/ru/request").status_code == 404 and client.get("/ru/urgent").status_code == 404
    assert 'hreflang="ru"' not in client.get("/en/").get_data(as_text=True)
    app.extensions["intake"].storage.dispose()


def test_a_language_without_a_catalog_is_not_served(tmp_path: Path, identity: crypto.Identity) -> None:
    text = SHIPPED.read_text(encoding="utf-8").replace('languages = ["en", "ru"]', 'languages = ["en", "ru", "uz"]')
    text = text.replace('ru = "', 'uz = "x", ru = "')
    path = tmp_path / "uz.toml"
    path.write_text(text, encoding="utf-8")
    assert "uz" in load_questionnaire(text).languages
    app = make_app(IntakeConfig(instance_dir=tmp_path / "i", default_locale="en", questionnaire_path=path), identity)
    assert app.extensions["intake"].config.languages == LANGUAGES
    assert app.test_client().get("/uz/request").status_code == 404
    app.extensions["intake"].storage.dispose()


def test_a_default_language_the_questionnaire_lacks_stops_the_server(tmp_path: Path) -> None:
    config = IntakeConfig(instance_dir=tmp_path / "i", default_locale="ru", questionnaire_path=_only_english(tmp_path))
    Instance(dataclasses.replace(config, questionnaire_path=None)).initialize()
    with pytest.raises(ConfigError, match=r"^INTAKE_DEFAULT_LOCALE ru is not a language of the questionnaire"):
        create_app(config)
