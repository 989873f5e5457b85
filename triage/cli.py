"""The ``triage`` command: keys, import, the priority queue, case notes and the acknowledgement.

This is one face of ``triage.operations``: it parses arguments, asks for the passphrase and prints;
what each command does happens there (the desk calls the same operations).

Run ``triage --help`` or ``triage COMMAND --help``. Every command that reads cases asks for the
passphrase (or reads --passphrase-file); decrypted requests exist only in this process's memory.
"""

from __future__ import annotations

from pathlib import Path

import click

from triage.app import App, TriageConfig, friendly_errors
from triage.desk_command import desk_command
from triage.errors import HomeError, TriageError
from triage.home import Home, default_home
from triage.identities import Keygen
from triage.operations import MAX_NOTE_CHARS
from triage.progress import progress_bar
from triage.store import STATUSES
from triage.summary import print_import_summary
from triage.views import list_command, show_command


def no_core_dumps() -> None:
    """A crash must not write decrypted requests or keys to disk in a core file."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # not POSIX, or not allowed: nothing more to do
        pass


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with your key and the case store. Default: $TRIAGE_HOME, else ~/.local/share/triage.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Read the passphrase from the first line of this file instead of asking (for scripts).",
)
@click.option(
    "--as",
    "caseworker",
    metavar="NAME",
    default=None,
    help="Which caseworker's key to use when several share this home (default: the one your passphrase opens).",
)
@click.version_option(package_name="evac-intake", prog_name="triage")
@click.pass_context
def main(ctx: click.Context, home: Path | None, passphrase_file: Path | None, caseworker: str | None) -> None:
    """Offline triage of sealed evacuation requests, on an air-gapped laptop.

    \b
    First time:   triage keygen --name NAME      then give NAME.pub to the operator
    Each trip:    triage import BUNDLE           (from the USB stick)
                  triage list                    who needs help first, and why
                  triage show ID / set ID --status S --note TEXT
                  triage ack --out FILE          back to the operator: `intake apply-ack FILE`
    """
    no_core_dumps()
    config = ctx.obj if isinstance(ctx.obj, TriageConfig) else TriageConfig()
    ctx.obj = App(config, Home(home or default_home()), passphrase_file, caseworker)


@main.command()
@click.option("--name", required=True, help="Your name or handle, as the operator will see it (1-64 characters).")
@click.pass_obj
@friendly_errors
def keygen(app: App, name: str) -> None:
    """Create your caseworker key (asks for a new passphrase twice).

    Writes the passphrase-protected private key and NAME.pub into the home folder. Give NAME.pub to
    the operator and read its fingerprint to them by voice or another channel you trust.
    """
    if app.home.key_path(name).exists():
        raise HomeError(f"A key named {name!r} already exists in {app.home.path}; choose another name.")
    new = Keygen(app.home, kdf=app.config.kdf).create(name, app.passphrase(new=True))
    click.echo(f"Public key:  {new.pub_path}")
    click.echo(f"Fingerprint: {new.public.fingerprint}")
    click.echo(
        "Give this file to the operator (`intake recipients add FILE`) and read the fingerprint to them "
        "so they can check it. Keep your passphrase: without it nobody can open your cases."
    )
    if not new.has_store_access:
        click.echo(
            f"This home already has a case store: a caseworker with access runs `triage grant {new.public.name}` "
            "to let you open it."
        )


@main.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--fingerprint",
    default=None,
    help="The server fingerprint the operator read to you; checked before anything is imported (first import).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (no progress bar).")
@click.pass_obj
@friendly_errors
def import_(app: App, bundle: Path, fingerprint: str | None, as_json: bool) -> None:
    """Import an export bundle from the server (verified, all or nothing).

    The first import pins the server's signing key and prints its fingerprint; compare it with the
    one the operator reads from `intake init`. Importing the same bundle twice changes nothing; an
    older bundle than the last one is refused. Envelopes your key cannot open are rejected: they are
    not stored and not acknowledged, so the server keeps them for the caseworker they were sealed to.
    """
    with app.session() as session, progress_bar("Importing", enabled=not as_json) as ticker:
        summary = session.import_bundle(
            bundle, expected_fingerprint=fingerprint, on_start=ticker.start, advance=ticker.advance
        )
    print_import_summary(summary, as_json=as_json)


main.add_command(list_command)
main.add_command(show_command)
main.add_command(desk_command)


@main.command("set")
@click.argument("case_id", metavar="ID")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="The new status of the case.")
@click.option("--note", default=None, help="A note to add (kept encrypted, with the day and your name).")
@click.pass_obj
@friendly_errors
def set_(app: App, case_id: str, status: str | None, note: str | None) -> None:
    """Change a case's status and/or add a note. ID is the short id from `triage list` (or longer)."""
    if status is None and not note:
        raise click.UsageError("Give --status, --note or both.")
    if note is not None and len(note) > MAX_NOTE_CHARS:  # before the passphrase is asked
        raise TriageError(f"A note has at most {MAX_NOTE_CHARS} characters.")
    with app.session() as session:
        entry_id, record = session.set_case(case_id, status=status, note=note)
    click.echo(f"Case {entry_id[:8]}: status {record.status}, {len(record.notes)} note(s).")


@main.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write.")
@click.pass_obj
@friendly_errors
def ack(app: App, out: Path) -> None:
    """Sign an acknowledgement of every envelope safely imported, for the operator.

    The operator runs `intake apply-ack FILE`; the server then deletes exactly these envelopes and the
    requesters' receipts say "collected". Envelopes not in it stay on the server and come in the next export.
    """
    with app.session() as session:
        written = session.write_ack(out)
    click.echo(f"Wrote {out}: acknowledges {written.entries} envelope(s), signed by {written.signer}.")
    click.echo(f"Carry it to the server; the operator runs `intake apply-ack {out.name}`.")


@main.command("pin-server")
@click.argument("bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--fingerprint", default=None, help="The new server fingerprint as the operator read it to you.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (use with --fingerprint).")
@click.pass_obj
@friendly_errors
def pin_server(app: App, bundle: Path, fingerprint: str | None, yes: bool) -> None:
    """Trust the server key that signed BUNDLE from now on (after the server's key changed on purpose).

    Only do this when the operator has told you the server key changed, and the fingerprint they read
    matches the new one shown here. The replay check starts again from this server's bundles.
    """
    with app.session() as session:
        change = session.server_key_change(bundle)
        new = change.in_bundle
        click.echo(f"Pinned now: {change.pinned.fingerprint if change.pinned else '(none)'}")
        click.echo(f"This file:  {new.fingerprint}")
        if change.unchanged:
            click.echo("This is already the pinned key; nothing changed.")
            return
        confirm = "Does the operator read you exactly this new fingerprint?"
        if fingerprint is None and not yes and not click.confirm(confirm, default=False):
            raise TriageError("Not confirmed; nothing changed.")
        session.pin_server(new, typed_fingerprint=fingerprint)
    click.echo(f"Pinned {new.fingerprint}. Import the bundle again with `triage import {bundle.name}`.")


@main.command()
@click.argument("name")
@click.pass_obj
@friendly_errors
def grant(app: App, name: str) -> None:
    """Let another caseworker of this home open the case store with their own key."""
    with app.session() as session:
        matches = session.grant(name)
    for public in matches:
        click.echo(f"{public.name} ({public.fingerprint}) can now open this case store.")


@main.command()
@click.pass_obj
@friendly_errors
def info(app: App) -> None:
    """Show the home folder, its caseworkers, the pinned server and what the store holds."""
    with app.session() as session:
        info = session.info()
    click.echo(f"Home:        {info.home}")
    click.echo(f"You:         {info.you.name} ({info.you.fingerprint})")
    for public, access in info.caseworkers:
        click.echo(f"Caseworker:  {public.name} ({public.fingerprint}){'' if access else ' - no access yet'}")
    click.echo(f"Server:      {info.server.fingerprint if info.server else '(not pinned yet)'}")
    click.echo(f"Last bundle: {info.last_bundle if info.last_bundle is not None else '(none)'}")
    click.echo(f"Cases:       {info.cases}")


if __name__ == "__main__":
    main()
