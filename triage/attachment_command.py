"""`triage attachment ID N --out DIR [--clean]`, and the case's files as `triage show` lists them.

A face of ``triage.attachments`` and ``triage.cleaning``: it parses, asks for the passphrase, prints.
The name a file came with is a stranger's text: it is shown inert (``triage.text.clean``) and never used
as a path before ``safe_file_name`` made it one.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.panel import Panel
from rich.text import Text

from triage.app import App, friendly_errors
from triage.attachments import TYPE_WORDS, Attachment, blob_store, case_files, pick, save_original
from triage.cleaning import save_clean
from triage.file_words import size_text
from triage.i18n import Translator
from triage.policy import load_policy
from triage.text import clean


def type_text(kind: str, t: Translator) -> str:
    return t.gettext(TYPE_WORDS[kind]) if kind in TYPE_WORDS else clean(kind)


def file_lines(files: list[Attachment], t: Translator) -> list[str]:
    """Each file in two lines: number, name as given, size; then its types and SHA-256."""
    lines = []
    for f in files:
        origin = t.gettext("with a message of %(day)s", day=f.sent_on) if f.in_followup else None
        origin = origin or t.gettext("with the request")
        lines.append(f"{f.number}. {clean(f.name)}  ({size_text(f.size, t)}, {origin})")
        detected = type_text(f.detected, t) if f.present else t.gettext("not on this laptop")
        detected = t.gettext("damaged: it does not open") if f.damaged else detected
        facts = t.gettext("claimed: %(claimed)s; content: %(detected)s", claimed=clean(f.claimed) or "—",
                          detected=detected)  # fmt: skip
        if f.differs:
            facts += " — " + t.gettext("not what it claims to be")
        lines.append(f"   {facts}")
        lines.append(f"   SHA-256 {f.sha256}")
    return lines


def files_panel(files: list[Attachment], t: Translator) -> Panel:
    body = "\n".join(file_lines(files, t)) if files else t.gettext("No files were sent with this case.")
    if files:
        body += "\n" + t.gettext("Never open these files here. `triage attachment ID N --out FOLDER` saves one "
                                 "(--clean: without its metadata); the desk shows photos and PDFs safely.")  # fmt: skip
    return Panel(Text(body), title=t.gettext("Files"), title_align="left")


@click.command("attachment")
@click.argument("case_id", metavar="ID")
@click.argument("number", metavar="N", type=click.IntRange(min=1))
@click.option("--out", "folder", required=True, metavar="FOLDER",
              type=click.Path(file_okay=False, path_type=Path),
              help="The folder to save into (it must exist); an existing file there is never replaced.")
@click.option("--clean", "cleaned", is_flag=True,
              help="Save a copy without metadata (mat2 where installed, else rebuilt from pixels: a PNG, or a PDF "
                   "of page pictures) instead of the original.")  # fmt: skip
@click.pass_obj
@friendly_errors
def attachment_command(app: App, case_id: str, number: int, folder: Path, cleaned: bool) -> None:
    """Save file N of case ID (as `triage show ID` numbers them) into FOLDER.

    Without --clean: the file exactly as the person sent it, with its SHA-256 (the one its request names).
    It may hold where and on which phone it was made, and it may be crafted to attack the program that
    opens it: open it only on a machine that is never connected to a network. With --clean: a copy without
    metadata, safer to pass on. Both work offline. The file name is made safe for any file system.
    """
    t = app.t
    rules = load_policy(None)
    with app.session() as session:
        case = session.show_case(case_id, rules)
        chosen = pick(case_files(session, case), number)
        blobs = blob_store(session)
        saved = save_clean(blobs, chosen, folder) if cleaned else save_original(blobs, chosen, folder)
    click.echo(t.gettext("Saved %(path)s", path=saved.path))
    click.echo(t.gettext("SHA-256 %(digest)s", digest=saved.sha256))
    if not cleaned:
        click.echo(t.gettext("This is the original, exactly as sent (its SHA-256 is the one its request names). "
                             "Open it only on a machine that is never connected to a network: it may be crafted "
                             "to attack the program that opens it, and it may say where the person was."))  # fmt: skip
        return
    how = t.gettext("cleaned with mat2") if saved.how == "mat2" else t.gettext("rebuilt from its pixels only")
    click.echo(t.gettext("A copy without metadata (%(how)s).", how=how))
    if saved.pages_left_out:
        click.echo(t.ngettext("%(num)d page past the safe view's limit is not in the copy.",
                              "%(num)d pages past the safe view's limit are not in the copy.",
                              saved.pages_left_out))  # fmt: skip
