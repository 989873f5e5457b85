"""English and Russian for the command line and the desk, with the standard library's gettext only.

The laptop may not have Flask or Babel, so the catalogue is a compiled gettext file shipped inside
the package (``triage/locale/ru/LC_MESSAGES/triage.mo``, made from ``triage.po`` beside it with
``pybabel compile -D triage -d triage/locale``). English is the source language. A face asks for a
``Translator`` for the caseworker's chosen language and passes it to what it renders; there is no
process-wide current language.

``N_`` only marks a string for extraction (``pybabel extract -F triage/babel.cfg``); it is translated
where it is shown.
"""

from __future__ import annotations

import functools
import gettext
import importlib.resources

DOMAIN = "triage"
LANGUAGES = ("en", "ru")
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


def N_(message: str) -> str:
    return message


class Translator:
    """gettext and ngettext for one language; ``%(name)s`` placeholders are filled after translating."""

    def __init__(self, lang: str, catalogue: gettext.NullTranslations) -> None:
        self.lang = lang
        self.catalogue = catalogue

    def gettext(self, message: str, **values: object) -> str:
        text = self.catalogue.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The form for ``n`` (Russian has three); ``%(num)s`` is ``n``."""
        return self.catalogue.ngettext(singular, plural, n) % {"num": n, **values}


@functools.cache
def translator(lang: str) -> Translator:
    """The translator for ``lang`` ("en" or "ru"); ValueError for any other."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    if lang == "en":
        return Translator(lang, gettext.NullTranslations())
    folder = importlib.resources.files("triage").joinpath("locale")
    with importlib.resources.as_file(folder) as path:
        return Translator(lang, gettext.translation(DOMAIN, localedir=str(path), languages=[lang]))


def language_of(value: str | None) -> str:
    """The language to speak for a --lang value or a locale such as ``ru_RU.UTF-8``: Russian or English."""
    return "ru" if (value or "").strip().lower().startswith("ru") else "en"
