"""`triage list` and `triage show`: the priority queue and one case, opened in memory only.

Faces of ``Session.list_cases``, ``list_cases_json`` and ``show_case`` in ``triage.operations``.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path

import click
from rich.console import Group
from rich.text import Text

from triage.app import App, friendly_errors
from triage.attachment_command import files_panel
from triage.attachments import case_files
from triage.cases import Skipped
from triage.cli_language import StatusChoice
from triage.i18n import N_, Translator, language_of, translator
from triage.policy import load_policy
from triage.progress import progress_bar
from triage.render import (
    burst_line,
    case_view,
    cases_table,
    console_for,
    fold_bursts,
    queue_heading,
    write_csv,
    write_json,
)

SCREEN_MARGIN = 5  # lines kept for the count, the header, a notice and the prompt

# The language: `triage --lang ru ...` (or $TRIAGE_LANG, or the locale, read by click), or after the command.
GLOBAL_LANG_OPTION = click.option(
    "--lang",
    metavar="en|ru",
    envvar=["TRIAGE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"],  # click reads the first one set
    default="en",
    callback=lambda _ctx, _param, value: language_of(value),
    help="Language of what triage prints: en or ru (default: $TRIAGE_LANG, else your locale, else English).",
)
LANG_OPTION = click.option(
    "--lang",
    metavar="en|ru",
    default=None,
    callback=lambda _ctx, _param, value: language_of(value) if value else None,
    help=N_("Language of the output, here: en or ru (default: triage's --lang)."),
)
POLICY_OPTION = click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=N_("A priority policy file (TOML) to use instead of the shipped one; see `triage policy`."),
)


def _skipped_line(skipped: Skipped, t: Translator) -> str | None:
    parts = []
    if skipped.not_for_you:
        parts.append(
            t.ngettext("%(num)d sealed only to another caseworker of this home",
                       "%(num)d sealed only to another caseworker of this home", skipped.not_for_you)
        )  # fmt: skip
    if skipped.unreadable:
        parts.append(t.ngettext("%(num)d could not be opened (damaged)", "%(num)d could not be opened (damaged)",
                                skipped.unreadable))  # fmt: skip
    return t.gettext("Not shown: %(what)s.", what="; ".join(parts)) if parts else None


@click.command("list")
@click.option(
    "--status", "statuses", multiple=True, type=StatusChoice(),
    help="Only cases with this status, by its name in your language or in English (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per case, with the decrypted request.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with one row per case (formula-like cells are defused).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Only the first N cases of the queue (the table's default: as many as fit the screen).",
)
@click.option("--all", "show_all", is_flag=True, help="The table shows every case (best with --pager).")
@click.option("--pager", is_flag=True, help="Show the table through your pager ($PAGER), to scroll through it.")
@click.option("--each", is_flag=True,
              help="Give every request of a burst (near-identical requests sent close together) its own row.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Processes opening envelopes at once (default: one per CPU core, at most 8).",
)
@click.option(
    "--reopen",
    is_flag=True,
    help="Open every sealed envelope again instead of the encrypted cache made on import (slower).",
)
@POLICY_OPTION
@LANG_OPTION
@click.pass_obj
@friendly_errors
def list_command(
    app: App,
    statuses: tuple[str, ...],
    as_json: bool,
    as_csv: bool,
    limit: int | None,
    jobs: int | None,
    reopen: bool,
    policy: Path | None,
    show_all: bool,
    pager: bool,
    each: bool,
    lang: str | None,
) -> None:
    """The priority queue: emergency first, then by score; with the reasons for each case.

    Output is decrypted: --json and --csv print requests in the clear to standard output. Do not
    redirect them to a USB stick or any file you do not destroy afterwards.
    """
    if as_json and as_csv:
        raise click.UsageError(app.t.gettext("Choose one of --json and --csv."))
    rules = load_policy(policy)  # a bad policy fails before the passphrase is asked
    t = translator(lang or app.lang)
    with app.session() as session:
        unlisted = 0 if reopen else session.unlisted()
        if unlisted:  # a store made by an older triage: its listing is written once, here
            with progress_bar(t.gettext("Preparing the list (once)"), enabled=True) as ticker:
                ticker.start(unlisted)
                session.prepare_listing(ticker.advance)
        with progress_bar(t.gettext("Opening cases"), enabled=not as_json) as ticker:
            ticker.start(session.count_cases())
            if as_json:
                # Each case is kept only as its small JSON encoding: 100,000 cases stay well under 1 GiB.
                encoded = session.list_cases_json(
                    rules, statuses=statuses, jobs=jobs, reopen=reopen, advance=ticker.advance
                )
            else:
                queue = session.list_cases(rules, statuses=statuses, jobs=jobs, reopen=reopen,
                                           advance=ticker.advance)  # fmt: skip
    out = sys.stdout.buffer
    if as_json:
        write_json(encoded.encoded[:limit], out)
        skipped = encoded.skipped
    else:
        skipped = queue.skipped
        if as_csv:
            write_csv(queue.cases[:limit], out)
        else:
            if limit is None and not show_all and not pager:
                limit = max(5, shutil.get_terminal_size((120, 30)).lines - SCREEN_MARGIN)
            rows, sizes, bursts = fold_bursts(queue.cases, each=each)
            ordered = rows if show_all and limit is None else rows[:limit]
            console = console_for()
            with console.pager(styles=True) if pager else contextlib.nullcontext():
                console.print(Text(queue_heading(len(ordered), queue.cases, t, statuses, rows=len(rows))),
                              soft_wrap=True)  # fmt: skip
                if bursts:
                    console.print(Text(burst_line(bursts, t)), soft_wrap=True)
                console.print(cases_table(ordered, t, width=console.width, burst_sizes=sizes))
    line = _skipped_line(skipped, t)
    if line:
        click.echo(line, err=True)


@click.command("show")
@click.argument("case_id", metavar="ID")
@POLICY_OPTION
@LANG_OPTION
@click.pass_obj
@friendly_errors
def show_command(app: App, case_id: str, policy: Path | None, lang: str | None) -> None:
    """One case in full: the request, why it has its priority, its status and notes."""
    rules = load_policy(policy)
    with app.session() as session:
        case = session.show_case(case_id, rules)
        t = translator(lang or app.lang)
        view = case_view(case, t, session.readers(case))
        view = Group(view, files_panel(case_files(session, case), t))  # the case's files (triage.attachments)
        session.mark_read(case)  # drawn above, before new messages are marked read
    console = console_for()
    # Level and reasons come first; a case taller than the terminal goes through the pager, from its top.
    tall = console.is_terminal and len(console.render_lines(view, pad=False)) > console.height - 1
    with console.pager(styles=True) if tall else contextlib.nullcontext():
        console.print(view)
