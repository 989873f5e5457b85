"""What crosses the air gap, server side: the export bundle out, the signed return file in.

Export gives every envelope that has no serial yet the next serials, in a shuffled order, so a serial
says in which export an envelope left, never in which order envelopes arrived. The bundle carries the
server's current recipient set and, per envelope, the keys it was sealed to (invariant 14).

An acknowledgement deletes an envelope only when it names its id and exact digest **and** its signer is
one of the keys the envelope was sealed to (invariant 13): a registered key that could not read an
envelope cannot make the server forget it, nor tell the person it was collected. The return file's
sealed replies are stored under their mailbox, unreadable here.
"""

from __future__ import annotations

import datetime
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import Connection, bindparam, func, insert, select, update

import crypto
from intake.database import AckReplayedError
from intake.tables import (
    BUNDLE_COUNTER,
    COLLECTED,
    COLLECTED_COUNTER,
    SERIAL_COUNTER,
    applied_acks,
    counters,
    envelopes,
    receipts,
    replies,
    reply_digests,
)

if TYPE_CHECKING:
    from intake.storage import Storage

_BUMP_BUNDLE = (update(counters).where(counters.c.name == BUNDLE_COUNTER).values(value=counters.c.value + 1)
                .returning(counters.c.value))  # fmt: skip
_PENDING = select(func.count()).select_from(envelopes)
_HIGH_WATER = select(counters.c.value).where(counters.c.name == SERIAL_COUNTER)
_SET_HIGH_WATER = update(counters).where(counters.c.name == SERIAL_COUNTER).values(value=bindparam("high"))
_NUMBER = update(envelopes).where(envelopes.c.id == bindparam("entry")).values(serial=bindparam("number"))
_ADD_COLLECTED = (update(counters).where(counters.c.name == COLLECTED_COUNTER)
                  .values(value=counters.c.value + bindparam("deleted")))  # fmt: skip


@dataclass(frozen=True)
class ExportResult:
    count: int
    sequence: int
    high_water: int


@dataclass(frozen=True)
class AckResult:
    deleted: int
    not_found: int
    mismatched: int
    not_yours: int
    replies: int
    signer: str
    bundle_sequence: int
    replies_again: int = 0  # carried again by a laptop that had not yet heard they arrived: not stored twice


def export(storage: Storage, out: BinaryIO, server_key: crypto.ServerKey, day: datetime.date) -> ExportResult:
    """Write a signed bundle of every envelope still stored, from one consistent snapshot.

    The bundle number and the new serials are taken first, in one short write transaction: a number
    spent on a failed export is skipped, never reused. The envelopes are then read from a snapshot, so
    submissions go on while a large bundle is written.
    """
    with storage.writing() as conn:
        sequence = int(conn.execute(_BUMP_BUNDLE).scalar_one())
        high = int(conn.execute(_HIGH_WATER).scalar_one())
        fresh = [bytes(row.id) for row in conn.execute(select(envelopes.c.id).where(envelopes.c.serial.is_(None)))]
        secrets.SystemRandom().shuffle(fresh)
        if fresh:
            conn.execute(_NUMBER, [{"entry": entry, "number": high + n} for n, entry in enumerate(fresh, start=1)])
            conn.execute(_SET_HIGH_WATER, {"high": high + len(fresh)})
    recipients = storage.registered()
    with storage.reading() as conn:
        high_water = int(conn.execute(_HIGH_WATER).scalar_one())
        count = int(conn.execute(_PENDING).scalar_one())

        def entries() -> Iterator[crypto.BundleEntry]:
            query = (select(envelopes.c.id, envelopes.c.serial, envelopes.c.envelope, envelopes.c.sealed_to)
                     .order_by(envelopes.c.serial))  # fmt: skip
            for row in conn.execution_options(yield_per=64).execute(query):
                yield crypto.BundleEntry(entry_id=bytes(row.id), serial=int(row.serial), envelope=bytes(row.envelope),
                                         sealed_to=_sealed_to(row.sealed_to))  # fmt: skip

        delivered = [bytes(row.digest) for row in conn.execute(select(reply_digests.c.digest))]
        crypto.write_bundle(out, entries(), count=count, server_key=server_key, sequence=sequence,
                            high_water=high_water, created_on=day, recipients=recipients,
                            delivered=delivered if recipients else None)  # fmt: skip
    return ExportResult(count=count, sequence=sequence, high_water=high_water)


def _sealed_to(text: str | None) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


def apply_ack(storage: Storage, data: bytes, server_key: crypto.ServerKey, day: datetime.date) -> AckResult:
    """Verify a return file, delete exactly the envelopes it may delete, store its sealed replies.

    Raises the crypto errors of ``read_ack`` (nothing is deleted or stored then) or AckReplayedError.
    """
    ack = crypto.read_ack(data, server=server_key.public, caseworkers=storage.registered())
    signer = ack.signer.fingerprint
    deleted = not_found = mismatched = not_yours = 0
    with storage.writing() as conn:
        if conn.execute(select(applied_acks.c.digest).where(applied_acks.c.digest == ack.digest)).first():
            raise AckReplayedError("this acknowledgement was applied before")
        for entry in ack.entries:
            row = conn.execute(select(envelopes.c.envelope, envelopes.c.sealed_to)
                               .where(envelopes.c.id == entry.entry_id)).first()  # fmt: skip
            if row is None:
                not_found += 1
                continue
            if not hmac.compare_digest(crypto.envelope_digest(bytes(row.envelope)), entry.digest):
                mismatched += 1
                continue
            # Envelopes stored before revision 0004 have no record of their keys (see THREAT_MODEL.md).
            if row.sealed_to is not None and signer not in _sealed_to(row.sealed_to):
                not_yours += 1
                continue
            conn.execute(envelopes.delete().where(envelopes.c.id == entry.entry_id))
            # The status changes, the day stays the day it was received: a collection day at rest would tie
            # the receipts one acknowledgement collected to the replies it stored (THREAT_MODEL.md).
            conn.execute(update(receipts).where(receipts.c.envelope_id == entry.entry_id)
                         .values(status=COLLECTED, envelope_id=None))  # fmt: skip
            deleted += 1
        stored = _store_replies(conn, ack.replies, day)
        again = len(ack.replies) - stored
        conn.execute(insert(applied_acks).values(digest=ack.digest, applied_on=day))
        conn.execute(_ADD_COLLECTED, {"deleted": deleted})
    if deleted:
        storage.scrub()
    return AckResult(deleted, not_found, mismatched, not_yours, stored, signer, ack.bundle_sequence, again)


def _store_replies(conn: Connection, carried: tuple[crypto.AckReply, ...], day: datetime.date) -> int:
    """File each reply under its mailbox unless its container was stored before; how many were new."""
    stored = 0
    for reply in carried:
        digest = crypto.reply_digest(reply.container)
        if conn.execute(select(reply_digests.c.digest).where(reply_digests.c.digest == digest)).first():
            continue  # stored before (and maybe read and deleted by the person since): never twice
        conn.execute(insert(reply_digests).values(digest=digest, stored_on=day))
        conn.execute(insert(replies).values(id=secrets.token_bytes(16), mailbox=reply.mailbox,
                                            container=reply.container, stored_on=day))  # fmt: skip
        stored += 1
    return stored
