"""`triage desk`: unlock once in the terminal, then serve the desk on loopback until Ctrl-C.

Flask is imported only when the command runs, so the rest of the command line works without the
``[desk]`` extra installed.
"""

from __future__ import annotations

import time
import webbrowser
from pathlib import Path

import click

from triage.app import App, friendly_errors
from triage.errors import TriageError
from triage.i18n import translator
from triage.operations import Session
from triage.policy import load_policy
from triage.views import LANG_OPTION, POLICY_OPTION


@click.command("desk")
@click.option(
    "--idle-minutes",
    type=click.IntRange(min=1, max=24 * 60),
    default=10,
    show_default=True,
    help="Lock the desk (forget the key and every decrypted case) after this long without use.",
)
@LANG_OPTION
@click.option(
    "--usb",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="The USB stick's folder, shown first on the import page.",
)
@click.option("--no-browser", is_flag=True, help="Only print the address; do not open a browser.")
@POLICY_OPTION
@click.pass_obj
@friendly_errors
def desk_command(
    app: App, idle_minutes: int, lang: str | None, usb: Path | None, no_browser: bool, policy: Path | None
) -> None:
    """The caseworker's desk: the queue, cases and the USB stick in your browser, on this laptop only.

    Asks for the passphrase once, then prints an address with a secret in it (and opens it in the
    browser where there is one). Only this laptop can connect, and only with that address. Stop it
    with Ctrl-C; it locks itself after --idle-minutes without use.
    """
    try:
        from triage.desk import DeskState, create_app
        from triage.desk.serve import start
    except ImportError:
        raise TriageError(app.t.gettext(
            "The desk needs its optional part: pip install 'evac-intake[desk]'. The command line works without it."
        )) from None  # fmt: skip
    rules = load_policy(policy)
    identity = app.identity()
    with Session.open(app.config, app.home, identity):
        pass  # no access to this store: say so now, in the terminal, not in the browser
    state = DeskState(
        app.config, app.home, rules, caseworker=app.caseworker, lang=lang or app.lang, idle_seconds=idle_minutes * 60.0,
        usb_folder=usb,
    )  # fmt: skip
    state.unlock_with(identity)
    del identity
    running = start(create_app(state), state)
    t = translator(state.lang)
    click.echo(t.gettext("The desk is open at %(address)s", address=running.address))
    click.echo(t.gettext("Only this laptop can reach it. Press Ctrl-C here to close it."))
    if not no_browser:
        webbrowser.open(running.address)
    try:
        while True:
            time.sleep(1)
            state.lock_if_idle()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    click.echo(t.gettext("The desk is closed."))
