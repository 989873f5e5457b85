"""The ``triage`` command group: global options in either place, and command summaries shown whole.

A caseworker types ``triage list --home /media/usb/home`` as naturally as ``triage --home … list``;
click only accepts a group's options before the subcommand. ``GlobalOptionsGroup`` moves the group's
own value options (``--home``, ``--passphrase-file``, ``--as``) that appear after the subcommand name
to the front before click parses, unless the subcommand declares an option of the same name itself.
Everything after a ``--`` is left alone.

The group also runs the whole command in the caseworker's language (``triage.cli_language``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from triage import environment
from triage.cli_language import click_catalogue, current, language_from, speaking
from triage.i18n import translator

# Long enough for any first sentence: click would otherwise cut summaries at the terminal width.
WHOLE_SUMMARY = 1000


class GlobalOptionsGroup(click.Group):
    def main(self, args: Sequence[str] | None = None, *rest: Any, **options: Any) -> Any:
        """The whole command, help and click's own errors included, in the caseworker's language."""
        argv = list(sys.argv[1:] if args is None else args)
        with speaking(translator(language_from(argv, environment.variables())), self):
            return super().main(argv, *rest, **options)

    def _value_options(self, ctx: click.Context) -> dict[str, click.Option]:
        found: dict[str, click.Option] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option) and not param.is_flag and not param.count:
                for name in param.opts:
                    found[name] = param
        return found

    def _subcommand_at(self, args: list[str], options: dict[str, click.Option]) -> int | None:
        """Where the subcommand name is: the first word that is neither a group option nor its value."""
        i = 0
        while i < len(args):
            word = args[i]
            if word == "--":
                return i + 1 if i + 1 < len(args) else None
            if word in options:
                i += 2
            elif word.startswith("-"):
                i += 1
            else:
                return i
        return None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options = self._value_options(ctx)
        at = self._subcommand_at(args, options)
        command = self.get_command(ctx, args[at]) if at is not None else None
        if at is None or command is None:
            return super().parse_args(ctx, args)
        own = {name for param in command.get_params(ctx) for name in getattr(param, "opts", ())}
        moved: list[str] = []
        kept: list[str] = []
        rest = args[at + 1 :]
        i = 0
        while i < len(rest):
            word = rest[i]
            name = word.split("=", 1)[0]
            if word == "--":
                kept.extend(rest[i:])
                break
            if name in options and name not in own:
                if "=" in word:
                    moved.append(word)
                    i += 1
                elif i + 1 < len(rest):
                    moved.extend(rest[i : i + 2])
                    i += 2
                else:
                    raise click.UsageError(f"Option '{word}' requires an argument (a value after it).", ctx)
                continue
            kept.append(word)
            i += 1
        return super().parse_args(ctx, [*args[:at], *moved, args[at], *kept])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=WHOLE_SUMMARY)))
        if rows:
            with formatter.section(click_catalogue(current().lang).gettext("Commands")):
                formatter.write_dl(rows)
