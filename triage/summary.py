"""The one summary an import prints: what was new, duplicate, rejected, and what is missing."""

from __future__ import annotations

import json

import click

from triage.i18n import Translator, translator
from triage.importer import ImportSummary

ENGLISH = translator("en")


def _ranges(summary: ImportSummary) -> str:
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in summary.gap_ranges)
    return text + (", ..." if summary.gaps > sum(b - a + 1 for a, b in summary.gap_ranges) else "")


def print_import_summary(summary: ImportSummary, *, as_json: bool, t: Translator = ENGLISH) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "sequence": summary.sequence, "high_water": summary.high_water, "entries": summary.total,
                    "new": summary.new, "duplicate": summary.duplicate, "rejected": summary.rejected,
                    "rejected_not_for_you": summary.rejected_not_for_you,
                    "rejected_unreadable": summary.rejected_unreadable,
                    "rejected_conflict": summary.rejected_conflict,
                    "gaps": summary.gaps, "gap_ranges": summary.gap_ranges,
                    "pinned_server": summary.pinned_now.fingerprint if summary.pinned_now else None,
                    "same_bundle_again": summary.same_bundle_again,
                    "followups": summary.followups, "followups_waiting": summary.followups_waiting,
                    "recipients": [{"name": k.name, "fingerprint": k.fingerprint} for k in summary.recipients],
                    "recipients_added": [k.fingerprint for k in summary.recipients_added],
                    "recipients_removed": [k.fingerprint for k in summary.recipients_removed],
                    "replies_delivered": summary.replies_delivered,
                    "files_new": summary.files_new, "files_already": summary.files_already,
                    "files_unclaimed": summary.files_unclaimed,
                }
            )
        )  # fmt: skip
        return
    if summary.pinned_now is not None:
        click.echo(
            t.gettext("Pinned the server's signing key: %(fingerprint)s", fingerprint=summary.pinned_now.fingerprint)
        )
        click.echo(t.gettext(
            "Compare it with the fingerprint the operator reads from `intake init`; if they differ, stop and "
            "tell them. Bundles signed by any other key will be refused."
        ))  # fmt: skip
    if summary.recipients_pinned_now:
        click.echo(t.gettext("New requests are sealed to these caseworker keys (pinned now; a change will stop an "
                             "import):"))  # fmt: skip
        for key in summary.recipients:
            click.echo(f"  {key.name}  {key.fingerprint}")
    for key in summary.recipients_added:
        click.echo(t.gettext("ACCEPTED: %(name)s (%(fingerprint)s) can now read new requests.", name=key.name,
                             fingerprint=key.fingerprint))  # fmt: skip
    for key in summary.recipients_removed:
        click.echo(t.gettext("ACCEPTED: %(name)s (%(fingerprint)s) no longer receives new requests.", name=key.name,
                             fingerprint=key.fingerprint))  # fmt: skip
    if summary.recipients_unknown:
        click.echo(t.gettext("This bundle does not say who can read new requests (an older server); update the "
                             "server."))  # fmt: skip
    click.echo(t.gettext("Bundle %(sequence)s: ", sequence=summary.sequence)
               + t.ngettext("%(num)d envelope.", "%(num)d envelopes.", summary.total))  # fmt: skip
    arrived = summary.new + summary.followups
    if summary.same_bundle_again and not arrived:
        click.echo(t.gettext("You had already imported this bundle; nothing changed."))
    elif summary.same_bundle_again:  # e.g. envelopes another caseworker's key could not open the first time
        click.echo(t.ngettext("You had imported this bundle before; %(num)d of its envelopes is new to this store.",
                              "You had imported this bundle before; %(num)d of its envelopes are new to this store.",
                              arrived))  # fmt: skip
    if summary.followups:
        click.echo("  " + t.gettext(
            "new cases %(new)s, follow-up messages %(followups)s, duplicate %(duplicate)s, rejected %(rejected)s",
            new=summary.new, followups=summary.followups, duplicate=summary.duplicate, rejected=summary.rejected))
        joined = summary.followups - summary.followups_waiting  # at least this many found their case
        if joined > 0:
            click.echo("  " + t.ngettext("%(num)d follow-up message was added to its case's conversation.",
                                         "%(num)d follow-up messages were added to their cases' conversations.",
                                         joined))  # fmt: skip
    else:
        click.echo("  " + t.gettext("new %(new)s, duplicate %(duplicate)s, rejected %(rejected)s", new=summary.new,
                                    duplicate=summary.duplicate, rejected=summary.rejected))  # fmt: skip
    if summary.followups_waiting:
        click.echo("  " + t.ngettext("%(num)d follow-up waits for a case you do not hold yet.",
                                     "%(num)d follow-ups wait for a case you do not hold yet.",
                                     summary.followups_waiting))  # fmt: skip
    if summary.replies_delivered:
        click.echo("  " + t.ngettext(
            "The server confirms it stored %(num)d of your replies: delivered, no return file carries it again.",
            "The server confirms it stored %(num)d of your replies: delivered, no return file carries them again.",
            summary.replies_delivered))  # fmt: skip
    if summary.files_new:
        click.echo("  " + t.ngettext("%(num)d attached file was kept, still sealed.",
                                     "%(num)d attached files were kept, still sealed.", summary.files_new))  # fmt: skip
    if summary.rejected_not_for_you:
        click.echo("  " + t.gettext("%(num)s rejected: not sealed to your key.", num=summary.rejected_not_for_you))
    if summary.rejected_unreadable:
        click.echo("  " + t.gettext("%(num)s rejected: damaged, could not be opened.", num=summary.rejected_unreadable))
    if summary.rejected_conflict:
        click.echo("  " + t.gettext("%(num)s rejected: same id as a case you hold, different contents.",
                                    num=summary.rejected_conflict))  # fmt: skip
    if summary.rejected:
        click.echo("  " + t.gettext(
            "Rejected envelopes are not stored and will not be acknowledged: the server keeps them for "
            "the caseworker they were sealed to."
        ))  # fmt: skip
    if summary.gaps:
        click.echo("  " + t.ngettext(
            "%(num)d request the server numbered (serials %(serials)s) is in neither this bundle nor your store: "
            "another caseworker may have collected it; if not, ask the operator.",
            "%(num)d requests the server numbered (serials %(serials)s) are in neither this bundle nor your store: "
            "another caseworker may have collected them; if not, ask the operator.",
            summary.gaps, serials=_ranges(summary)))  # fmt: skip
