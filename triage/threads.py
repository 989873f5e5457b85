"""Conversations on the laptop: follow-ups linked to their case, replies sealed and queued for the server.

A request of schema 2 carries the requester's reply public key; a follow-up carries the same key inside
its sealed payload. Import links the two by a keyed hash of that key under the store key (the ``links``
table), never by anything the server stored in the clear. A follow-up that arrives before its request
(or whose request went to a colleague) waits, sealed, until its case is imported.

A reply is sealed here, on the laptop, to the requester's reply key, padded to one size, and queued in
``outbox`` (sealed again with the store key, so nobody can slip a reply into the next return file by
editing the store); ``triage ack`` carries the queue to the server and marks the replies sent. The
thread (who wrote what, on which day) lives in the case's sealed record.
"""

from __future__ import annotations

import datetime
import json
import secrets
from dataclasses import dataclass
from typing import Any

import crypto
from triage.errors import TriageError
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


def queue_reply(
    store: CaseStore, case_id: bytes, record: CaseRecord, request: dict[str, Any], text: str, *, author: str,
    today: datetime.date,
) -> bytes:
    """Seal ``text`` to the requester and queue it for the next return file; the reply id."""
    reply_key = request.get("reply_key")
    if not reply_key:
        raise TriageError(
            "This request was sent before replies were possible (it has no reply key), so no reply can reach "
            "the person through the service. Use the contact they gave, carefully."
        )
    if len(text) > MAX_REPLY_CHARS:
        raise TriageError(f"A reply has at most {MAX_REPLY_CHARS} characters; this one has {len(text)}.")
    public = crypto.ReplyPublicKey.from_b64(reply_key)
    container = crypto.seal_reply(text, written_on=today, to=public)
    reply_id = secrets.token_bytes(16)
    blob = case_id + crypto.mailbox_id(public) + container
    with store.transaction():
        store.db.execute("INSERT INTO outbox VALUES (?, ?)",
                         (reply_id, store.unlocked_key().seal(blob, context=b"outbox:" + reply_id)))  # fmt: skip
        record.thread.append({"dir": "out", "on": today.isoformat(), "by": author, "text": text, "state": "queued",
                              "id": reply_id.hex()})  # fmt: skip
        store.put_record(case_id, record)
    return reply_id


def queued(store: CaseStore) -> list[Queued]:
    found = []
    for reply_id, sealed in store.db.execute("SELECT reply_id, sealed FROM outbox"):
        reply_id = bytes(reply_id)
        blob = store.unlocked_key().open(sealed, context=b"outbox:" + reply_id)
        found.append(Queued(reply_id, blob[:16], crypto.AckReply(mailbox=blob[16:48], container=blob[48:])))
    return found


def mark_sent(store: CaseStore, sent: list[Queued], today: datetime.date) -> None:
    """After the return file is written: the replies leave the queue and their thread entries say so."""
    with store.transaction():
        for item in sent:
            store.db.execute("DELETE FROM outbox WHERE reply_id = ?", (item.reply_id,))
            record = _record(store, item.case_id)
            for message in record.thread:
                if message.get("id") == item.reply_id.hex():
                    message["state"] = "sent"
                    message["sent_on"] = today.isoformat()
            store.put_record(item.case_id, record)
