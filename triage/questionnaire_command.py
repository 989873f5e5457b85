"""`triage questionnaire list | show | accept`: the questionnaire versions the server asked people with.

An import stops when a bundle carries a version nobody accepted (``triage.questionnaires``); these
commands show what it asks and what changed, and accept it on purpose.
"""

from __future__ import annotations

import click

from crypto.questionnaire import Questionnaire
from triage import questionnaires
from triage.app import App, friendly_errors
from triage.i18n import N_, Translator
from triage.questionnaire_changes import change_lines

STATES = {questionnaires.BUILT_IN: N_("built in"), questionnaires.ACCEPTED: N_("accepted"),
          questionnaires.WAITING: N_("WAITING for your decision")}  # fmt: skip


def _echo_lines(lines: list[tuple[bool, str]]) -> None:
    for loud, text in lines:
        click.echo(("!! " if loud else "   ") + text)


def _fields(q: Questionnaire, t: Translator) -> None:
    lang = t.lang if t.lang in q.languages else q.languages[0]
    for f in q.fields:
        required = t.gettext("required") if f.required else t.gettext("optional")
        click.echo(f'   "{f.id}" ({f.kind}, {required}): {f.label[lang]}')


@click.group("questionnaire")
def questionnaire_group() -> None:
    """The questionnaires the server asks people with: list them, see what changed, accept a new version."""


@questionnaire_group.command("list")
@click.pass_obj
@friendly_errors
def list_versions(app: App) -> None:
    """List every questionnaire version this home knows, and which wait for your decision."""
    with app.session() as session:
        found = questionnaires.versions(session.store)
    t = app.t
    for version in found:
        q = version.questionnaire
        click.echo(t.gettext('%(sha)s  "%(id)s" version %(version)s, %(fields)s questions, %(languages)s: %(state)s',
                             sha=q.sha256[:16], id=q.id, version=q.version, fields=len(q.fields),
                             languages=", ".join(q.languages), state=t.gettext(STATES[version.state])))  # fmt: skip
    if any(v.state == questionnaires.WAITING for v in found):
        click.echo(t.gettext("See what a waiting version changed with `triage questionnaire show HASH`; accept it "
                             "with `triage questionnaire accept HASH`."))  # fmt: skip


@questionnaire_group.command("show")
@click.argument("prefix", metavar="HASH")
@click.pass_obj
@friendly_errors
def show(app: App, prefix: str) -> None:
    """Show what a questionnaire version asks; for a waiting one, what it changed. HASH: its first 8+ characters."""
    t = app.t
    with app.session() as session:
        store = session.store
        version = questionnaires.find_version(store, prefix)
        if version.state == questionnaires.WAITING:
            _echo_lines(change_lines(questionnaires.waiting_change(store, version.questionnaire), t))
            return
    q = version.questionnaire
    click.echo(t.gettext('"%(id)s" version %(version)s (%(state)s), hash %(sha)s:', id=q.id, version=q.version,
                         state=t.gettext(STATES[version.state]), sha=q.sha256))  # fmt: skip
    _fields(q, t)


@questionnaire_group.command("accept")
@click.argument("prefixes", metavar="HASH...", nargs=-1, required=True)
@click.pass_obj
@friendly_errors
def accept(app: App, prefixes: tuple[str, ...]) -> None:
    """Accept a waiting questionnaire version after checking it with your colleagues; import again after.

    HASH is the beginning (8 or more characters) of the hash a stopped import or `triage questionnaire list`
    shows. Cases asked with it are then imported and shown with its words.
    """
    t = app.t
    with app.session() as session:
        store = session.store
        changes = [questionnaires.waiting_change(store, questionnaires.find_waiting(store, p)) for p in prefixes]
        chosen = questionnaires.accept_all(store, prefixes)
    for change, q in zip(changes, chosen, strict=True):
        _echo_lines(change_lines(change, t))
        click.echo(t.gettext('ACCEPTED: questionnaire "%(id)s" version %(version)s (hash %(sha)s). Import the '
                             "bundle again.", id=q.id, version=q.version, sha=q.sha256[:16]))  # fmt: skip
