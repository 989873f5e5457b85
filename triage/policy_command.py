"""`triage policy`: the priority policy guide and the shipped default policy, from the installed package.

The laptop has no copy of this repository, so the guide (docs/POLICY.md) ships in the wheel as
``triage/POLICY.md``; in a source checkout it is read from ``docs/``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import click

from triage.app import friendly_errors
from triage.errors import TriageError
from triage.policy import default_policy_text

GUIDE = "POLICY.md"


def guide_text() -> str:
    shipped = importlib.resources.files("triage").joinpath(GUIDE)
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parent.parent / "docs" / GUIDE
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    raise TriageError("The policy guide is missing from this installation; reinstall triage from the laptop kit.")


@click.command("policy")
@click.option("--toml", "as_toml", is_flag=True, help="Print the shipped default policy file, to copy and edit.")
@friendly_errors
def policy_command(as_toml: bool) -> None:
    """How cases get their priority level and score, and how to change the rules (--policy FILE).

    Without --toml, prints the guide; with it, the default policy file that `triage list --policy`
    replaces. Needs no key and no passphrase.
    """
    click.echo(default_policy_text() if as_toml else guide_text(), nl=False)
