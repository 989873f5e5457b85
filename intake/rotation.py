"""Who can still read each stored envelope, so that no change of caseworker keys ever stops an export.

Each envelope records the keys it was sealed to (``sealed_to``). When a key is removed, its public half
moves to ``former_recipients`` (while some envelope still names it), so an export can still say, signed,
every key that can read each entry (bundle version 4, docs/FORMAT.md §8.1). An envelope that no registered
key can read any more is **kept** and left out of the bundle (a laptop could not open it, and no
acknowledgement could ever delete it): the export reports how many, and ``intake recipients
drop-unreadable --force`` deletes them on purpose. Nothing here reads an envelope's bytes.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

import crypto
from intake.tables import COLLECTED_COUNTER, counters, envelopes, former_recipients, receipts, recipients

_ADD_COLLECTED = (update(counters).where(counters.c.name == COLLECTED_COUNTER)
                  .values(value=counters.c.value + bindparam("deleted")))  # fmt: skip


def readers(sealed_to: str | None) -> tuple[str, ...]:
    """The fingerprints an envelope was sealed to; () for envelopes stored before revision 0004."""
    return tuple(sealed_to.split(",")) if sealed_to else ()


@dataclass
class Plan:
    """What an export may carry, from one view of the keys and the envelopes' ``sealed_to``."""

    current: list[crypto.PublicIdentity]
    former: dict[str, crypto.PublicIdentity]
    exportable: set[bytes] = field(default_factory=set)
    unreadable: int = 0  # no registered key can read it: kept, not exported
    unknown_key: int = 0  # readable, but names a removed key whose public half this server no longer has
    needed_former: set[str] = field(default_factory=set)

    @property
    def kept(self) -> int:
        return self.unreadable + self.unknown_key

    def add(self, entry_id: bytes, sealed_to: str | None) -> bool:
        names = readers(sealed_to)
        current = {key.fingerprint for key in self.current}
        if not any(fp in current for fp in names):
            self.unreadable += 1
            return False
        gone = [fp for fp in names if fp not in current]
        if any(fp not in self.former for fp in gone):
            self.unknown_key += 1
            return False
        self.needed_former.update(gone)
        self.exportable.add(entry_id)
        return True

    def former_keys(self) -> list[crypto.PublicIdentity]:
        return [self.former[fp] for fp in sorted(self.needed_former)]


def plan(conn: Connection, rows: Iterable[tuple[bytes, str | None]]) -> Plan:
    """Sort ``rows`` of (id, sealed_to) by what the keys in ``conn``'s view allow."""
    current = [crypto.PublicIdentity.from_text(row.public_text)
               for row in conn.execute(select(recipients.c.public_text)
                                       .order_by(recipients.c.added_on, recipients.c.fingerprint))]  # fmt: skip
    former = {row.fingerprint: crypto.PublicIdentity.from_text(row.public_text)
              for row in conn.execute(select(former_recipients.c.fingerprint, former_recipients.c.public_text))}
    result = Plan(current, former)
    for entry_id, sealed_to in rows:
        result.add(bytes(entry_id), sealed_to)
    return result


def _all_sealed_to(conn: Connection) -> list[tuple[bytes, str | None]]:
    return [(bytes(r.id), r.sealed_to) for r in conn.execute(select(envelopes.c.id, envelopes.c.sealed_to))]


def only_readable_by(conn: Connection, fingerprint: str) -> int:
    """How many stored envelopes no registered key but ``fingerprint`` can read."""
    others = {row.fingerprint for row in conn.execute(select(recipients.c.fingerprint))} - {fingerprint}
    return sum(1 for _, sealed_to in _all_sealed_to(conn)
               if fingerprint in (names := readers(sealed_to)) and not others.intersection(names))  # fmt: skip


def unreadable_ids(conn: Connection) -> list[bytes]:
    """Stored envelopes that no registered key can read (pre-0004 envelopes, with no record, are not counted)."""
    current = {row.fingerprint for row in conn.execute(select(recipients.c.fingerprint))}
    return [entry_id for entry_id, sealed_to in _all_sealed_to(conn)
            if sealed_to and not current.intersection(readers(sealed_to))]  # fmt: skip


def drop_unreadable(conn: Connection) -> int:
    """Delete every envelope no registered key can read; its receipt keeps saying "received". Returns how many."""
    gone = unreadable_ids(conn)
    for entry_id in gone:
        conn.execute(delete(envelopes).where(envelopes.c.id == entry_id))
        conn.execute(update(receipts).where(receipts.c.envelope_id == entry_id).values(envelope_id=None))
    # The pending count is "received - collected": a dropped envelope no longer waits either.
    conn.execute(_ADD_COLLECTED, {"deleted": len(gone)})
    forget_unneeded(conn)
    return len(gone)


def retire(conn: Connection, fingerprint: str, day: datetime.date) -> bool:
    """Remove a key from the recipient set, keeping its public half while envelopes name it."""
    row = conn.execute(select(recipients.c.public_text).where(recipients.c.fingerprint == fingerprint)).first()
    if row is None:
        return False
    conn.execute(delete(recipients).where(recipients.c.fingerprint == fingerprint))
    conn.execute(delete(former_recipients).where(former_recipients.c.fingerprint == fingerprint))
    conn.execute(former_recipients.insert().values(fingerprint=fingerprint, public_text=row.public_text,
                                                   removed_on=day))  # fmt: skip
    forget_unneeded(conn)
    return True


def remember_former(conn: Connection, public: crypto.PublicIdentity, day: datetime.date) -> int:
    """A removed key's public half, given again (its row was lost, e.g. removed before revision 0007).

    Only for a key that is not registered and that some stored envelope names; returns how many name it.
    """
    fingerprint = public.fingerprint
    if conn.execute(select(recipients.c.fingerprint).where(recipients.c.fingerprint == fingerprint)).first():
        return 0
    named = sum(1 for _, sealed_to in _all_sealed_to(conn) if fingerprint in readers(sealed_to))
    if named:
        conn.execute(delete(former_recipients).where(former_recipients.c.fingerprint == fingerprint))
        conn.execute(former_recipients.insert().values(fingerprint=fingerprint, public_text=public.to_text(),
                                                       removed_on=day))  # fmt: skip
    return named


def reinstate(conn: Connection, fingerprint: str) -> None:
    """A removed key registered again is a recipient, no longer a former one."""
    conn.execute(delete(former_recipients).where(former_recipients.c.fingerprint == fingerprint))


def forget_unneeded(conn: Connection) -> None:
    """Former keys that no stored envelope names any more are forgotten (they are public, but history)."""
    if conn.execute(select(former_recipients.c.fingerprint).limit(1)).first() is None:
        return  # the usual case: no scan of the envelopes (their sealed_to sits after a 32 KiB column)
    named: set[str] = set()
    for _, sealed_to in _all_sealed_to(conn):
        named.update(readers(sealed_to))
    for row in conn.execute(select(former_recipients.c.fingerprint)).all():
        if row.fingerprint not in named:
            conn.execute(delete(former_recipients).where(former_recipients.c.fingerprint == row.fingerprint))
