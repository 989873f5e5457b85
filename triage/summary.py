"""The one summary an import prints: what was new, duplicate, rejected, and what is missing."""

from __future__ import annotations

import json

import click

from triage.importer import ImportSummary


def _ranges(summary: ImportSummary) -> str:
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in summary.gap_ranges)
    return text + (", ..." if summary.gaps > sum(b - a + 1 for a, b in summary.gap_ranges) else "")


def print_import_summary(summary: ImportSummary, *, as_json: bool) -> None:
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
                }
            )
        )  # fmt: skip
        return
    if summary.pinned_now is not None:
        click.echo(f"Pinned the server's signing key: {summary.pinned_now.fingerprint}")
        click.echo(
            "Compare it with the fingerprint the operator reads from `intake init`; if they differ, stop and "
            "tell them. Bundles signed by any other key will be refused."
        )
    if summary.recipients_pinned_now:
        click.echo("New requests are sealed to these caseworker keys (pinned now; a change will stop an import):")
        for key in summary.recipients:
            click.echo(f"  {key.name}  {key.fingerprint}")
    for key in summary.recipients_added:
        click.echo(f"ACCEPTED: {key.name} ({key.fingerprint}) can now read new requests.")
    for key in summary.recipients_removed:
        click.echo(f"ACCEPTED: {key.name} ({key.fingerprint}) no longer receives new requests.")
    if summary.recipients_unknown:
        click.echo("This bundle does not say who can read new requests (an older server); update the server.")
    click.echo(f"Bundle {summary.sequence}: {summary.total} envelope(s).")
    if summary.same_bundle_again:
        click.echo("You had already imported this bundle; nothing changed.")
    click.echo(f"  new {summary.new}, duplicate {summary.duplicate}, rejected {summary.rejected}")
    if summary.followups:
        click.echo(f"  {summary.followups} of the new ones are follow-up messages, added to their cases' threads.")
    if summary.followups_waiting:
        click.echo(f"  {summary.followups_waiting} follow-up(s) wait for a case you do not hold yet.")
    if summary.rejected_not_for_you:
        click.echo(f"  {summary.rejected_not_for_you} rejected: not sealed to your key.")
    if summary.rejected_unreadable:
        click.echo(f"  {summary.rejected_unreadable} rejected: damaged, could not be opened.")
    if summary.rejected_conflict:
        click.echo(f"  {summary.rejected_conflict} rejected: same id as a case you hold, different contents.")
    if summary.rejected:
        click.echo(
            "  Rejected envelopes are not stored and will not be acknowledged: the server keeps them for "
            "the caseworker they were sealed to."
        )
    if summary.gaps:
        click.echo(
            f"  {summary.gaps} request(s) the server numbered (serials {_ranges(summary)}) are in neither this "
            "bundle nor your store: another caseworker may have collected them; if not, ask the operator."
        )
