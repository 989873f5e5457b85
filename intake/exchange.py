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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import Connection, bindparam, func, insert, select, update

import crypto
from intake import blobs, rotation
from intake import questionnaires as served_versions
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
    unreadable: int = 0  # kept: no registered key can read them (intake.rotation)
    unknown_key: int = 0  # kept: they name a removed key whose public half this server no longer has


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


def export(
    storage: Storage, out: BinaryIO, server_key: crypto.ServerKey, day: datetime.date, *,
    questionnaires: Sequence[bytes] | None = None,
    blobs: Callable[[Connection, frozenset[bytes]], Iterable[crypto.ExportBlob]] | None = None,
) -> ExportResult:  # fmt: skip
    """Write a signed bundle of every envelope a registered key can read, from one consistent snapshot.

    ``questionnaires`` (canonical questionnaire texts; by default every version this server recorded) and
    ``blobs`` (called once with the snapshot's connection and the ids of the envelopes exported: their sealed
    files, in any order, read from that same snapshot) make it bundle version 5; the writer streams each
    blob's chunks straight into ``out``, so neither a file nor the bundle is ever whole in memory. Envelopes,
    files, replies confirmed and questionnaires all come from one read snapshot: an acknowledgement applied or
    a request stored while a large bundle is written changes nothing in it.

    The bundle number and the new serials are taken first, in one short write transaction; the envelopes
    are then read from a snapshot, so submissions go on while a large bundle is written. If writing fails,
    the number is given back (unless another export took the next one meanwhile): a failed export spends
    none. Envelopes no registered key can read are kept and counted, never a reason to stop
    (intake.rotation); an envelope sealed to a removed key and a registered one names both (version 4).
    """
    with storage.writing() as conn:
        rotation.forget_unneeded(conn)  # removed keys no stored envelope names since the last acks (rare: a scan)
        sequence = int(conn.execute(_BUMP_BUNDLE).scalar_one())
        high = int(conn.execute(_HIGH_WATER).scalar_one())
        fresh_rows = conn.execute(select(envelopes.c.id, envelopes.c.sealed_to).where(envelopes.c.serial.is_(None)))
        numbering = rotation.plan(conn, [(bytes(row.id), row.sealed_to) for row in fresh_rows])
        # Only envelopes this export can carry get a serial: one kept back would read as a gap on the laptop.
        fresh = list(numbering.exportable)
        secrets.SystemRandom().shuffle(fresh)
        if fresh:
            conn.execute(_NUMBER, [{"entry": entry, "number": high + n} for n, entry in enumerate(fresh, start=1)])
            conn.execute(_SET_HIGH_WATER, {"high": high + len(fresh)})
    try:
        with storage.reading() as conn:
            high_water = int(conn.execute(_HIGH_WATER).scalar_one())
            rows = conn.execute(select(envelopes.c.id, envelopes.c.sealed_to).where(envelopes.c.serial.isnot(None)))
            chosen = rotation.plan(conn, [(bytes(row.id), row.sealed_to) for row in rows])

            def entries() -> Iterator[crypto.BundleEntry]:
                query = (select(envelopes.c.id, envelopes.c.serial, envelopes.c.envelope, envelopes.c.sealed_to)
                         .where(envelopes.c.serial.isnot(None)).order_by(envelopes.c.serial))  # fmt: skip
                for row in conn.execution_options(yield_per=64).execute(query):
                    if bytes(row.id) in chosen.exportable:
                        yield crypto.BundleEntry(entry_id=bytes(row.id), serial=int(row.serial),
                                                 envelope=bytes(row.envelope), sealed_to=_sealed_to(row.sealed_to))

            delivered = [bytes(row.digest) for row in conn.execute(select(reply_digests.c.digest))]
            files = blobs(conn, frozenset(chosen.exportable)) if blobs is not None else ()  # the same snapshot
            crypto.write_bundle(out, entries(), count=len(chosen.exportable), server_key=server_key,
                                sequence=sequence, high_water=high_water, created_on=day,
                                recipients=chosen.current, delivered=delivered if chosen.current else None,
                                former=chosen.former_keys(),
                                questionnaires=(served_versions.recorded(conn) if questionnaires is None
                                                else questionnaires),  # every version served (invariant 20)
                                blobs=files)  # fmt: skip
    except BaseException:
        give_back(storage, sequence)
        raise
    finally:
        storage.scrub()  # what an acknowledgement deleted while the snapshot was held leaves the WAL now
    # Kept back: numbered ones no key can read now, and fresh ones that got no number for that reason.
    return ExportResult(count=len(chosen.exportable), sequence=sequence, high_water=high_water,
                        unreadable=chosen.unreadable + numbering.unreadable,
                        unknown_key=chosen.unknown_key + numbering.unknown_key)  # fmt: skip


def give_back(storage: Storage, sequence: int) -> bool:
    """Undo a bundle number whose bundle was never finished, if no later export took the next one."""
    with storage.writing() as conn:
        return bool(conn.execute(update(counters).where(counters.c.name == BUNDLE_COUNTER,
                                                        counters.c.value == sequence)
                                 .values(value=sequence - 1)).rowcount)  # fmt: skip


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
            blobs.delete_for_envelopes(conn, [entry.entry_id])  # its files go with it
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
