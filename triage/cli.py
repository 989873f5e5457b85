"""The ``triage`` command: keys, import, the priority queue, case notes and the acknowledgement.

This is one face of ``triage.operations``: it parses arguments, asks for the passphrase and prints;
what each command does happens there (the desk calls the same operations).

Run ``triage --help`` or ``triage COMMAND --help``. Every command that reads cases asks for the
passphrase (or reads --passphrase-file); decrypted requests exist only in this process's memory.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import click

from triage import environment, freetext
from triage.app import App, TriageConfig, friendly_errors
from triage.attachment_command import attachment_command
from triage.cli_language import StatusChoice
from triage.commandgroup import GlobalOptionsGroup
from triage.desk_command import desk_command
from triage.errors import HomeError, TriageError
from triage.freetext import memory_folder, read_text
from triage.hardening import no_core_dumps
from triage.home import Home, default_home
from triage.i18n import N_, Translator
from triage.identities import Keygen
from triage.labels import status_text
from triage.operations import MAX_NOTE_CHARS
from triage.passphrase import LANGUAGES, ask_new_passphrase
from triage.policy_command import policy_command
from triage.progress import progress_bar
from triage.questionnaire_command import questionnaire_group
from triage.reply_words import reply_label, reply_state
from triage.summary import print_import_summary
from triage.templates import find_template, load_templates
from triage.terminal_command import terminal_command
from triage.text import clean
from triage.threads import MAX_REPLY_CHARS
from triage.views import GLOBAL_LANG_OPTION, list_command, show_command

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=GlobalOptionsGroup, context_settings=CONTEXT)
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
@GLOBAL_LANG_OPTION
@click.version_option(package_name="evac-intake", prog_name="triage")
@click.pass_context
def main(
    ctx: click.Context, home: Path | None, passphrase_file: Path | None, caseworker: str | None, lang: str
) -> None:
    """Offline triage of sealed evacuation requests, on an air-gapped laptop.

    \b
    First time:   triage keygen --name NAME      then give NAME.pub to the operator
    Each trip:    triage import BUNDLE           (from the USB stick)
                  triage list                    who needs help first, and why
                  triage show ID / set ID --status S --note
                  triage ack --out FILE          back to the operator: `intake apply-ack FILE`
    Or all of it in the browser:  triage desk    (the [desk] extra; loopback only)
    On Tails, in the terminal:    triage terminal (no browser can reach the desk there)
    In Russian:   triage --lang ru ...           (or TRIAGE_LANG=ru)
    """
    no_core_dumps()
    config = ctx.obj if isinstance(ctx.obj, TriageConfig) else TriageConfig()
    ctx.obj = App(config, Home(home or default_home()), passphrase_file, caseworker, lang)


@main.command()
@click.option("--name", required=True, help="Your name or handle, as the operator will see it (1-64 characters).")
@click.option("--words", "language", type=click.Choice(LANGUAGES), default="en", show_default=True,
              help="Language of the suggested passphrase's words.")  # fmt: skip
@click.pass_obj
@friendly_errors
def keygen(app: App, name: str, language: str) -> None:
    """Create your caseworker key (suggests a passphrase of words; asks for yours twice).

    Writes the passphrase-protected private key and NAME.pub into the home folder. Give NAME.pub to
    the operator and read its fingerprint to them by voice or another channel you trust.
    """
    if app.home.key_path(name).exists():
        raise HomeError(f"A key named {name!r} already exists in {app.home.path}; choose another name.")
    passphrase = app.passphrase() if app.passphrase_file else ask_new_passphrase(language)
    new = Keygen(app.home, kdf=app.config.kdf).create(name, passphrase)
    t = app.t
    click.echo(t.gettext("Public key:  %(path)s", path=new.pub_path))
    click.echo(t.gettext("Fingerprint: %(fingerprint)s", fingerprint=new.public.fingerprint))
    click.echo(t.gettext(
        "Give this file to the operator (`intake recipients add FILE`) and read the fingerprint to them "
        "so they can check it. Keep your passphrase: without it nobody can open your cases."
    ))  # fmt: skip
    if not new.has_store_access:
        click.echo(t.gettext(
            "This home already has a case store: a caseworker with access runs `triage grant %(name)s` "
            "to let you open it.", name=new.public.name
        ))  # fmt: skip


@main.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--fingerprint",
    default=None,
    help="The server fingerprint the operator read to you; checked before anything is imported. Needed for "
    "the first import when no one is at the keyboard to compare it.",
)
@click.option("--accept-recipients", is_flag=True,
              help="Accept a change in who can read new requests (shown by a refused import) after checking it "
                   "with your colleagues.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (no progress bar).")
@click.pass_obj
@friendly_errors
def import_(app: App, bundle: Path, fingerprint: str | None, accept_recipients: bool, as_json: bool) -> None:
    """Import an export bundle from the server (verified, all or nothing).

    The first import pins the server's signing key: it asks you to type the fingerprint the operator
    reads to you (from `intake init` or `intake export`), or takes --fingerprint, and compares. It also pins
    who can read new requests (the caseworker keys the server seals to); if that set changes later, the
    import stops and says who was added or removed until you accept it with --accept-recipients.
    Importing the same bundle twice changes nothing; an older bundle than the last one is refused.
    Envelopes your key cannot open are rejected: they are not stored and not acknowledged, so the server
    keeps them for the caseworker they were sealed to.
    """
    with app.session() as session:
        if fingerprint is None and session.store.pinned_server() is None:
            session.server_key_change(bundle)  # a file that is no bundle is refused before anything is asked
            fingerprint = _confirm_first_server(app.t)
        with progress_bar(app.t.gettext("Importing"), enabled=not as_json) as ticker:
            summary = session.import_bundle(
                bundle, expected_fingerprint=fingerprint, accept_recipients=accept_recipients,
                on_start=ticker.start, advance=ticker.advance,
            )  # fmt: skip
    print_import_summary(summary, as_json=as_json, t=app.t)


def _typing() -> bool:
    return sys.stdin.isatty()


def _confirm_first_server(t: Translator) -> str:
    """The first import: the person types the fingerprint the operator reads out; import compares it.

    The bundle's own fingerprint is never shown here: shown above the prompt, it would be copied instead
    of checked, and for a planted bundle it is the attacker's.
    """
    if not _typing():
        raise TriageError(t.gettext(
            "This is the first import into this home, so the server's key must be checked: run it again with "
            "--fingerprint and the fingerprint the operator reads to you."
        ))  # fmt: skip
    click.echo(t.gettext("First import: the server's key must be checked before anything is imported."), err=True)
    click.echo(t.gettext("Ask the operator to read you the server fingerprint (from `intake init` or `intake "
                         "export`)."), err=True)  # fmt: skip
    return str(click.prompt(t.gettext("Type the fingerprint the operator reads to you"), err=True))


main.add_command(list_command)
main.add_command(show_command)
main.add_command(desk_command)
main.add_command(terminal_command)
main.add_command(policy_command)
main.add_command(questionnaire_group)
main.add_command(attachment_command)


@main.command("set")
@click.argument("case_id", metavar="ID")
@click.option("--status", type=StatusChoice(), default=None,
              help="The new status of the case, by its name in your language or in English.")  # fmt: skip
@click.option("--note", "with_note", is_flag=True,
              help="Add a note (kept encrypted, with the day and your name). The text comes from standard input "
                   "when piped, else from $EDITOR (in memory), else a prompt: never from the command line, "
                   "which shell history keeps.")  # fmt: skip
@click.pass_obj
@friendly_errors
def set_(app: App, case_id: str, status: str | None, with_note: bool) -> None:
    """Change a case's status and/or add a note. ID is the short id from `triage list` (or longer).

    \b
    Examples:
      triage set 1a2b3c4d --status contacted
      triage set 1a2b3c4d --note                 (opens your editor, or asks)
      echo "called back" | triage set 1a2b3c4d --note --passphrase-file F
    """
    if status is None and not with_note:
        raise click.UsageError(app.t.gettext("Give --status, --note or both."))
    note = read_text("note", limit=MAX_NOTE_CHARS, t=app.t) if with_note else None  # before the passphrase is asked
    with app.session() as session:
        entry_id, record = session.set_case(case_id, status=status, note=note)
    t = app.t
    click.echo(t.gettext("Case %(id)s: %(status)s, ", id=entry_id[:8], status=status_text(record.status, t))
               + t.ngettext("%(num)d note.", "%(num)d notes.", len(record.notes)))  # fmt: skip


@main.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write (refused if the file exists, unless --overwrite).")
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists already.")  # fmt: skip
@click.pass_obj
@friendly_errors
def ack(app: App, out: Path, overwrite: bool) -> None:
    """Write the signed return file for the operator: what you hold, and your queued replies.

    It acknowledges every envelope safely imported (the server then deletes exactly these, and the
    requesters' receipts say "collected") and carries every reply queued with `triage reply`, sealed to
    each requester. The operator runs `intake apply-ack FILE`. Envelopes not in it stay on the server
    and come in the next export.
    """
    if out.exists() and not overwrite:  # before the passphrase: nothing to undo
        raise HomeError(f"{out} already exists; nothing was written. Choose another name, or add --overwrite.")
    with app.session() as session:
        written = session.write_ack(out, overwrite=overwrite)
    t = app.t
    click.echo(t.gettext("Wrote %(path)s: ", path=out)
               + t.ngettext("acknowledges %(num)d envelope", "acknowledges %(num)d envelopes", written.entries) + ", "
               + t.ngettext("carries %(num)d reply", "carries %(num)d replies", written.replies) + ", "
               + t.gettext("signed by %(name)s.", name=written.signer))  # fmt: skip
    click.echo(t.gettext("Carry it to the server; the operator runs `intake apply-ack %(name)s`.", name=out.name))
    if written.replies:
        click.echo(t.gettext("Replies stay queued, carried but not confirmed, until a bundle from the server says it "
                             "stored them; until then every return file carries them again."))  # fmt: skip


@main.command()
@click.argument("case_id", metavar="ID")
@click.option("--template", "template_name", default=None, metavar="NAME",
              help="Start from a ready-made reply, by the name `triage reply-templates` prints; it opens in "
                   "$EDITOR, and is refused while it still holds words in [brackets].")  # fmt: skip
@click.option("--language", type=click.Choice(["en", "ru"]), default="ru", show_default=True,
              help="The language of the ready-made reply.")  # fmt: skip
@click.option("--show", "show_seq", type=click.IntRange(min=1), default=None, metavar="N",
              help="Show reply number N of the case (as `triage show` numbers them) and where it is.")  # fmt: skip
@click.option("--edit", "edit_seq", type=click.IntRange(min=1), default=None, metavar="N",
              help="Change the words of reply N while no return file has carried it.")  # fmt: skip
@click.option("--withdraw", "withdraw_seq", type=click.IntRange(min=1), default=None, metavar="N",
              help="Withdraw reply N: no later return file carries it.")  # fmt: skip
@click.pass_obj
@friendly_errors
def reply(app: App, case_id: str, template_name: str | None, language: str, show_seq: int | None,
          edit_seq: int | None, withdraw_seq: int | None) -> None:  # fmt: skip
    """Write a reply to the person of case ID; it reaches them with the next return file (`triage ack`).

    The text comes from standard input when piped, else from $EDITOR (in memory), else a prompt; never from
    the command line, which shell history keeps. It is sealed here, on this laptop, to the person's reply key
    (only their receipt opens it), padded to one size, and queued until `triage ack --out FILE`.
    Requests sent before replies existed have no reply key: triage says so.

    A reply stays queued until the server confirms it stored it (the next bundle you import says so):
    every return file carries it again until then. Until a return file carries it, --edit N changes it and
    --withdraw N takes it back; after that it can only be withdrawn, and the return file already written
    may still deliver it.

    \b
    Ready-made replies to copy and adapt: see `triage reply-templates`.
    """
    chosen = [n for n in (show_seq, edit_seq, withdraw_seq) if n is not None]
    if len(chosen) > 1 or (chosen and template_name):
        raise TriageError(N_("Choose one of --show, --edit and --withdraw, without --template."))
    t = app.t
    if show_seq is not None:
        with app.session() as session:
            message = session.reply_message(case_id, show_seq)
        click.echo(f"{message['on']}  {reply_label(message, t)}, {reply_state(message, t)}")
        click.echo(clean(str(message["text"])))
        return
    if withdraw_seq is not None:
        with app.session() as session:
            entry_id, carried_on = session.withdraw_reply(case_id, withdraw_seq)
        if carried_on:
            click.echo(t.gettext(
                "Reply %(num)d of case %(id)s is withdrawn: no later return file carries it. But the return file "
                "written on %(day)s carried it: if the operator applies that file, the person will still see it. "
                "If that matters, ask the operator not to apply it, or write a reply that corrects it.",
                num=withdraw_seq, id=entry_id[:8], day=carried_on,
            ))  # fmt: skip
        else:
            click.echo(t.gettext("Reply %(num)d of case %(id)s is withdrawn; it never left this laptop.",
                                 num=withdraw_seq, id=entry_id[:8]))  # fmt: skip
        return
    if edit_seq is not None:
        with app.session() as session:
            current = session.reply_message(case_id, edit_seq)
            session.check_editable(current, edit_seq)
            text = read_text("reply", limit=MAX_REPLY_CHARS, initial=str(current["text"]), t=app.t)
            entry_id = session.edit_reply(case_id, edit_seq, text)
        click.echo(t.gettext("Reply %(num)d of case %(id)s is changed and sealed again; it leaves with the next "
                             "return file.", num=edit_seq, id=entry_id[:8]))  # fmt: skip
        return
    start = find_template(app.home.path, template_name, language).text if template_name else ""
    if start and not can_edit_template(environment.variables(), sys.stdin.isatty()):
        raise TriageError(app.t.gettext(
            "A ready-made reply has several lines and words in [brackets] to replace, which a one-line prompt "
            "cannot edit: set $EDITOR (for example EDITOR=nano), or pipe the finished text in."
        ))  # fmt: skip
    text = read_text("reply", limit=MAX_REPLY_CHARS, initial=start, t=app.t)
    with app.session() as session:
        entry_id, waiting = session.reply(case_id, text)
    click.echo(app.t.ngettext(
        "Reply to case %(id)s sealed and queued (%(num)d waiting). It leaves with the next `triage ack --out FILE`.",
        "Reply to case %(id)s sealed and queued (%(num)d waiting). It leaves with the next `triage ack --out FILE`.",
        waiting, id=entry_id[:8],
    ))  # fmt: skip


def can_edit_template(environ: Mapping[str, str], interactive: bool) -> bool:
    """A template is edited in $VISUAL/$EDITOR (in memory), or comes finished through a pipe; never a prompt."""
    if not interactive:
        return True
    editor = environ.get("VISUAL") or environ.get("EDITOR") or ""
    # freetext may start only the editors it can keep from writing state to disk (editor_command, issue 22);
    # where it has no such list yet, any editor is started.
    tamed = getattr(freetext, "editor_command", None)
    started = bool(editor) and (tamed is None or tamed(editor) is not None)
    return started and memory_folder(environ) is not None


@main.command("reply-templates")
@click.option("--language", type=click.Choice(["en", "ru"]), default=None, help="Only this language.")
@click.pass_obj
@friendly_errors
def reply_templates(app: App, language: str | None) -> None:
    """Show the ready-made replies, each with the name that `triage reply ID --template NAME` takes.

    Edit reply_templates.toml in your home folder to change them (copy the shipped one first).
    """
    t = app.t
    for template in load_templates(app.home.path, language):
        click.echo(f"{template.name}  [{template.language}]  {template.title}")
        click.echo("  " + t.gettext("Use: triage reply ID --template %(name)s --language %(lang)s",
                                    name=template.name, lang=template.language))  # fmt: skip
        for line in template.text.splitlines():
            click.echo("    " + line)
        click.echo("")


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
        t = app.t
        pinned = change.pinned.fingerprint if change.pinned else t.gettext("(none)")
        click.echo(t.gettext("Pinned now: %(fingerprint)s", fingerprint=pinned))
        click.echo(t.gettext("This file:  %(fingerprint)s", fingerprint=new.fingerprint))
        if change.unchanged:
            click.echo(t.gettext("This is already the pinned key; nothing changed."))
            return
        confirm = t.gettext("Does the operator read you exactly this new fingerprint?")
        if fingerprint is None and not yes and not click.confirm(confirm, default=False):
            raise TriageError(t.gettext("Not confirmed; nothing changed."))
        session.pin_server(new, typed_fingerprint=fingerprint)
    click.echo(t.gettext("Pinned %(fingerprint)s. Import the bundle again with `triage import %(name)s`.",
                         fingerprint=new.fingerprint, name=bundle.name))  # fmt: skip


@main.command()
@click.argument("name")
@click.pass_obj
@friendly_errors
def grant(app: App, name: str) -> None:
    """Let another caseworker of this home open the case store with their own key."""
    with app.session() as session:
        matches = session.grant(name)
    for public in matches:
        click.echo(app.t.gettext("%(name)s (%(fingerprint)s) can now open this case store.", name=public.name,
                                 fingerprint=public.fingerprint))  # fmt: skip


@main.command()
@click.pass_obj
@friendly_errors
def info(app: App) -> None:
    """Show the home folder, its caseworkers, the pinned server and what the store holds."""
    with app.session() as session:
        info = session.info()
    t = app.t
    click.echo(t.gettext("Home:        %(path)s", path=info.home))
    click.echo(
        t.gettext("You:         %(name)s (%(fingerprint)s)", name=info.you.name, fingerprint=info.you.fingerprint)
    )
    for public, access in info.caseworkers:
        line = t.gettext("Caseworker:  %(name)s (%(fingerprint)s)", name=public.name, fingerprint=public.fingerprint)
        click.echo(line + ("" if access else t.gettext(" - no access yet")))
    server = info.server.fingerprint if info.server else t.gettext("(not pinned yet)")
    click.echo(t.gettext("Server:      %(fingerprint)s", fingerprint=server))
    last = str(info.last_bundle) if info.last_bundle is not None else t.gettext("(none)")
    click.echo(t.gettext("Last bundle: %(sequence)s", sequence=last))
    click.echo(t.gettext("Cases:       %(count)s", count=info.cases))


if __name__ == "__main__":
    main()
