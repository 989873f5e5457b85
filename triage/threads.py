"""Conversations on the laptop: follow-ups linked to their case, replies sealed and queued for the server.

A request of schema 2 carries the requester's reply public key; a follow-up carries the same key inside
its sealed payload. Import links the two by a keyed hash of that key under the store key (the ``links``
table), never by anything the server stored in the clear. A follow-up that arrives before its request
(or whose request went to a colleague) waits, sealed, until its case is imported.

A reply is sealed here, on the laptop, to the requester's reply key, padded to one size, with its place
in the case's conversation (``seq``) sealed inside, and queued in ``outbox`` (sealed again with the store
key, so nobody can slip a reply into the next return file by editing the store). The thread (who wrote
what, on which day) lives in the case's sealed record. A reply's life, as its thread entry says:

* ``queued``: written, in no return file yet. It can be shown, edited and withdrawn.
* ``carried``: in at least one return file, not yet confirmed. It stays in the outbox and every return
  file carries it again, because a return file can be lost or never applied (invariant 18). It can no
  longer be edited; it can be withdrawn, but a return file already written may still deliver it.
* ``delivered``: a bundle from the server confirmed its digest (``crypto.reply_digest``); it leaves the
  outbox. ``withdrawn``: the caseworker took it back (kept in the record, with the audit trail).
* ``sent``: written by an older triage, which dropped a reply from the queue once carried.
"""

from __future__ import annotations

import datetime
import json
import secrets
from dataclasses import dataclass
from typing import Any

import crypto
from triage.errors import TriageError
from triage.i18n import N_
from triage.store import CaseRecord, CaseStore

MAX_REPLY_CHARS = 4000


def _tag(store: CaseStore, reply_key: str) -> bytes:
    return store.unlocked_key().tag(reply_key.encode("ascii"), context=b"reply-key")


def _followup_context(entry_id: bytes) -> bytes:
    return b"followup:" + entry_id


def _record(store: CaseStore, entry_id: bytes) -> CaseRecord:
    row = store.db.execute("SELECT sealed FROM records WHERE entry_id = ?", (entry_id,)).fetchone()
    return store.open_record(entry_id, row[0])


def _message(payload: dict[str, Any], followup_id: bytes) -> dict[str, str]:
    return {"dir": "in", "on": str(payload["submitted_on"]), "text": payload["message"], "state": "unread",
            "id": followup_id.hex()}  # fmt: skip


def link_request(store: CaseStore, entry_id: bytes, request: dict[str, Any]) -> int:
    """Index a new case by its reply key and attach follow-ups that came first; how many were attached."""
    reply_key = request.get("reply_key")
    if not reply_key:
        return 0
    tag = _tag(store, reply_key)
    store.db.execute("INSERT OR IGNORE INTO links VALUES (?, ?, 'request')", (tag, entry_id))
    waiting = [bytes(f) for (f,) in store.db.execute(
        "SELECT entry_id FROM links WHERE tag = ? AND kind = 'followup'", (tag,))]  # fmt: skip
    if not waiting:
        return 0
    record = _record(store, entry_id)
    for followup_id in waiting:
        payload = _open_followup_record(store, followup_id)
        record.thread.append(_message(payload, followup_id))
        store.db.execute("DELETE FROM links WHERE tag = ? AND entry_id = ?", (tag, followup_id))
    record.thread.sort(key=lambda m: m["on"])
    store.put_record(entry_id, record)
    return len(waiting)


def _open_followup_record(store: CaseStore, followup_id: bytes) -> dict[str, Any]:
    row = store.db.execute("SELECT sealed FROM records WHERE entry_id = ?", (followup_id,)).fetchone()
    value: dict[str, Any] = json.loads(store.unlocked_key().open(row[0], context=_followup_context(followup_id)))
    return value


def add_followup(
    store: CaseStore, entry: crypto.BundleEntry, payload: dict[str, Any], *, digest: bytes, sequence: int,
    today: datetime.date,
) -> bool:
    """Store a follow-up envelope (so it is acknowledged) and put its message in its case's thread.

    True if its case is here; False if it waits for its case.
    """
    store.db.execute(
        "INSERT INTO followups VALUES (?, ?, ?, ?, ?, ?)",
        (entry.entry_id, entry.serial, today.isoformat(), sequence, digest, entry.envelope),
    )
    kept = {"message": payload["message"], "submitted_on": str(payload["submitted_on"])}
    sealed = store.unlocked_key().seal(json.dumps(kept).encode(), context=_followup_context(entry.entry_id))
    store.db.execute("INSERT INTO records VALUES (?, ?)", (entry.entry_id, sealed))
    tag = _tag(store, payload["reply_key"])
    parent = store.db.execute("SELECT entry_id FROM links WHERE tag = ? AND kind = 'request'", (tag,)).fetchone()
    if parent is None:
        store.db.execute("INSERT OR IGNORE INTO links VALUES (?, ?, 'followup')", (tag, entry.entry_id))
        return False
    case_id = bytes(parent[0])
    record = _record(store, case_id)
    record.thread.append(_message(kept, entry.entry_id))
    record.thread.sort(key=lambda m: m["on"])
    store.put_record(case_id, record)
    return True


def mark_read(store: CaseStore, entry_id: bytes, record: CaseRecord) -> bool:
    """Mark the case's incoming messages read (when a caseworker opened it); True if anything changed."""
    changed = False
    for message in record.thread:
        if message.get("dir") == "in" and message.get("state") == "unread":
            message["state"] = "read"
            changed = True
    if changed:
        with store.transaction():
            store.put_record(entry_id, record)
    return changed


@dataclass(frozen=True)
class Queued:
    reply_id: bytes
    case_id: bytes
    reply: crypto.AckReply


QUEUED, CARRIED, DELIVERED, WITHDRAWN = "queued", "carried", "delivered", "withdrawn"


def _reply_key(request: dict[str, Any]) -> crypto.ReplyPublicKey:
    reply_key = request.get("reply_key")
    if not reply_key:
        raise TriageError(
            "This request was sent before replies were possible (it has no reply key), so no reply can reach "
            "the person through the service. Use the contact they gave, carefully."
        )
    return crypto.ReplyPublicKey.from_b64(reply_key)


def _check_length(text: str) -> None:
    if len(text) > MAX_REPLY_CHARS:
        raise TriageError(f"A reply has at most {MAX_REPLY_CHARS} characters; this one has {len(text)}.")


def _next_seq(record: CaseRecord) -> int:
    return 1 + max((int(m.get("seq", 0)) for m in record.thread if m.get("dir") == "out"), default=0)


def _put_outbox(store: CaseStore, reply_id: bytes, case_id: bytes, public: crypto.ReplyPublicKey,
                container: bytes) -> None:  # fmt: skip
    blob = case_id + crypto.mailbox_id(public) + container
    store.db.execute("INSERT OR REPLACE INTO outbox VALUES (?, ?)",
                     (reply_id, store.unlocked_key().seal(blob, context=b"outbox:" + reply_id)))  # fmt: skip


def queue_reply(
    store: CaseStore, case_id: bytes, record: CaseRecord, request: dict[str, Any], text: str, *, author: str,
    today: datetime.date,
) -> bytes:
    """Seal ``text`` to the requester and queue it for the next return file; the reply id."""
    public = _reply_key(request)
    _check_length(text)
    seq = _next_seq(record)
    container = crypto.seal_reply(text, written_on=today, seq=seq, to=public)
    reply_id = secrets.token_bytes(16)
    with store.transaction():
        _put_outbox(store, reply_id, case_id, public, container)
        record.thread.append({"dir": "out", "on": today.isoformat(), "by": author, "text": text, "state": QUEUED,
                              "id": reply_id.hex(), "seq": seq})  # fmt: skip
        record.audit.append({"on": today.isoformat(), "by": author, "action": "reply", "value": str(seq)})
        store.put_record(case_id, record)
    return reply_id


def outgoing(record: CaseRecord, seq: int) -> dict[str, Any]:
    """The case's reply number ``seq`` (as `triage show` and the desk number them); TriageError if none."""
    for message in record.thread:
        if message.get("dir") == "out" and message.get("seq") == seq:
            return message
    raise TriageError(N_("This case has no reply with that number; `triage show ID` numbers them."))


def check_editable(message: dict[str, Any], seq: int) -> None:
    """A reply can be changed only while no return file has carried it (a carried one may still arrive)."""
    state = message.get("state")
    if state in (CARRIED, "sent"):
        raise TriageError(N_(
            "That reply already left in a return file, so it can no longer be changed: if that file is applied, "
            "the person sees it as it was. Withdraw it (`triage reply ID --withdraw N`) and write a new one."
        ))  # fmt: skip
    if state != QUEUED:
        raise TriageError(N_("Only a reply still waiting for a return file can be changed; this one is not."))


def edit_reply(
    store: CaseStore, case_id: bytes, record: CaseRecord, request: dict[str, Any], seq: int, text: str, *,
    author: str, today: datetime.date,
) -> None:
    """Replace the words of a reply that no return file has carried yet (sealed again, same place)."""
    message = outgoing(record, seq)
    check_editable(message, seq)
    public = _reply_key(request)
    _check_length(text)
    # The day it was first written stays (with its seq, it keeps the reply's place in the conversation).
    written_on = datetime.date.fromisoformat(str(message["on"]))
    container = crypto.seal_reply(text, written_on=written_on, seq=seq, to=public)
    reply_id = bytes.fromhex(message["id"])
    with store.transaction():
        _put_outbox(store, reply_id, case_id, public, container)
        message.update(text=text, edited_on=today.isoformat())
        record.audit.append({"on": today.isoformat(), "by": author, "action": "reply-edit", "value": str(seq)})
        store.put_record(case_id, record)


def withdraw_reply(store: CaseStore, case_id: bytes, record: CaseRecord, seq: int, *, author: str,
                   today: datetime.date) -> str | None:  # fmt: skip
    """Take a reply back: no later return file carries it. The day it was last carried, or None if never.

    A reply that was carried may still reach the person: the return file that carried it can still be
    applied. The caller must say so; the audit trail records it.
    """
    message = outgoing(record, seq)
    state = message.get("state")
    if state in (DELIVERED, "sent"):
        raise TriageError(N_("That reply has reached the server already (or was sent by an older triage), so it "
                             "can no longer be withdrawn; write another reply if it must be corrected."))  # fmt: skip
    if state == WITHDRAWN:
        raise TriageError(N_("That reply was withdrawn already."))
    carried_on = message.get("carried_on") if state == CARRIED else None
    reply_id = bytes.fromhex(message["id"])
    with store.transaction():
        if carried_on:
            # Watched after withdrawal: if the return file that carried it is applied after all, the next
            # bundle's confirmation says so on this entry (the caseworker must know the person can read it).
            row = store.db.execute("SELECT sealed FROM outbox WHERE reply_id = ?", (reply_id,)).fetchone()
            if row is not None:
                blob = store.unlocked_key().open(row[0], context=b"outbox:" + reply_id)
                watched = store.unlocked_key().seal(blob[:16] + crypto.reply_digest(blob[48:]),
                                                    context=b"recalled:" + reply_id)  # fmt: skip
                store.db.execute("INSERT OR REPLACE INTO recalled VALUES (?, ?)", (reply_id, watched))
        store.db.execute("DELETE FROM outbox WHERE reply_id = ?", (reply_id,))
        message.update(state=WITHDRAWN, withdrawn_on=today.isoformat())
        record.audit.append({"on": today.isoformat(), "by": author, "action": "reply-withdraw",
                             "value": f"{seq} carried" if carried_on else str(seq)})  # fmt: skip
        store.put_record(case_id, record)
    return carried_on


def queued(store: CaseStore) -> list[Queued]:
    """Every reply still in the outbox: never carried, or carried and not yet confirmed by the server."""
    found = []
    for reply_id, sealed in store.db.execute("SELECT reply_id, sealed FROM outbox"):
        reply_id = bytes(reply_id)
        blob = store.unlocked_key().open(sealed, context=b"outbox:" + reply_id)
        found.append(Queued(reply_id, blob[:16], crypto.AckReply(mailbox=blob[16:48], container=blob[48:])))
    return found


def _set_state(store: CaseStore, items: list[Queued], **changes: str) -> None:
    by_case: dict[bytes, list[str]] = {}
    for item in items:
        by_case.setdefault(item.case_id, []).append(item.reply_id.hex())
    for case_id, ids in by_case.items():
        record = _record(store, case_id)
        for message in record.thread:
            if message.get("id") in ids and message.get("state") != WITHDRAWN:
                message.update(changes)
        store.put_record(case_id, record)


def mark_carried(store: CaseStore, carried: list[Queued], today: datetime.date) -> None:
    """After a return file is written: its replies are carried, not confirmed, and stay in the outbox."""
    with store.transaction():
        _set_state(store, carried, state=CARRIED, carried_on=today.isoformat())


def mark_delivered(store: CaseStore, delivered: tuple[bytes, ...], today: datetime.date) -> int:
    """Inside an import: the replies whose digests the server's bundle confirms leave the outbox; how many."""
    confirmed = set(delivered)
    if not confirmed:
        return 0
    done = [item for item in queued(store) if crypto.reply_digest(item.reply.container) in confirmed]
    for item in done:
        store.db.execute("DELETE FROM outbox WHERE reply_id = ?", (item.reply_id,))
    _set_state(store, done, state=DELIVERED, delivered_on=today.isoformat())
    _confirm_recalled(store, confirmed, today)
    return len(done)


def _confirm_recalled(store: CaseStore, confirmed: set[bytes], today: datetime.date) -> None:
    """A withdrawn reply that a return file had carried and that reached the server after all: say so."""
    for reply_id, sealed in store.db.execute("SELECT reply_id, sealed FROM recalled").fetchall():
        reply_id = bytes(reply_id)
        watched = store.unlocked_key().open(sealed, context=b"recalled:" + reply_id)
        if watched[16:] not in confirmed:
            continue
        store.db.execute("DELETE FROM recalled WHERE reply_id = ?", (reply_id,))
        record = _record(store, watched[:16])
        for message in record.thread:
            if message.get("id") == reply_id.hex():
                message["delivered_on"] = today.isoformat()
        store.put_record(watched[:16], record)
