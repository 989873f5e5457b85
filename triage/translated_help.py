"""``--help`` in the caseworker's language, for a click command whose help texts are catalogue entries.

click writes ``--help`` in English only. ``TranslatedCommand`` looks up, at the moment help is shown,
the command's help, each option's help and click's own few words ("Usage:", "Options", "default")
in triage's catalogue, in the language the group chose (``--lang``, ``$TRIAGE_LANG`` or the locale).
Mark the texts with ``N_`` where they are written, so that extraction finds them.
"""

from __future__ import annotations

import inspect

import click

from triage.i18n import N_, Translator, translator

HELP_OPTION_HELP = N_("Show this message and exit.")
USAGE = N_("Usage:")
OPTIONS = N_("Options")
DEFAULT = N_("default:")
# Placeholders for option values, as the commands name them (metavar=...).
METAVARS = frozenset({N_("MINUTES"), N_("FOLDER"), N_("FILE")})


def _translator(ctx: click.Context) -> Translator:
    lang = getattr(ctx.obj, "lang", None)  # the group's App, which every subcommand's context inherits
    return translator(lang if lang in ("en", "ru") else "en")


class TranslatedCommand(click.Command):
    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        t = _translator(ctx)
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), t.gettext(USAGE) + " ")

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if not self.help:
            return
        text = inspect.cleandoc(_translator(ctx).gettext(self.help)).partition("\f")[0]
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(text)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        t = _translator(ctx)
        records = []
        for param in self.get_params(ctx):
            if not isinstance(param, click.Option):
                continue
            english = param.help
            if english:
                param.help = t.gettext(HELP_OPTION_HELP if english == HELP_OPTION_HELP else english)
            try:
                record = param.get_help_record(ctx)
            finally:
                param.help = english
            if record is not None:
                names = " ".join(t.gettext(word) if word in METAVARS else word for word in record[0].split(" "))
                records.append((names, record[1].replace("default:", t.gettext(DEFAULT))))
        if records:
            with formatter.section(t.gettext(OPTIONS)):
                formatter.write_dl(records)
