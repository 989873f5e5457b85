"""``intake status``: the instance at a glance, from what is already on its disk.

Everything printed is what a seized database or folder already shows (counts, sizes, days, public key
fingerprints, counters); nothing derived from a receipt, a secret or an envelope's contents. The days of
the last export and compaction are kept as counters (day numbers, never a finer time) by the commands
that do them.
"""

from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from intake.config import IntakeConfig
from intake.rotation import unreadable_ids
from intake.storage import Recipient, Storage
from intake.tables import BUNDLE_COUNTER, applied_acks, blobs, counters, envelopes, replies

EXPORTED_ON = "exported_on"  # day number (date.toordinal) of the last export
COMPACTED_ON = "compacted_on"  # day number of the last compaction


@dataclass(frozen=True)
class Status:
    pending: int
    pending_bytes: int
    oldest_day: datetime.date | None
    unreadable: int
    replies: int
    recipients: list[Recipient]
    bundles: int
    last_export: datetime.date | None
    last_ack: datetime.date | None
    last_compaction: datetime.date | None
    free_bytes: int
    total_bytes: int
    database: str
    files: int = 0  # sealed files stored (received, waiting for export and acknowledgement, or being received)
    file_bytes: int = 0
    file_cap: int = 0  # INTAKE_PENDING_MAX_BYTES


def record_day(storage: Storage, name: str, day: datetime.date) -> None:
    """Remember that ``name`` (an export, a compaction) happened on ``day``."""
    with storage.writing() as conn:
        changed = conn.execute(update(counters).where(counters.c.name == name).values(value=day.toordinal()))
        if not changed.rowcount:
            conn.execute(insert(counters).values(name=name, value=day.toordinal()))


def _day(value: int | None) -> datetime.date | None:
    return datetime.date.fromordinal(value) if value else None


def read_status(config: IntakeConfig, storage: Storage) -> Status:
    with storage.reading() as conn:
        size = func.coalesce(func.sum(func.length(envelopes.c.envelope)), 0)
        pending, size, oldest = conn.execute(select(func.count(), size, func.min(envelopes.c.received_on))).one()
        values = {row.name: int(row.value) for row in conn.execute(select(counters.c.name, counters.c.value))}
        last_ack = conn.execute(select(func.max(applied_acks.c.applied_on))).scalar_one()
        waiting_replies = int(conn.execute(select(func.count()).select_from(replies)).scalar_one())
        unreadable = len(unreadable_ids(conn))
        files, file_bytes = conn.execute(select(func.count(), func.coalesce(func.sum(blobs.c.size), 0))).one()
    disk = shutil.disk_usage(config.instance_dir)
    return Status(
        pending=int(pending), pending_bytes=int(size), oldest_day=oldest, unreadable=unreadable,
        replies=waiting_replies, recipients=storage.recipients(), bundles=values.get(BUNDLE_COUNTER, 0),
        last_export=_day(values.get(EXPORTED_ON)), last_ack=last_ack,
        last_compaction=_day(values.get(COMPACTED_ON)), free_bytes=disk.free, total_bytes=disk.total,
        database="SQLite" if config.is_sqlite else "PostgreSQL", files=int(files), file_bytes=int(file_bytes),
        file_cap=config.pending_max_bytes,
    )  # fmt: skip


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


def _ago(day: datetime.date | None, today: datetime.date) -> str:
    if day is None:
        return "never"
    days = (today - day).days
    return f"{day.isoformat()} ({days} day{'s' if days != 1 else ''} ago)" if days else f"{day.isoformat()} (today)"


def render(status: Status, today: datetime.date) -> list[str]:
    lines = [
        f"Waiting for export or acknowledgement: {status.pending} envelope(s), {_mib(status.pending_bytes)}",
        f"Oldest waiting since:  {_ago(status.oldest_day, today) if status.oldest_day else 'nothing waits'}",
    ]
    if status.unreadable:
        lines.append(f"No registered key can read: {status.unreadable} of them "
                     "(see `intake recipients drop-unreadable`)")  # fmt: skip
    lines.append(f"Files (sealed) stored: {status.files}, {_mib(status.file_bytes)} of the {_mib(status.file_cap)} "
                 "past which new files are refused (INTAKE_PENDING_MAX_BYTES)")  # fmt: skip
    lines.append(f"Replies waiting for requesters: {status.replies}")
    lines.append(f"Caseworker keys: {len(status.recipients)}")
    lines += [f"  {r.fingerprint}  {r.public.name}  added {r.added_on.isoformat()}" for r in status.recipients]
    lines += [
        f"Last export:           {_ago(status.last_export, today)}, bundle number {status.bundles}",
        f"Last acknowledgement:  {_ago(status.last_ack, today)}",
        f"Last compaction:       {_ago(status.last_compaction, today)}",
        f"Free disk:             {_mib(status.free_bytes)} of {_mib(status.total_bytes)}",
        f"Database:              {status.database}",
    ]
    return lines
