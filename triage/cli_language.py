"""The command line in the caseworker's language: triage's own help texts, and click's words around them.

click prints "Usage:", "Options", "Error: No such option …" and the like through the standard library's
gettext, and reads each command's help text from its docstring. ``speaking`` puts both into the chosen
language for the length of one command: click's words from ``click.mo`` beside triage's catalogue, every help
text of the command tree from ``triage.mo`` (the English text is the message id), and puts everything back
after. The language is decided before click parses anything (``language_from``), from ``--lang`` wherever it
stands, else ``$TRIAGE_LANG`` or the locale, so ``triage --help`` and click's own errors speak it too.

Status names are accepted in either language (``--status "в работе"`` or ``--status in_progress``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import importlib.resources
import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import click
import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.termui
import click.types

from triage.i18n import LANGUAGES, N_, Translator, language_of, translator
from triage.labels import STATUS_LABELS, status_from_words

CLICK_DOMAIN = "click"
CLICK_MODULES = (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.termui,
                 click.types)  # fmt: skip
LANG_VARIABLES = ("TRIAGE_LANG", "LC_ALL", "LC_MESSAGES", "LANG")  # as GLOBAL_LANG_OPTION reads them
# The placeholders click shows in a usage line, as message ids of triage's catalogue (ID and N stay).
METAVARS = (N_("[OPTIONS]"), N_("COMMAND [ARGS]..."), N_("BUNDLE"), N_("NAME"), N_("DIRECTORY"), N_("FILE"),
            N_("PATH"), N_("INTEGER RANGE"), N_("INTEGER"), N_("TEXT"))  # fmt: skip
_speaking: contextvars.ContextVar[Translator | None] = contextvars.ContextVar("triage_cli_language", default=None)


def language_from(args: Sequence[str], environ: Mapping[str, str]) -> str:
    """The language of this command: the last ``--lang`` before a ``--``, else the environment, else English."""
    found: str | None = None
    for i, word in enumerate(args):
        if word == "--":
            break
        if word == "--lang" and i + 1 < len(args):
            found = args[i + 1]
        elif word.startswith("--lang="):
            found = word.split("=", 1)[1]
    if found is None:
        found = next((environ[name] for name in LANG_VARIABLES if environ.get(name)), "en")
    return language_of(found)


@functools.cache
def click_catalogue(lang: str) -> gettext.NullTranslations:
    """click's own words in ``lang`` (``triage/locale/ru/LC_MESSAGES/click.mo``)."""
    if lang not in LANGUAGES or lang == "en":
        return gettext.NullTranslations()
    folder = importlib.resources.files("triage").joinpath("locale")
    with importlib.resources.as_file(folder) as path:
        return gettext.translation(CLICK_DOMAIN, localedir=str(path), languages=[lang])


def current() -> Translator:
    """The language ``speaking`` chose for this command (English outside one)."""
    return _speaking.get() or translator("en")


def help_id(text: str) -> str:
    """The message id of a help text: as click shows it (its docstring without the indentation)."""
    return inspect.cleandoc(text)


def _commands(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _commands(sub)


@contextlib.contextmanager
def speaking(t: Translator, command: click.Command) -> Iterator[None]:
    """While inside: click's words and every help text of ``command``'s tree in ``t``'s language."""
    words = click_catalogue(t.lang)
    saved: list[tuple[Any, str, Any]] = []

    def swap(owner: Any, name: str, value: Any) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def say(text: str) -> str:
        found = t.catalogue.gettext(help_id(text))
        return found if found != help_id(text) else words.gettext(text)

    for module in CLICK_MODULES:
        swap(module, "_", words.gettext)
        if hasattr(module, "ngettext"):
            swap(module, "ngettext", words.ngettext)
    for each in _commands(command):
        for attribute in ("help", "short_help"):
            text = getattr(each, attribute)
            if text:
                swap(each, attribute, say(text))
        swap(each, "_help_option", None)  # click builds its --help option once; build it in this language
        swap(each, "options_metavar", t.gettext(each.options_metavar or ""))
        if isinstance(each, click.Group):
            swap(each, "subcommand_metavar", t.gettext(each.subcommand_metavar or ""))
        for param in each.params:
            if isinstance(param, click.Option) and param.help:
                swap(param, "help", say(param.help))
            placeholder = _metavar(param)
            if placeholder and t.gettext(placeholder) != placeholder:
                swap(param, "metavar", t.gettext(placeholder))
    token = _speaking.set(t)
    try:
        yield
    finally:
        _speaking.reset(token)
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def _metavar(param: click.Parameter) -> str | None:
    """The placeholder click would show for ``param`` (None for a choice, which lists its own words)."""
    if param.metavar:
        return param.metavar
    if isinstance(param.type, click.Choice | StatusChoice) or getattr(param, "is_flag", False):
        return None
    if isinstance(param, click.Argument) and param.name:
        return param.name.upper()
    return param.type.name.upper()


class StatusChoice(click.ParamType):  # type: ignore[type-arg]
    """A case status by its code or its name, in the caseworker's language or in English."""

    name = "status"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        t = current()
        if t.lang == "en":
            return "[" + "|".join(STATUS_LABELS) + "]"
        return "[" + "|".join(t.gettext(label) for label in STATUS_LABELS.values()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        t = current()
        found = status_from_words(str(value), t)
        if found is None:
            names = ", ".join(f"«{t.gettext(label)}»" for label in STATUS_LABELS.values())
            self.fail(t.gettext("There is no status %(value)s; the statuses are: %(names)s.",
                                value=f"«{str(value)[:40]}»", names=names), param, ctx)  # fmt: skip
        return found
