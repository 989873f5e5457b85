"""`triage desk`: unlock once in the terminal, then serve the desk on loopback until Ctrl-C.

Flask is imported only when the command runs, so the rest of the command line works without the
``[desk]`` extra installed.

The address that opens the desk carries a one-time code. It never goes into another program's command
line (every user of the machine can read those): the browser is opened on a file only this user can
read (``triage.desk.launch``), and the terminal shows the address only with ``--show-address``.
"""

from __future__ import annotations

import time
import webbrowser
from pathlib import Path

import click

from triage.app import App, friendly_errors
from triage.errors import TriageError
from triage.i18n import N_, translator
from triage.operations import Session
from triage.policy import load_policy
from triage.translated_help import TranslatedCommand
from triage.views import LANG_OPTION, POLICY_OPTION

NO_DESK_PART = N_(
    "The desk's optional part (Flask) is not installed on this computer. On the laptop, install it from a "
    "laptop kit built with the option LAPTOP_DESK=1 (make laptop-kit … LAPTOP_DESK=1, then install.sh from "
    "the kit, with no network; docs/OPERATIONS.md, section 2). The command line works without it."
)


DESK_HELP = N_(
    "The caseworker's desk: the queue, cases and the USB stick in your browser, on this laptop only.\n\n"
    "Asks for the passphrase once, then opens the browser on a small file that only you can read (in "
    "memory, deleted once used). The file takes the browser to the desk's address, which holds a code that "
    "works once. The code never appears in a command line, where other users of this computer could read "
    "it, nor on the screen, unless you ask with --show-address: then paste the address into the browser "
    "yourself.\n\n"
    "Only this laptop can connect, and only a browser that came through that address, or one in which you "
    "typed your passphrase on the desk's unlock page (after closing the browser, open the desk's address "
    "again from the browser's history: it asks for the passphrase). Stop it with Ctrl-C; it locks itself "
    "after --idle-minutes without use."
)


@click.command("desk", cls=TranslatedCommand, help=DESK_HELP)
@click.option(
    "--idle-minutes",
    type=click.IntRange(min=1, max=24 * 60),
    metavar="MINUTES",
    default=10,
    show_default=True,
    help=N_("Lock the desk (forget the key and every decrypted case) after this long without use."),
)
@LANG_OPTION
@click.option(
    "--usb",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    metavar="FOLDER",
    default=None,
    help=N_("The USB stick's folder, shown first on the import page."),
)
@click.option("--no-browser", is_flag=True, help=N_("Do not start a browser; open the file it names yourself."))
@click.option(
    "--show-address",
    is_flag=True,
    help=N_(
        "Also print the one-time address, to paste into a browser yourself. Anyone who sees it before you "
        "use it can open the desk once."
    ),
)
@POLICY_OPTION
@click.pass_obj
@friendly_errors
def desk_command(
    app: App, idle_minutes: int, lang: str | None, usb: Path | None, no_browser: bool, show_address: bool,
    policy: Path | None,
) -> None:  # fmt: skip
    try:
        from triage.desk import DeskState, create_app
        from triage.desk.launch import LaunchFile
        from triage.desk.serve import start
    except ImportError:
        raise TriageError(app.t.gettext(NO_DESK_PART)) from None
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
    launch = LaunchFile(running.address)
    state.on_code_used = launch.remove
    t = translator(state.lang)
    try:
        if show_address:
            click.echo(t.gettext("The desk is open at %(address)s", address=running.address))
            click.echo(t.gettext("This address works once. Keep it to yourself until you have opened it."))
        else:
            click.echo(t.gettext("The desk is open. If no browser shows it, open this file in your browser: "
                                 "%(path)s", path=launch.path))  # fmt: skip
        click.echo(t.gettext("Only this laptop can reach it. Press Ctrl-C here to close it."))
        if not no_browser:
            webbrowser.open(launch.uri)  # the file's name, not the address, goes into the browser's command line
        while True:
            time.sleep(1)
            state.lock_if_idle()
    except KeyboardInterrupt:
        pass
    finally:
        launch.remove()
        running.stop()
    click.echo(t.gettext("The desk is closed."))
