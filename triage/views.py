"""`triage list` and `triage show`: the priority queue and one case, opened in memory only.

Faces of ``Session.list_cases``, ``list_cases_json`` and ``show_case`` in ``triage.operations``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from triage.app import App, friendly_errors
from triage.cases import Skipped
from triage.policy import load_policy
from triage.progress import progress_bar
from triage.render import case_view, cases_table, console_for, write_csv, write_json
from triage.store import STATUSES

TABLE_ROWS = 100

POLICY_OPTION = click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A priority policy file (TOML) to use instead of the shipped one; see docs/POLICY.md.",
)


def _skipped_line(skipped: Skipped) -> str | None:
    parts = []
    if skipped.not_for_you:
        parts.append(f"{skipped.not_for_you} sealed only to another caseworker of this home")
    if skipped.unreadable:
        parts.append(f"{skipped.unreadable} could not be opened (damaged)")
    return ("Not shown: " + "; ".join(parts) + ".") if parts else None


@click.command("list")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Only cases with this status (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per case, with the decrypted request.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with one row per case (formula-like cells are defused).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help=f"Only the first N cases of the queue (table default: {TABLE_ROWS}).",
)
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
) -> None:
    """The priority queue: emergency first, then by score; with the reasons for each case.

    Output is decrypted: --json and --csv print requests in the clear to standard output. Do not
    redirect them to a USB stick or any file you do not destroy afterwards.
    """
    if as_json and as_csv:
        raise click.UsageError("Choose one of --json and --csv.")
    rules = load_policy(policy)  # a bad policy fails before the passphrase is asked
    with app.session() as session, progress_bar("Opening cases", enabled=not as_json) as ticker:
        ticker.start(session.count_cases())
        if as_json:
            # Each case is kept only as its small JSON encoding: 100,000 cases stay well under 1 GiB.
            encoded = session.list_cases_json(
                rules, statuses=statuses, jobs=jobs, reopen=reopen, advance=ticker.advance
            )
        else:
            queue = session.list_cases(rules, statuses=statuses, jobs=jobs, reopen=reopen, advance=ticker.advance)
    out = sys.stdout.buffer
    if as_json:
        write_json(encoded.encoded[:limit], out)
        skipped = encoded.skipped
    else:
        skipped = queue.skipped
        if limit is None and not as_csv:
            limit = TABLE_ROWS  # a screen is for the top of the queue; --limit or --json for the rest
        ordered = queue.cases[:limit]
        if as_csv:
            write_csv(ordered, out)
        else:
            title = f"{len(ordered)} of {len(queue.cases)} case(s)"
            title += f" with status {', '.join(statuses)}" if statuses else ""
            console_for().print(cases_table(ordered, title=title))
            if len(ordered) < len(queue.cases):
                click.echo(f"Showing the first {len(ordered)}; use --limit N to see more.", err=True)
    line = _skipped_line(skipped)
    if line:
        click.echo(line, err=True)


@click.command("show")
@click.argument("case_id", metavar="ID")
@POLICY_OPTION
@click.pass_obj
@friendly_errors
def show_command(app: App, case_id: str, policy: Path | None) -> None:
    """One case in full: the request, why it has its priority, its status and notes."""
    rules = load_policy(policy)
    with app.session() as session:
        case = session.show_case(case_id, rules)
        view = case_view(case, session.readers(case))  # drawn before new messages are marked read
        session.mark_read(case)
    console_for().print(view)
