"""The ``intake`` command: set up the instance, manage caseworker keys, serve, export, apply acknowledgements.

Every failure ends in one sentence saying why and what to do, with exit status 1; never a traceback.
"""

from __future__ import annotations

import datetime
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

import crypto
from crypto.keyfile import MAGIC as PRIVATE_KEY_MAGIC
from intake.config import ConfigError, IntakeConfig
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
        except (ConfigError, InstanceError) as error:
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
        return Storage(self.config.database_url)


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
    server = Instance(ctx.config).initialize()
    click.echo(f"Instance ready in {ctx.config.instance_dir}")
    click.echo(f"Server key fingerprint: {server.fingerprint}")


@main.group(cls=WholeSummaries)
def recipients() -> None:
    """Manage the caseworker public keys that requests are sealed to."""


@recipients.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
@friendly
def recipients_add(ctx: Context, file: Path) -> None:
    """Register the caseworker public key in FILE (NAME.pub, made by `triage keygen`)."""
    data = file.read_bytes()
    if data.startswith(PRIVATE_KEY_MAGIC):
        raise click.ClickException(PRIVATE_KEY.format(file=file))
    try:
        public = crypto.PublicIdentity.from_text(data)
    except crypto.CryptoError:
        raise click.ClickException(f"{file} is not a valid caseworker public key file.") from None
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
@pass_context
@friendly
def recipients_remove(ctx: Context, fingerprint: str) -> None:
    """Stop sealing new requests to the key with FINGERPRINT."""
    try:
        normal = crypto.normalize_fingerprint(fingerprint)
    except crypto.MalformedError:
        raise click.ClickException("That is not a fingerprint (32 hexadecimal digits).") from None
    if not ctx.storage().remove_recipient(normal):
        raise click.ClickException(f"No registered key has the fingerprint {normal}.")
    click.echo(f"Removed {normal}. Requests already stored stay sealed to it.")


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
@pass_context
@friendly
def export(ctx: Context, out: Path, overwrite: bool) -> None:
    """Write a signed bundle of every envelope not yet acknowledged."""
    storage = ctx.storage()
    server_key = Instance(ctx.config).server_key()
    partial = out.with_name(out.name + ".partial")
    # Every refusal comes before storage.export: an export that is refused must not use up a bundle number.
    if out.exists() and not overwrite:
        raise click.ClickException(f"{out} exists already; choose another name, or add --overwrite to replace it.")
    if partial.exists():
        raise click.ClickException(f"{partial} is left over from an export that did not finish; delete it and "
                                   "export again.")  # fmt: skip
    try:
        with open(partial, "xb") as stream:
            result = storage.export(stream, server_key, today())
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    expired = storage.expire_replies(today() - datetime.timedelta(days=ctx.config.reply_days))
    click.echo(f"Exported {result.count} envelope(s) as bundle {result.sequence} to {out}")
    if expired:
        click.echo(f"Deleted {expired} repl{'y' if expired == 1 else 'ies'} older than {ctx.config.reply_days} days.")
    click.echo(f"Server key fingerprint: {server_key.public.fingerprint}")
    click.echo("Next: carry it to the offline laptop and run `triage import` there.")


@main.command()
@pass_context
@friendly
def compact(ctx: Context) -> None:
    """Rewrite the database so nothing in its layout follows the order requests arrived in.

    Stored rows carry no order (random ids, no row numbers), but a database file places new data where
    there is room, which follows arrival until it is rewritten. Run this daily (the systemd timer in
    deploy/ does) and after every export; submissions wait for it for a few seconds at most.
    """
    storage = ctx.storage()
    storage.compact()
    click.echo("Compacted: the database file now holds its rows in random order.")


@main.command("apply-ack")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
@friendly
def apply_ack(ctx: Context, file: Path) -> None:
    """Verify a caseworker's acknowledgement in FILE and securely delete the envelopes it names.

    An envelope is deleted only if the acknowledgement names its id and the digest of its exact bytes.
    """
    storage = ctx.storage()
    server_key = Instance(ctx.config).server_key()
    try:
        result = storage.apply_ack(file.read_bytes(), server_key, today())
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
