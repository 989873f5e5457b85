"""Ready-made replies: a shipped TOML file, which a caseworker overrides with one in the home folder.

A template's words in [brackets] are placeholders («[слово]», the agreed code word): a reply that still
holds one of them is refused (``refuse_placeholders``, called by ``Session.reply`` for every face), because
the code word is the person's only way to tell the caseworkers from the people hunting them.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from triage.errors import TriageError
from triage.i18n import N_

FILE_NAME = "reply_templates.toml"
# A placeholder: brackets around a short run of words on one line, no brackets inside.
PLACEHOLDER = re.compile(r"\[[^\[\]\n]{1,80}\]")


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    title: str
    text: str

    @property
    def placeholders(self) -> list[str]:
        return PLACEHOLDER.findall(self.text)


class PlaceholdersLeftError(TriageError):
    """A reply still holds a ready-made reply's placeholders; nothing was queued."""

    SENTENCE = N_("The reply still holds words to replace: %(words)s. Write the real words instead (the code word "
                "above all); nothing was queued.")  # fmt: skip

    def __init__(self, placeholders: list[str]) -> None:
        self.placeholders = placeholders
        super().__init__(self.SENTENCE, words=", ".join(placeholders))


def _parse(raw: str) -> list[Template]:
    entries = tomllib.loads(raw).get("reply", [])
    return [Template(str(e["name"]), str(e["language"]), str(e["title"]), str(e["text"]).strip()) for e in entries]


def _shipped() -> list[Template]:
    return _parse(resources.files("triage").joinpath(FILE_NAME).read_text(encoding="utf-8"))


def load_templates(home: Path, language: str | None = None) -> list[Template]:
    """The home folder's templates if it has the file, else the shipped ones; optionally one language."""
    own = home / FILE_NAME
    try:
        found = _parse(own.read_text(encoding="utf-8")) if own.is_file() else _shipped()
    except (tomllib.TOMLDecodeError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise TriageError(f"The reply templates in {own} cannot be read ({type(error).__name__}); "
                          "fix the file or remove it to use the shipped ones.") from None  # fmt: skip
    return [t for t in found if language is None or t.language == language]


def find_template(home: Path, name: str, language: str) -> Template:
    for template in load_templates(home):
        if template.name == name and template.language == language:
            return template
    known = sorted({t.name for t in load_templates(home)})
    raise TriageError(f"No ready-made reply {name!r} in {language!r}; there are: {', '.join(known)}.")


def known_placeholders(home: Path) -> set[str]:
    """Every placeholder of the home's templates and of the shipped ones (a home file may drop some)."""
    templates: list[Template] = list(_shipped())
    with contextlib.suppress(TriageError):  # an unreadable home file: the shipped placeholders are still checked
        templates += load_templates(home)
    return {_key(p) for t in templates for p in t.placeholders}


def _key(placeholder: str) -> str:
    """A placeholder compared without case or spaces: «[ Слово ]» is still «[слово]»."""
    return "".join(placeholder.split()).casefold()


def placeholders_left(text: str, known: Iterable[str]) -> list[str]:
    """The placeholders of ``known`` still in ``text``, in the order they appear, each once."""
    wanted = set(known)
    found: list[str] = []
    for match in PLACEHOLDER.findall(text):
        if _key(match) in wanted and match not in found:
            found.append(match)
    return found


def refuse_placeholders(text: str, home: Path) -> None:
    """PlaceholdersLeftError naming them if ``text`` still holds a ready-made reply's placeholders."""
    left = placeholders_left(text, known_placeholders(home))
    if left:
        raise PlaceholdersLeftError(left)
