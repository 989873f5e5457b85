"""Ready-made replies: a shipped TOML file, which a caseworker overrides with one in the home folder."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from triage.errors import TriageError

FILE_NAME = "reply_templates.toml"


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    title: str
    text: str


def load_templates(home: Path, language: str | None = None) -> list[Template]:
    """The home folder's templates if it has the file, else the shipped ones; optionally one language."""
    own = home / FILE_NAME
    try:
        raw = own.read_text(encoding="utf-8") if own.is_file() else (
            resources.files("triage").joinpath(FILE_NAME).read_text(encoding="utf-8"))  # fmt: skip
        entries = tomllib.loads(raw).get("reply", [])
        found = [Template(str(e["name"]), str(e["language"]), str(e["title"]), str(e["text"]).strip())
                 for e in entries]  # fmt: skip
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
