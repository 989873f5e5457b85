"""Importing an export bundle: verify, open every envelope once, store them still sealed, all or nothing.

Why every envelope is opened on import: the acknowledgement tells the server to delete what this
laptop holds. An envelope this caseworker cannot open (sealed to someone else, or damaged) is therefore
*rejected*: not stored and never acknowledged, so the server keeps it for whoever it was sealed to.

Replay: bundles carry the server's strictly increasing sequence number. An older bundle than the last
one imported is refused; the same bundle again is accepted and changes nothing (every entry counts as
a duplicate); a different bundle with the same number is refused.

Files (bundle version 5): the sealed blobs the new envelopes' manifests name are kept, still sealed, in the
home's ``blobs`` folder (triage.blob_import, triage.blobs), all or nothing with the envelopes.
"""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import crypto
from crypto.bundle import PROGRESS_UNIT, bundle_size
from crypto.manifest import FileEntry
from triage import blob_import, listing, questionnaires, threads
from triage.answers_view import AnswerReader, store_lookup
from triage.blobs import BlobStore
from triage.errors import FingerprintMismatchError, ReplayError, TriageError
from triage.store import CaseStore

MAX_GAP_RANGES = 10


@dataclass
class ImportSummary:
    sequence: int
    high_water: int
    total: int
    new: int = 0
    duplicate: int = 0
    rejected_not_for_you: int = 0
    rejected_unreadable: int = 0
    rejected_conflict: int = 0
    # Requests that name a questionnaire version neither built in nor accepted: not stored, not acknowledged,
    # so the server keeps them until a bundle carries their questionnaire (invariant 20).
    rejected_questionnaire: int = 0
    gaps: int = 0
    gap_ranges: list[tuple[int, int]] = field(default_factory=list)
    pinned_now: crypto.ServerPublicKey | None = None
    same_bundle_again: bool = False
    followups: int = 0
    followups_waiting: int = 0
    recipients: list[crypto.PublicIdentity] = field(default_factory=list)
    recipients_pinned_now: bool = False
    recipients_added: list[crypto.PublicIdentity] = field(default_factory=list)
    recipients_removed: list[crypto.PublicIdentity] = field(default_factory=list)
    recipients_unknown: bool = False
    replies_delivered: int = 0  # queued replies this bundle confirms the server stored (bundle version 3)
    files_new: int = 0  # sealed files kept (bundle version 5)
    files_already: int = 0  # named by a new envelope and already held
    files_unclaimed: int = 0  # carried but named by no new envelope: not kept

    @property
    def rejected(self) -> int:
        return (self.rejected_not_for_you + self.rejected_unreadable + self.rejected_conflict
                + self.rejected_questionnaire)  # fmt: skip


class RecipientsChangedError(TriageError):
    """The server now seals new requests to a different set of caseworker keys than the one accepted."""

    def __init__(self, added: list[crypto.PublicIdentity], removed: list[crypto.PublicIdentity]) -> None:
        def names(keys: list[crypto.PublicIdentity]) -> str:
            return "; ".join(f"{k.name} ({k.fingerprint})" for k in keys) or "nobody"

        super().__init__(
            "STOP: the server now seals new requests to a different set of caseworkers. "
            f"Added: {names(added)}. Removed: {names(removed)}. Nothing was imported. Check with your "
            "colleagues and the operator that this change is real; only then run the import again with "
            "--accept-recipients. An added key you do not know can read every new request."
        )
        self.added, self.removed = added, removed


def _check_recipients(store: CaseStore, header: crypto.BundleHeader, summary: ImportSummary, accept: bool) -> None:
    """Invariant 14: the recipient set signed into the bundle is pinned; a change stops the import."""
    offered = list(header.recipients)
    accepted = store.trust.accepted_recipients()
    if not offered:  # a bundle from a server too old to sign its recipient set
        if accepted is not None:
            raise TriageError(
                "This bundle does not say who can read new requests, although earlier bundles did; it may be a "
                "downgrade. Nothing was imported. Ask the operator for a fresh export."
            )
        summary.recipients_unknown = True
        return
    summary.recipients = offered
    if accepted is None:
        summary.recipients_pinned_now = True
    else:
        before = {k.fingerprint: k for k in accepted}
        now = {k.fingerprint: k for k in offered}
        added = [now[f] for f in sorted(now.keys() - before.keys())]
        removed = [before[f] for f in sorted(before.keys() - now.keys())]
        if not added and not removed:
            return
        if not accept:
            raise RecipientsChangedError(added, removed)
        summary.recipients_added, summary.recipients_removed = added, removed
    store.trust.accept_recipients(offered)


def _check_sequence(store: CaseStore, bundle: crypto.Bundle) -> bool:
    """True if this is the bundle imported last; ReplayError if it is older or conflicts with it."""
    last = store.last_bundle()
    if last is None:
        return False
    sequence = bundle.header.sequence
    if sequence < last["sequence"]:
        raise ReplayError(
            f"This bundle is number {sequence}, older than number {last['sequence']} which you already "
            "imported; it may be an old copy or a replay. Nothing was imported. Ask the operator for a fresh export."
        )
    if sequence == last["sequence"]:
        if not hmac.compare_digest(bytes.fromhex(last["digest"]), bundle.digest):
            raise ReplayError(
                f"This bundle claims number {sequence}, like the one you already imported, but its contents "
                "differ. Nothing was imported. Ask the operator for a fresh export."
            )
        return True
    return False


def _gaps(known: set[int], high_water: int) -> list[tuple[int, int]]:
    """The serial ranges in 1..high_water that are not in ``known`` (works for any high-water mark)."""
    ranges: list[tuple[int, int]] = []
    previous = 0
    for serial in sorted(known):
        if serial > previous + 1:
            ranges.append((previous + 1, serial - 1))
        previous = serial
    if high_water > previous:
        ranges.append((previous + 1, high_water))
    return ranges


def _list_for_another_caseworker(store: CaseStore, entry: crypto.BundleEntry, identity: crypto.Identity,
                                 reader: AnswerReader) -> None:  # fmt: skip
    """A case a colleague in this home imported first: let this caseworker list it fast too, if it is theirs."""
    if listing.has_row(store, entry.entry_id, identity.fingerprint):
        return
    known = store.db.execute("SELECT serial, imported_on FROM envelopes WHERE entry_id = ?",
                             (entry.entry_id,)).fetchone()  # fmt: skip
    if known is None:  # a follow-up: it is listed in its case's thread, not on its own
        return
    try:
        request = crypto.encode_request(crypto.open_request(entry.envelope, identity))
    except crypto.NotRecipientError:
        row = listing.Row(listing.NOT_FOR_YOU)  # not sealed to this caseworker: they will not see it, as it should be
    except crypto.CryptoError:
        return
    else:
        row = listing.row_for(request, known[0], datetime.date.fromisoformat(known[1]), reader)
    listing.put(store, entry.entry_id, identity.fingerprint, row)


def import_bundle(
    store: CaseStore,
    path: Path,
    identity: crypto.Identity,
    today: datetime.date,
    *,
    expected_fingerprint: str | None = None,
    accept_recipients: bool = False,
    on_start: Callable[[int], None] | None = None,
    advance: Callable[[], None] | None = None,
) -> ImportSummary:
    """Import ``path`` in one transaction. Any error leaves the store exactly as it was."""
    pinned = store.pinned_server()
    if on_start is not None:  # a first bar for the verifying pass (per MiB), then one for the import itself
        on_start(bundle_size(path) // PROGRESS_UNIT)
    bundle = crypto.read_bundle(path, expected_server=pinned, advance=advance)
    header = bundle.header
    if expected_fingerprint is not None and not hmac.compare_digest(
        expected_fingerprint.encode(), header.server.fingerprint.encode()
    ):
        typed, signer = expected_fingerprint.split("-"), header.server.fingerprint.split("-")
        differing = [i + 1 for i, (a, b) in enumerate(zip(typed, signer, strict=False)) if a != b]
        raise FingerprintMismatchError(differing or list(range(1, len(signer) + 1)), len(signer))
    summary = ImportSummary(header.sequence, header.high_water, header.count)
    seen: set[int] = set()
    blobs = BlobStore.beside(store.path)
    wanted: dict[bytes, FileEntry] = {}
    placed: list[bytes] = []
    try:
        # A new questionnaire version stops the import; once rolled back, it is kept as waiting (invariant 20).
        with questionnaires.kept_when_stopped(store), store.transaction():  # two imports at once cannot both pass
            _import_in_transaction(store, bundle, identity, today, summary, seen, wanted, placed, pinned,
                                   accept_recipients, on_start, advance)  # fmt: skip
    except BaseException:
        blob_import.discard(blobs, placed)  # the envelopes were rolled back: so are the files they brought
        raise
    return summary


def _import_in_transaction(
    store: CaseStore, bundle: crypto.Bundle, identity: crypto.Identity, today: datetime.date, summary: ImportSummary,
    seen: set[int], wanted: dict[bytes, FileEntry], placed: list[bytes],
    pinned: crypto.ServerPublicKey | None, accept_recipients: bool, on_start: Callable[[int], None] | None,
    advance: Callable[[], None] | None,
) -> None:  # fmt: skip
    header = bundle.header
    # What an import cut off by a crash or power loss left half written; inside the store's write lock, so
    # never the temporary file of another import running at the same time.
    BlobStore.beside(store.path).clean_partial()
    summary.same_bundle_again = _check_sequence(store, bundle)
    _check_recipients(store, header, summary, accept_recipients)
    known = questionnaires.check_carried(store, header.questionnaires)
    if on_start is not None:
        on_start(header.count + blob_import.progress_units(bundle))
    reader = AnswerReader(store_lookup(store))  # reads each request as `triage list` will (triage.listing)
    for entry in bundle.entries():  # re-verified while streaming; raises at the end if the file changed
        seen.add(entry.serial)
        digest = crypto.envelope_digest(entry.envelope)
        stored_digest = store.envelope_digest_of(entry.entry_id)
        if stored_digest is not None:
            if hmac.compare_digest(stored_digest, digest):
                summary.duplicate += 1
                _list_for_another_caseworker(store, entry, identity, reader)
            else:
                summary.rejected_conflict += 1  # same id, other bytes: keep what we have, ack nothing new
        else:
            try:
                payload = crypto.open_envelope(entry.envelope, identity)
                followup = crypto.payload_kind(payload) == "followup"
                request = b"" if followup else crypto.encode_request(payload)
            except crypto.NotRecipientError:
                summary.rejected_not_for_you += 1
            except crypto.CryptoError:
                summary.rejected_unreadable += 1
            else:
                if not followup and not questionnaires.names_known(payload, known):
                    summary.rejected_questionnaire += 1  # not stored, not acknowledged: the server keeps it
                    if advance is not None:
                        advance()
                    continue
                wanted.update((f.blob, f) for f in blob_import.manifest_of(payload))
                if followup:
                    summary.followups += 1
                    threads.add_followup(store, entry, payload, digest=digest, sequence=header.sequence,
                                         today=today)  # fmt: skip
                else:
                    store.add_case(entry, digest=digest, sequence=header.sequence, today=today)
                    listing.put(store, entry.entry_id, identity.fingerprint,
                                listing.row_for(request, entry.serial, today, reader))  # fmt: skip
                    threads.link_request(store, entry.entry_id, payload)
                    summary.new += 1
        if advance is not None:
            advance()
    files = blob_import.import_blobs(bundle, BlobStore.beside(store.path), wanted, advance)
    placed.extend(files.placed)
    summary.files_new, summary.files_already, summary.files_unclaimed = files.new, files.already, files.unclaimed
    summary.replies_delivered = threads.mark_delivered(store, header.delivered, today)
    summary.followups_waiting = store.db.execute("SELECT count(*) FROM links WHERE kind = 'followup'").fetchone()[0]
    ranges = _gaps(seen | store.serials(header.high_water), header.high_water)
    summary.gaps = sum(last - first + 1 for first, last in ranges)
    summary.gap_ranges = ranges[:MAX_GAP_RANGES]
    if pinned is None:
        store.trust.server = header.server.to_text()
        summary.pinned_now = header.server
    store.trust.last_bundle = {"sequence": header.sequence, "digest": bundle.digest.hex(),
                               "high_water": header.high_water}  # fmt: skip
    store.save_trust()
