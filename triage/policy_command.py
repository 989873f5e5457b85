"""`triage policy`: the priority policy guide and the shipped default policy, from the installed package;
`triage policy check FILE [--questionnaire FILE]`: a policy checked against the questionnaire it is for.

The laptop has no copy of this repository, so the guide (docs/POLICY.md) ships in the wheel as
``triage/POLICY.md``; in a source checkout it is read from ``docs/``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import click

from crypto.questionnaire import MAX_FILE_BYTES, Questionnaire, QuestionnaireError, load_questionnaire
from triage.app import App, friendly_errors
from triage.errors import TriageError
from triage.i18n import N_
from triage.policy import Policy, default_policy_text, load_policy

GUIDE = "POLICY.md"


def guide_text() -> str:
    shipped = importlib.resources.files("triage").joinpath(GUIDE)
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parent.parent / "docs" / GUIDE
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    raise TriageError("The policy guide is missing from this installation; reinstall triage from the laptop kit.")


@click.group("policy", invoke_without_command=True)
@click.option("--toml", "as_toml", is_flag=True, help="Print the shipped default policy file, to copy and edit.")
@click.pass_context
def policy_command(ctx: click.Context, as_toml: bool) -> None:
    """How cases get their priority level and score, and how to change the rules (--policy FILE).

    Without --toml, prints the guide; with it, the default policy file that `triage list --policy`
    replaces. Needs no key and no passphrase.
    """
    if ctx.invoked_subcommand is None:
        click.echo(default_policy_text() if as_toml else guide_text(), nl=False)


def read_questionnaire(path: Path) -> Questionnaire:
    """A questionnaire file, checked; one sentence if it cannot be used."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise TriageError(f"Cannot read the questionnaire file {path}: {error.strerror}.") from None
    try:
        return load_questionnaire(data, source=path.name)
    except QuestionnaireError as error:
        raise TriageError(f"The questionnaire file {path} cannot be used: {error}.") from None


def policy_summary(policy: Policy) -> list[tuple[str, dict[str, object]]]:
    """What a checked policy will do, as sentences for the caseworker (msgid, values)."""
    q = policy.questionnaire
    assert q is not None
    bound = policy.bound(q)
    lines: list[tuple[str, dict[str, object]]] = [
        (N_("The policy fits the questionnaire %(id)s, version %(version)s: every field and choice it names is "
            "there."), {"id": q.id, "version": q.version}),
        (N_("Rules: %(rules)s. Answers that carry points or a level in the questionnaire: %(choices)s."),
         {"rules": len(bound.rules), "choices": len(bound.choices)}),
    ]  # fmt: skip
    if not policy.choice_points and any(c.points or c.level for f in q.fields for c in f.choices):
        lines.append((N_("choice_points = false: the points and levels the questionnaire gives its answers are "
                         "not used."), {}))  # fmt: skip
    return lines


@policy_command.command("check")
@click.argument("policy_file", metavar="POLICY", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--questionnaire", "questionnaire_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
    default=None, help=N_("The questionnaire file the policy is written for (default: the shipped one it names)."),
)  # fmt: skip
@click.pass_obj
@friendly_errors
def check_command(app: App, policy_file: Path, questionnaire_file: Path | None) -> None:
    """Check a policy file against its questionnaire: every field and choice it names must be there.

    Without --questionnaire, the policy is checked against the shipped questionnaire it names
    (questionnaire = "..." at its top; none: the shipped evacuation-request). Needs no key and no passphrase.
    """
    questionnaire = read_questionnaire(questionnaire_file) if questionnaire_file is not None else None
    policy = load_policy(policy_file, questionnaire=questionnaire)
    if policy.questionnaire is None:
        raise TriageError(
            f"The policy file {policy_file} is written for the questionnaire {policy.questionnaire_id!r}, which is "
            "not shipped with triage: give its file with --questionnaire FILE."
        )
    for message, values in policy_summary(policy):
        click.echo(app.t.gettext(message, **values))
