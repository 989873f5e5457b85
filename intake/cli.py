"""The ``intake`` command: set up the instance, manage caseworker keys, serve, export, apply acknowledgements.

Every failure ends in one sentence saying why and what to do, with exit status 1; never a traceback.
"""

from __future__ import annotations

import datetime
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

import crypto
from crypto.keyfile import MAGIC as PRIVATE_KEY_MAGIC
from intake import backup, bundle_file, doctor, export_progress, files, questionnaires, rotation_text, status
from intake.config import ConfigError, IntakeConfig
from intake.database import CompactionWaitError
from intake.exchange import ExportResult
from intake.instance import Instance, InstanceError
from intake.questionnaire_command import questionnaire_group
from intake.storage import AckReplayedError, DuplicateRecipientError, Storage, StorageError, today

F = TypeVar("F", bound=Callable[..., Any])

PRIVATE_KEY = (
    "{file} is a caseworker's PRIVATE key file: it was not read into the server and nothing was copied. "
    "Take it back to the offline laptop, delete it from this stick and from this machine, and register "
    "the public file NAME.pub that `triage keygen` printed."
)

NO_RECIPIENT = (
    "No caseworker key is registered, so nothing could be sealed. A caseworker runs "
    "`triage keygen --name NAME` on the offline laptop; then run `intake recipients add NAME.pub`."
)

ACK_ERRORS: dict[type[Exception], str] = {
    AckReplayedError: "This acknowledgement was applied before; nothing was deleted.",
    crypto.WrongServerError: "This acknowledgement was made for another server; nothing was deleted.",
    crypto.UnknownSignerError: "This acknowledgement is signed by a key that is not a registered caseworker; "
                               "nothing was deleted.",
    crypto.TamperedError: "This acknowledgement is damaged, truncated or forged (its signature does not verify); "
                          "nothing was deleted.",
    crypto.UnsupportedVersionError: "This acknowledgement is of a newer format; upgrade intake. Nothing was deleted.",
    crypto.MalformedError: "This file is not an acknowledgement; nothing was deleted.",
}  # fmt: skip


def friendly(command: F) -> F:
    """Turn the errors a person can act on into one sentence and exit status 1."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except click.ClickException:
            raise
        except (ConfigError, InstanceError, files.FileRefused, backup.BackupError, CompactionWaitError) as error:
            raise click.ClickException(str(error)) from None
        except SQLAlchemyError as error:
            raise click.ClickException(
                f"The database could not be used ({type(error).__name__}); run `intake init` first, "
                "and check INTAKE_DATABASE_URL."
            ) from None
        except OSError as error:
            raise click.ClickException(f"{error.strerror or 'file error'}: {error.filename or ''}".strip()) from None

    return run  # type: ignore[return-value]


class Context:
    def __init__(self, instance_dir: Path | None) -> None:
        self.instance_dir = instance_dir

    @functools.cached_property
    def config(self) -> IntakeConfig:
        return IntakeConfig.from_env(instance_dir=self.instance_dir)

    def storage(self) -> Storage:
        Instance(self.config).secret()  # a clear "run intake init" before any database error
        storage = Storage(self.config.database_url)
        # No connection outlives the command (a restore checks that nobody else is connected).
        click.get_current_context().call_on_close(storage.dispose)
        return storage


pass_context = click.make_pass_decorator(Context)


class WholeSummaries(click.Group):
    """click cuts command summaries at the terminal width; a new operator needs them whole."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, command.get_short_help_str(limit=1000))
                for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None and not command.hidden]  # fmt: skip
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=WholeSummaries, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="evac-intake", prog_name="intake")
@click.option("--instance", "instance_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding all server state (default: $INTAKE_INSTANCE_DIR).")  # fmt: skip
@click.pass_context
def main(ctx: click.Context, instance_dir: Path | None) -> None:
    """Run the intake server of sealed evacuation requests.

    Settings come from INTAKE_* environment variables (INTAKE_INSTANCE_DIR, INTAKE_DATABASE_URL,
    INTAKE_DEFAULT_LOCALE, INTAKE_EXIT_URL, INTAKE_MAX_PENDING, ...); --instance overrides the folder.
    """
    ctx.obj = Context(instance_dir)


@main.command()
@pass_context
@friendly
def init(ctx: Context) -> None:
    """Create or upgrade the database and create the server's keys if missing.

    Prints the fingerprint of the server's bundle-signing key: caseworkers compare it when they first
    import a bundle.
    """
    from intake.questionnaire_form import enabled_languages, load_configured

    enabled_languages(ctx.config, load_configured(ctx.config))  # a questionnaire the server cannot serve: stop here
    server = Instance(ctx.config).initialize()
    served = questionnaires.record_served(ctx.storage(), ctx.config, today())  # every export carries it
    click.echo(f"Instance ready in {ctx.config.instance_dir}")
    click.echo(f"Questionnaire: {served.id} version {served.version} (hash {served.sha256[:16]})")
    click.echo(f"Server key fingerprint: {server.fingerprint}")


@main.group(cls=WholeSummaries)
def recipients() -> None:
    """Manage the caseworker public keys that requests are sealed to."""


@recipients.command("add")
@click.argument("file", type=click.Path(path_type=Path, allow_dash=True))
@click.option("--former", is_flag=True, help="Only name it in exports as a removed key waiting envelopes were "
              "sealed to; new requests are not sealed to it.")  # fmt: skip
@pass_context
@friendly
def recipients_add(ctx: Context, file: Path, former: bool) -> None:
    """Register the caseworker public key in FILE (NAME.pub, made by `triage keygen`; `-`: standard input)."""
    data = files.read_bounded(file, files.MAX_PUBLIC_KEY_BYTES, "a caseworker public key file")
    if data.startswith(PRIVATE_KEY_MAGIC):
        raise click.ClickException(PRIVATE_KEY.format(file=file))
    try:
        public = crypto.PublicIdentity.from_text(data)
    except crypto.CryptoError:
        raise click.ClickException(f"{file} is not a valid caseworker public key file.") from None
    if former:
        named = ctx.storage().remember_former(public, today())
        if not named:
            raise click.ClickException("No waiting envelope names this key (or it is registered); nothing changed.")
        click.echo(f"Kept {public.name} ({public.fingerprint}) as a former recipient: {named} waiting envelope(s) "
                   "that name it can be exported again. New requests are not sealed to it.")  # fmt: skip
        return
    try:
        added = ctx.storage().add_recipient(public, today())
    except DuplicateRecipientError as error:
        raise click.ClickException(f"Refused: {error}. Two caseworkers must never share a name; ask the "
                                   "caseworker to make a key with a name of their own.") from None
    except crypto.CryptoError:
        raise click.ClickException(f"{file} holds an encryption key nothing can be sealed to; it was not "
                                   "added. Ask the caseworker to make a new key with `triage keygen`.") from None
    if not added:
        raise click.ClickException(f"This key is already registered: {public.fingerprint}")
    click.echo(f"Added {public.name}: {public.fingerprint}")
    click.echo("Read this fingerprint aloud with the caseworker and check it matches theirs.")


@recipients.command("list")
@pass_context
@friendly
def recipients_list(ctx: Context) -> None:
    """List the registered caseworker keys."""
    found = ctx.storage().recipients()
    if not found:
        click.echo(NO_RECIPIENT)
    for r in found:
        click.echo(f"{r.fingerprint}  {r.public.name}  added {r.added_on.isoformat()}")


@recipients.command("remove")
@click.argument("fingerprint")
@click.option("--force", is_flag=True, help="Remove it even if some waiting envelopes only this key can read.")
@pass_context
@friendly
def recipients_remove(ctx: Context, fingerprint: str, force: bool) -> None:
    """Stop sealing new requests to the key with FINGERPRINT (exports go on; see docs/OPERATIONS.md)."""
    try:
        normal = crypto.normalize_fingerprint(fingerprint)
    except crypto.MalformedError:
        raise click.ClickException("That is not a fingerprint (32 hexadecimal digits).") from None
    storage = ctx.storage()
    if normal not in {r.fingerprint for r in storage.recipients()}:
        raise click.ClickException(f"No registered key has the fingerprint {normal}.")
    alone = storage.only_readable_by(normal)
    if alone and not force:
        raise click.ClickException(rotation_text.ONLY_THIS_KEY.format(count=alone, fingerprint=normal))
    storage.remove_recipient(normal, today())
    click.echo(f"Removed {normal}. New requests are no longer sealed to it; those already stored stay sealed to it.")
    if alone:
        click.echo(rotation_text.KEPT_AFTER_REMOVE.format(count=alone))


@recipients.command("drop-unreadable")
@click.option("--force", is_flag=True, help="Delete them; without it, only say how many there are.")
@pass_context
@friendly
def recipients_drop_unreadable(ctx: Context, force: bool) -> None:
    """Delete the waiting envelopes that no registered key can read (their keys were removed)."""
    storage = ctx.storage()
    if not force:
        click.echo(rotation_text.DROP_PREVIEW.format(count=storage.unreadable_count()))
        return
    gone = storage.drop_unreadable()
    click.echo(f"Deleted {gone} envelope(s) that no registered key could read.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@pass_context
@friendly
def serve(ctx: Context, host: str, port: int) -> None:
    """Run the development server (production: gunicorn intake.wsgi:app).

    Refuses to start while no caseworker key is registered.
    """
    if not ctx.storage().recipients():
        raise click.ClickException(NO_RECIPIENT)
    from intake.app import create_app
    from intake.devserver import PortError, bind

    try:
        server = bind(create_app(ctx.config), host, port)
    except PortError as error:
        raise click.ClickException(f"{error} Choose another with --port.") from None
    click.echo(f"Serving on http://{host}:{server.port}/ (no access log). Press Ctrl+C to stop.")
    server.serve_forever()


@main.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Bundle file to write (refused if it exists, unless --overwrite).")
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists already.")  # fmt: skip
@click.option("--part-size", type=click.IntRange(min=1 << 16), default=None, hidden=True,
              help="Split the bundle into parts of this many bytes (default: what a FAT32 stick holds).")  # fmt: skip
@pass_context
@friendly
def export(ctx: Context, out: Path, overwrite: bool, part_size: int | None) -> None:
    """Write a signed bundle of every envelope not yet acknowledged (FILE `-`: standard output)."""
    storage = ctx.storage()
    server_key = Instance(ctx.config).server_key()
    if not storage.recipients():  # a bundle nobody registered could read; refused before a number is spent
        raise click.ClickException(NO_RECIPIENT)
    to_stdout = str(out) == files.STDIN
    if to_stdout:
        result = _export_to_stdout(storage, server_key)
    else:
        result = _export_to_file(storage, server_key, out, overwrite, part_size)
    status.record_day(storage, status.EXPORTED_ON, today())
    expired = storage.expire_replies(today() - datetime.timedelta(days=ctx.config.reply_days))
    say = functools.partial(click.echo, err=to_stdout)  # the bundle owns standard output
    say(f"Exported {result.count} envelope(s) as bundle {result.sequence} to {'standard output' if to_stdout else out}")
    for line in rotation_text.kept_lines(result.unreadable, result.unknown_key):
        say(line)
    if expired:
        say(f"Deleted {expired} repl{'y' if expired == 1 else 'ies'} older than {ctx.config.reply_days} days.")
    say(f"Server key fingerprint: {server_key.public.fingerprint}")
    say("Next: carry it to the offline laptop and run `triage import` there.")


def _export_to_file(
    storage: Storage, server_key: crypto.ServerKey, out: Path, overwrite: bool, part_size: int | None = None
) -> ExportResult:
    """Stream the bundle into FILE (and FILE.part2, ... past 4 GiB: FAT32 sticks), atomic (intake.bundle_file)."""
    # Every refusal comes before storage.export: an export that is refused must not use up a bundle number.
    try:
        bundle_file.check_target(out, overwrite)
    except bundle_file.BundleFileError as error:
        raise click.ClickException(str(error)) from None
    result: ExportResult | None = None

    def write(stream: BinaryIO) -> ExportResult:
        nonlocal result
        with export_progress.shown(storage, stream) as out:  # a line on the terminal, nothing elsewhere
            result = storage.export(out, server_key, today())
        return result

    try:
        bundle_file.write_bundle_file(out, write, overwrite=overwrite, part_size=part_size)
    except BaseException:
        if result is not None:  # the bundle never reached FILE: its number is not spent
            storage.give_back(result.sequence)
        raise
    assert result is not None
    return result


def _export_to_stdout(storage: Storage, server_key: crypto.ServerKey) -> ExportResult:
    """Root writes the stick (`intake-admin export --out - > /media/usb/FILE`); a cut-off bundle never verifies."""
    if sys.stdout.isatty():  # before storage.export: a refusal spends no bundle number
        raise click.ClickException("Standard output is a terminal; send the bundle to a file: "
                                   "`intake export --out - > /media/usb/bundle.evb`.")  # fmt: skip
    stream = sys.stdout.buffer
    with export_progress.shown(storage, stream) as out:
        result = storage.export(out, server_key, today())
    try:
        stream.flush()
    except BaseException:
        storage.give_back(result.sequence)
        raise
    return result


@main.command()
@pass_context
@friendly
def compact(ctx: Context) -> None:
    """Rewrite the database so nothing in its layout follows the order requests arrived in.

    Stored rows carry no order (random ids, no row numbers), but a database file places new data where
    there is room, which follows arrival until it is rewritten. Run this daily (the systemd timer in
    deploy/ does) and after every export. Submissions wait for it: a few seconds on SQLite; on PostgreSQL
    about as long as it takes to copy the stored files once (about half a minute at the default 4 GiB cap).
    On PostgreSQL, if an export or a backup holds a table for more than 5 seconds, it stops there and says so:
    run it again once that has finished.
    """
    storage = ctx.storage()
    storage.compact()
    status.record_day(storage, status.COMPACTED_ON, today())
    click.echo("Compacted: the database file now holds its rows in random order.")


@main.command("status")
@pass_context
@friendly
def status_command(ctx: Context) -> None:
    """Show what waits, who can read it, the last export, acknowledgement and compaction, and free disk."""
    for line in status.render(status.read_status(ctx.config, ctx.storage()), today()):
        click.echo(line)


@main.command("doctor")
@click.option("--service-user", default=doctor.Places.service_user, show_default=True,
              help="The user the server runs as.")  # fmt: skip
@click.option("--torrc", type=click.Path(path_type=Path), default=doctor.Places.torrc, show_default=True,
              help="tor's configuration (checked where present).")  # fmt: skip
@click.option("--socket", "socket_path", type=click.Path(path_type=Path), default=doctor.Places.socket,
              show_default=True, help="The socket tor connects to (checked where present).")  # fmt: skip
@pass_context
@friendly
def doctor_command(ctx: Context, service_user: str, torrc: Path, socket_path: Path) -> None:
    """Check modes and owners, keys, the database, tor's settings, the timer and the clock; say how to fix each.

    Exits with status 1 if any problem is found.
    """
    places = doctor.Places(service_user=service_user, torrc=torrc, socket=socket_path)
    findings = doctor.examine(ctx.config, places, today())
    for line in doctor.render(findings):
        click.echo(line)
    if not all(f.ok for f in findings):
        ctx_exit = click.get_current_context()
        ctx_exit.exit(1)


@main.command("backup")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Backup file to write, mode 0600 (refused if it exists, unless --overwrite).")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists already.")
@pass_context
@friendly
def backup_command(ctx: Context, out: Path, overwrite: bool) -> None:
    """Write one file with the database and the instance's keys, while the server keeps serving.

    It holds ciphertext and the instance secrets: keep it encrypted and offline (docs/OPERATIONS.md §6).
    """
    result = backup.backup(ctx.config, out, overwrite)
    click.echo(f"Backed up the {result.database} database and the instance keys to {out} ({result.size:,} bytes).")
    click.echo("It holds the server key and the receipt secret: encrypt it and keep it offline.")


@main.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace this instance's database and keys with the backup's.")
@pass_context
@friendly
def restore_command(ctx: Context, file: Path, overwrite: bool) -> None:
    """Put a backup made by `intake backup` back onto this instance; stop the server first."""
    kind = backup.restore(ctx.config, file, overwrite)
    click.echo(f"Restored the {kind} database and the instance keys from {file}. Start the server again.")


@main.command("apply-ack")
@click.argument("file", type=click.Path(path_type=Path, allow_dash=True))
@pass_context
@friendly
def apply_ack(ctx: Context, file: Path) -> None:
    """Verify a caseworker's acknowledgement in FILE and securely delete the envelopes it names.

    An envelope is deleted only if the acknowledgement names its id and the digest of its exact bytes.
    FILE `-` reads standard input (root can pass a file on a stick it mounted).
    """
    data = files.read_bounded(file, files.MAX_ACK_BYTES, "a return file")
    storage = ctx.storage()
    server_key = Instance(ctx.config).server_key()
    try:
        result = storage.apply_ack(data, server_key, today())
    except (StorageError, crypto.CryptoError) as error:
        for kind, sentence in ACK_ERRORS.items():
            if isinstance(error, kind):
                raise click.ClickException(sentence) from None
        raise click.ClickException("This acknowledgement could not be used; nothing was deleted.") from None
    click.echo(f"Acknowledgement by {result.signer} for bundle {result.bundle_sequence}: "
               f"deleted {result.deleted} envelope(s).")  # fmt: skip
    if result.not_found:
        click.echo(f"{result.not_found} named envelope(s) were not here (already deleted earlier).")
    if result.mismatched:
        click.echo(f"{result.mismatched} named envelope(s) did not match the stored bytes and were kept.")
    if result.not_yours:
        click.echo(f"{result.not_yours} named envelope(s) were not sealed to this caseworker and were kept.")
    if result.replies:
        click.echo(f"Stored {result.replies} sealed repl{'y' if result.replies == 1 else 'ies'} for requesters.")
    if result.replies_again:
        click.echo(f"{result.replies_again} repl{'y was' if result.replies_again == 1 else 'ies were'} stored before "
                   "and not stored again (the next export tells the laptop they arrived).")  # fmt: skip


if __name__ == "__main__":
    main()


main.add_command(questionnaire_group)
