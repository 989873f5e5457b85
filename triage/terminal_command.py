"""`triage terminal`: the desk in the terminal, for laptops whose browser cannot reach loopback (Tails).

Unlocks once (the passphrase prompt, or --passphrase-file), then runs the terminal desk until the
caseworker closes it or it locks itself after --idle-minutes without a key press. Textual is imported
only when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from triage.app import App, friendly_errors
from triage.errors import TriageError
from triage.i18n import translator
from triage.operations import Session
from triage.policy import load_policy
from triage.views import LANG_OPTION, POLICY_OPTION


@click.command("terminal")
@click.option(
    "--idle-minutes",
    type=click.IntRange(min=1, max=24 * 60),
    default=10,
    show_default=True,
    help="Lock (forget the key and every decrypted case, and close) after this long without a key press.",
)
@LANG_OPTION
@click.option(
    "--usb",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="The USB stick's folder: the newest bundle there is offered for import, the return file goes there.",
)
@POLICY_OPTION
@click.pass_obj
@friendly_errors
def terminal_command(app: App, idle_minutes: int, lang: str | None, usb: Path | None, policy: Path | None) -> None:
    """The caseworker's desk in this terminal: for Tails, where no browser can open `triage desk`.

    The queue (most urgent first, with the top reason; / searches in memory), a case with its notes,
    trail and conversation (s: status, n: note, r: reply, t: a ready-made reply), and the USB stick
    (i: import a bundle, a: write the return file). It opens no network port. It asks for the
    passphrase once and locks itself (closes, forgetting the key) after --idle-minutes without a key.
    """
    t = translator(lang or app.lang)
    try:
        from triage.terminal import TerminalDesk
        from triage.terminal.app import LOCKED
    except ImportError:
        raise TriageError(t.gettext(
            "The terminal desk needs Textual, which the laptop kit installs; install the kit again "
            "(docs/OPERATIONS.md, section 2)."
        )) from None  # fmt: skip
    rules = load_policy(policy)
    identity = app.identity()
    with Session.open(app.config, app.home, identity) as session:
        del identity
        outcome = TerminalDesk(session, rules, t, usb=usb, idle_seconds=idle_minutes * 60.0).run()
    if outcome == LOCKED:
        click.echo(t.gettext("The terminal desk locked itself after %(minutes)s minutes without use; your key is "
                             "forgotten. Run `triage terminal` again to go on.", minutes=idle_minutes))  # fmt: skip
    else:
        click.echo(t.gettext("The terminal desk is closed; your key is forgotten."))
