"""What a caseworker can do with triage, in one place that every face calls.

The command line (``triage.cli``, ``triage.views``) and the desk only parse input and render output;
unlocking, importing, listing, showing, changing a case and signing the acknowledgement happen here,
so each rule (who may read what, what is written to the store, what an acknowledgement names) exists
once. Nothing here prompts, prints or reads the environment: a face asks for the passphrase and shows
the results. Everything decrypted stays in the caller's memory; this module never writes it anywhere.

Typical use::

    identity = unlock(home, passphrase, min_kdf=config.kdf)  # crypto.WrongPassphraseError: ask again
    with Session.open(config, home, identity) as session:
        summary = session.import_bundle(path)
        queue = session.list_cases(policy)           # most urgent first
        session.set_case(queue.cases[0].short_id, status="contacted", note="called back")
        session.write_ack(usb / "ack.bin")
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from triage import importer, listing, threads
from triage.answers_view import AnswerReader, store_lookup
from triage.cases import Case, Skipped, find_case, open_case, short_id
from triage.config import TriageConfig
from triage.errors import TriageError
from triage.home import Home, write_private
from triage.identities import unlock as _unlock_key
from triage.importer import ImportSummary
from triage.parallel import ListJob, default_jobs, open_all
from triage.policy import Policy
from triage.store import STATUSES, CaseRecord, CaseStore
from triage.templates import refuse_placeholders

MAX_NOTE_CHARS = 4000
MAX_ASSIGNEE_CHARS = 64


def parse_fingerprint(text: str) -> str:
    """A fingerprint as a person typed or read it, normalised; TriageError if it is not one."""
    try:
        return crypto.normalize_fingerprint(text)
    except crypto.MalformedError:
        raise TriageError("That is not a fingerprint: it has 32 hexadecimal digits, like 1a2b-3c4d-….") from None


def unlock(home: Home, passphrase: str, *, min_kdf: crypto.KdfParams, name: str | None = None) -> crypto.Identity:
    """The caseworker's identity; crypto.WrongPassphraseError if the passphrase opens no key here.

    ``min_kdf`` is the cheapest key-derivation cost accepted: ``TriageConfig.kdf`` (production outside tests).
    """
    home.require()
    return _unlock_key(home, passphrase, min_kdf=min_kdf, name=name)


@dataclass
class CaseList:
    """The queue: cases most urgent first, and the ones that could not be shown, by cause."""

    cases: list[Case]
    skipped: Skipped


@dataclass
class EncodedCaseList:
    """The queue as one JSON encoding per case, most urgent first (small: fits 100,000 cases in memory)."""

    encoded: list[bytes | memoryview]  # a view: of the one message a worker sent back its cases' JSON in
    skipped: Skipped


@dataclass(frozen=True)
class AckWritten:
    path: Path
    entries: int
    signer: str
    replies: int = 0


@dataclass(frozen=True)
class ServerKeyChange:
    """The pinned server key and the one that signed a bundle, for a person to compare before re-pinning."""

    pinned: crypto.ServerPublicKey | None
    in_bundle: crypto.ServerPublicKey

    @property
    def unchanged(self) -> bool:
        return self.pinned == self.in_bundle


@dataclass(frozen=True)
class StoreInfo:
    home: Path
    you: crypto.PublicIdentity
    caseworkers: list[tuple[crypto.PublicIdentity, bool]]
    server: crypto.ServerPublicKey | None
    last_bundle: int | None
    cases: int


@dataclass
class Session:
    """One caseworker's unlocked identity and case store. Open it with ``Session.open``; close it after."""

    config: TriageConfig
    home: Home
    identity: crypto.Identity
    store: CaseStore
    _closed: bool = field(default=False, repr=False)
    # Finds the questionnaire version each request names (built-ins and accepted versions), once per version.
    reader: AnswerReader = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reader = AnswerReader(store_lookup(self.store))

    @classmethod
    @contextlib.contextmanager
    def open(cls, config: TriageConfig, home: Home, identity: crypto.Identity) -> Iterator[Session]:
        """The store unlocked with ``identity`` (NoAccessError if it was never granted); closed after."""
        store = CaseStore(home.store_path)
        session = cls(config, home, identity, store)
        try:
            store.unlock(identity)
            yield session
        finally:
            session.close()

    def close(self) -> None:
        """Close the store and forget its key; the session cannot be used after this."""
        if not self._closed:
            self.store.key = None
            self.store.close()
            self._closed = True

    def today(self) -> datetime.date:
        return self.config.today()

    # -- import -----------------------------------------------------------------------------------

    def import_bundle(
        self,
        path: Path,
        *,
        expected_fingerprint: str | None = None,
        accept_recipients: bool = False,
        on_start: Callable[[int], None] | None = None,
        advance: Callable[[], None] | None = None,
    ) -> ImportSummary:
        """Verify and import an export bundle, all or nothing; ``expected_fingerprint`` as the person typed it.

        The first import (no server pinned yet) needs ``expected_fingerprint``: trust on first use is a
        comparison a person makes, not a default. A change in the recipient set stops the import
        (importer.RecipientsChangedError) unless ``accept_recipients``.
        """
        if expected_fingerprint is None and self.store.pinned_server() is None:
            raise TriageError(
                "This is the first import into this home: compare the server fingerprint with the operator "
                "first (give it with --fingerprint, or type it when asked)."
            )
        expected = parse_fingerprint(expected_fingerprint) if expected_fingerprint is not None else None
        return importer.import_bundle(
            self.store, path, self.identity, self.today(), expected_fingerprint=expected,
            accept_recipients=accept_recipients, on_start=on_start, advance=advance,
        )  # fmt: skip

    # -- the queue and one case -------------------------------------------------------------------

    def _list_job(self, policy: Policy, statuses: Collection[str] | None, as_json: bool, reopen: bool) -> ListJob:
        assert self.store.key is not None
        return ListJob(
            self.store.path, self.identity, self.store.key, policy, self.today(), set(statuses or ()) or None,
            as_json, reopen, self.reader,
        )  # fmt: skip

    def count_cases(self) -> int:
        return self.store.count()

    def unlisted(self) -> int:
        """How many cases have no listing row for this caseworker yet (a store made by an older triage); 0 for a
        store that cannot be written, which is listed as before."""
        if not self.store.listing_ready:
            return 0
        return listing.missing(self.store.db, self.identity.fingerprint)

    def prepare_listing(self, advance: Callable[[int], None] | None = None) -> int:
        """Write the listing rows this caseworker lacks (once, for an older store; triage.listing.fill)."""
        if not self.unlisted():
            return 0
        return listing.fill(self.store, self.identity, self.reader, advance)

    def _open_all(
        self, policy: Policy, statuses: Collection[str] | None, jobs: int | None, reopen: bool,
        advance: Callable[[int], None] | None, *, as_json: bool,
    ) -> tuple[list[Any], Skipped]:  # fmt: skip
        skipped = Skipped()
        if not reopen:
            self.prepare_listing()
        job = self._list_job(policy, statuses, as_json, reopen)
        opened = list(open_all(self.store.db, job, jobs=jobs or default_jobs(), skipped=skipped, advance=advance))
        return opened, skipped

    def list_cases(
        self,
        policy: Policy,
        *,
        statuses: Collection[str] | None = None,
        jobs: int | None = None,
        reopen: bool = False,
        advance: Callable[[int], None] | None = None,
    ) -> CaseList:
        """Every case this caseworker may read, opened in memory and sorted most urgent first."""
        opened, skipped = self._open_all(policy, statuses, jobs, reopen, advance, as_json=False)
        opened.sort(key=Case.sort_key)
        return CaseList(opened, skipped)

    def list_cases_json(
        self,
        policy: Policy,
        *,
        statuses: Collection[str] | None = None,
        jobs: int | None = None,
        reopen: bool = False,
        advance: Callable[[int], None] | None = None,
    ) -> EncodedCaseList:
        """Like ``list_cases``, but each case kept only as its JSON encoding (see ``triage.render.case_json``)."""
        pairs, skipped = self._open_all(policy, statuses, jobs, reopen, advance, as_json=True)
        pairs.sort(key=lambda pair: pair[0])
        return EncodedCaseList([encoded for _, encoded in pairs], skipped)

    def show_case(self, case_id: str, policy: Policy) -> Case:
        """One case opened from its envelope; ``case_id`` is a hex prefix (CaseNotFoundError if not one case)."""
        return open_case(self.store, find_case(self.store, case_id), self.identity, policy, self.today(), self.reader)

    def set_case(
        self, case_id: str, *, status: str | None = None, note: str | None = None, assignee: str | None = None
    ) -> tuple[str, CaseRecord]:
        """Change a case's status, add a note and/or (re)assign it, with the day and this caseworker's name.

        ``assignee`` is a caseworker's name, or "" to unassign. Every change also goes to the case's
        audit trail. Returns the case's full entry id (hex) and its record as stored now.
        """
        if status is None and not note and assignee is None:
            raise TriageError("Give a new status, a note or both.")
        if status is not None and status not in STATUSES:
            raise TriageError(f"Unknown status {status[:32]!r}; one of: {', '.join(STATUSES)}.")
        if note is not None and len(note) > MAX_NOTE_CHARS:
            raise TriageError(f"A note has at most {MAX_NOTE_CHARS} characters.")
        if assignee is not None and len(assignee) > MAX_ASSIGNEE_CHARS:
            raise TriageError(f"A caseworker's name has at most {MAX_ASSIGNEE_CHARS} characters.")
        stored = find_case(self.store, case_id)
        record = stored.record
        today, me = self.today().isoformat(), self.identity.name
        if status is not None and status != record.status:
            record.status = status
            record.history.append({"on": today, "by": me, "status": status})
            record.audit.append({"on": today, "by": me, "action": "status", "value": status})
        if note:
            record.notes.append({"on": today, "by": me, "text": note})
            record.audit.append({"on": today, "by": me, "action": "note", "value": ""})
        if assignee is not None and assignee.strip() != record.assignee:
            record.assignee = assignee.strip()
            record.audit.append({"on": today, "by": me, "action": "assign", "value": record.assignee})
        with self.store.transaction():
            self.store.put_record(stored.entry_id, record)
        return stored.entry_id.hex(), record

    def correct_note(self, case_id: str, index: int, text: str) -> tuple[str, CaseRecord]:
        """Add a note that supersedes note ``index`` (from 0) of the case; the old one stays, and so does the trail."""
        if not text.strip():
            raise TriageError("The corrected note is empty; nothing was saved.")
        if len(text) > MAX_NOTE_CHARS:
            raise TriageError(f"A note has at most {MAX_NOTE_CHARS} characters.")
        stored = find_case(self.store, case_id)
        record = stored.record
        if not 0 <= index < len(record.notes):
            raise TriageError("That note is not in this case; nothing was saved.")
        today, me = self.today().isoformat(), self.identity.name
        record.notes.append({"on": today, "by": me, "text": text.strip(), "supersedes": str(index)})
        record.audit.append({"on": today, "by": me, "action": "note_corrected", "value": str(index + 1)})
        with self.store.transaction():
            self.store.put_record(stored.entry_id, record)
        return stored.entry_id.hex(), record

    def link_duplicate(self, case_id: str, of_id: str) -> tuple[str, CaseRecord]:
        """Mark case ``case_id`` a duplicate of case ``of_id`` (the same person); both trails name the other."""
        stored, original = find_case(self.store, case_id), find_case(self.store, of_id)
        if stored.entry_id == original.entry_id:
            raise TriageError("A case cannot be a duplicate of itself; nothing changed.")
        today, me = self.today().isoformat(), self.identity.name
        record = stored.record
        if record.status != "duplicate":
            record.status = "duplicate"
            record.history.append({"on": today, "by": me, "status": "duplicate"})
        record.audit.append({"on": today, "by": me, "action": "duplicate_of", "value": short_id(original.entry_id)})
        original.record.audit.append({"on": today, "by": me, "action": "has_duplicate",
                                      "value": short_id(stored.entry_id)})  # fmt: skip
        with self.store.transaction():
            self.store.put_record(stored.entry_id, record)
            self.store.put_record(original.entry_id, original.record)
        return stored.entry_id.hex(), record

    # -- the acknowledgement ----------------------------------------------------------------------

    def make_ack(self) -> tuple[bytes, int, list[threads.Queued]]:
        """The signed return file: every envelope held, every queued reply; how many envelopes; the replies."""
        server = self.store.pinned_server()
        last = self.store.last_bundle()
        if server is None or last is None:
            raise TriageError("Nothing has been imported yet, so there is nothing to acknowledge.")
        entries = self.store.ack_entries()
        # Unconfirmed replies are carried again; past one file's bound the rest wait for the next file.
        replies = threads.queued(self.store)[: crypto.MAX_REPLIES]
        data = crypto.make_ack(
            entries, identity=self.identity, server=server, bundle_sequence=last["sequence"], created_on=self.today(),
            replies=[q.reply for q in replies],
        )  # fmt: skip
        return data, len(entries), replies

    def write_ack(self, out: Path, *, overwrite: bool = False) -> AckWritten:
        """Write the return file to ``out``, readable only by the owner.

        Its replies are then *carried*, not delivered: they stay queued, and every later return file
        carries them again, until a bundle from the server confirms it stored them (``import_bundle``).
        """
        data, count, replies = self.make_ack()
        write_private(out, data, overwrite=overwrite)
        threads.mark_carried(self.store, replies, self.today())
        return AckWritten(out, count, self.identity.name, len(replies))

    # -- the conversation -------------------------------------------------------------------------

    def reply(self, case_id: str, text: str) -> tuple[str, int]:
        """Seal ``text`` to the person of case ``case_id`` and queue it for the next return file.

        Returns the case's full id (hex) and how many replies are queued now. A text that still holds a
        ready-made reply's placeholders is refused (templates.PlaceholdersLeftError), for every face.
        """
        refuse_placeholders(text, self.home.path)
        stored = find_case(self.store, case_id)
        request = crypto.open_request(self.store.envelope(stored.rowid), self.identity)
        threads.queue_reply(self.store, stored.entry_id, stored.record, request, text, author=self.identity.name,
                            today=self.today())  # fmt: skip
        return stored.entry_id.hex(), len(threads.queued(self.store))

    def reply_message(self, case_id: str, seq: int) -> dict[str, Any]:
        """The case's reply number ``seq`` as its thread holds it (words, day, state)."""
        return dict(threads.outgoing(find_case(self.store, case_id).record, seq))

    def check_editable(self, message: dict[str, Any], seq: int) -> None:
        """TriageError (saying why) unless reply ``seq`` can still be changed: before asking for new words."""
        threads.check_editable(message, seq)

    def edit_reply(self, case_id: str, seq: int, text: str) -> str:
        """New words for reply ``seq`` while no return file has carried it; the case's full id (hex)."""
        refuse_placeholders(text, self.home.path)  # an edit must not bring a template's [word] back either
        stored = find_case(self.store, case_id)
        request = crypto.open_request(self.store.envelope(stored.rowid), self.identity)
        threads.edit_reply(self.store, stored.entry_id, stored.record, request, seq, text,
                           author=self.identity.name, today=self.today())  # fmt: skip
        return stored.entry_id.hex()

    def withdraw_reply(self, case_id: str, seq: int) -> tuple[str, str | None]:
        """Withdraw reply ``seq``: the case's full id, and the day a return file last carried it (None if
        never). A carried reply may still reach the person if that return file is applied: say so."""
        stored = find_case(self.store, case_id)
        carried_on = threads.withdraw_reply(self.store, stored.entry_id, stored.record, seq,
                                            author=self.identity.name, today=self.today())  # fmt: skip
        return stored.entry_id.hex(), carried_on

    def readers(self, case: Case) -> list[tuple[str | None, str]] | None:
        """Who could read this request: (name or None if no longer in the accepted set, fingerprint) for each
        key the server sealed it to; None when the bundle did not say (an older server)."""
        if not case.record.sealed_to:
            return None
        known = {k.fingerprint: k.name for k in (self.store.trust.accepted_recipients() or [])}
        return [(known.get(fp), fp) for fp in case.record.sealed_to]

    def mark_read(self, case: Case) -> None:
        """The caseworker has seen the case's new messages."""
        threads.mark_read(self.store, case.entry_id, case.record)

    # -- the server key, colleagues, what the store holds -----------------------------------------

    def server_key_change(self, bundle: Path) -> ServerKeyChange:
        """Who signed ``bundle`` (verified against its own key only) next to the key pinned now."""
        new = crypto.read_bundle(bundle, expected_server=None).header.server
        return ServerKeyChange(self.store.pinned_server(), new)

    def pin_server(self, server: crypto.ServerPublicKey, *, typed_fingerprint: str | None = None) -> None:
        """Trust ``server`` from now on; the replay check starts again from its bundles."""
        if typed_fingerprint is not None and parse_fingerprint(typed_fingerprint) != server.fingerprint:
            raise TriageError("The fingerprint you gave does not match this file's signer; nothing changed.")
        with self.store.transaction():
            self.store.pin_server(server)

    def grant(self, name: str) -> list[crypto.PublicIdentity]:
        """Give the store key to every registered key of caseworker ``name``."""
        matches = [p for p, _ in self.store.caseworkers() if p.name == name]
        if not matches:
            raise TriageError(f"No caseworker named {name!r} here; they create a key with `triage keygen` first.")
        with self.store.transaction():
            for public in matches:
                self.store.grant(public.fingerprint)
        return matches

    def info(self) -> StoreInfo:
        last = self.store.last_bundle()
        return StoreInfo(
            self.home.path, self.identity.public, self.store.caseworkers(), self.store.pinned_server(),
            last["sequence"] if last else None, self.store.count(),
        )  # fmt: skip
