"""Replies at rest: nothing ties them to the receipts their return file collected; deletion on PostgreSQL.

Issue 18 items 7 and 8. A return file collects a few receipts and stores a few replies in one transaction;
if both kept that day, a seized database would tie each mailbox to the few receipts collected with it.
A reply the person deletes is gone from SQLite's file (secure_delete, tested elsewhere); on PostgreSQL
`intake compact` rewrites the replies table so no live table file holds it (what remains: THREAT_MODEL.md).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import text

import crypto
from intake.instance import Instance
from tests.intake.helpers import receipt_of, submit


def _ack_one(app: Flask, identity: crypto.Identity, entry_id: bytes, envelope: bytes, receipt: str, words: str,
             day: datetime.date) -> None:  # fmt: skip
    """What a caseworker's return file does: collect one envelope, and store one reply to its person."""
    services = app.extensions["intake"]
    keypair = crypto.derive_reply_keypair(receipt.replace(" ", ""), services.reply_secret)
    reply = crypto.AckReply(crypto.mailbox_id(keypair.public),
                            crypto.seal_reply(words, written_on=day, seq=1, to=keypair.public))  # fmt: skip
    server_key = Instance(services.config).server_key()
    data = crypto.make_ack([crypto.AckEntry(entry_id, crypto.envelope_digest(envelope))], identity=identity,
                           server=server_key.public, bundle_sequence=1, created_on=day, replies=[reply])  # fmt: skip
    result = services.storage.apply_ack(data, server_key, day)
    assert (result.deleted, result.replies) == (1, 1)


def test_the_receipts_a_return_file_collects_keep_no_day_that_ties_them_to_its_replies(
    sqlite_app: Flask, identity: crypto.Identity
) -> None:
    # Given two people's requests, received today
    client = sqlite_app.test_client()
    storage = sqlite_app.extensions["intake"].storage
    first = receipt_of(submit(client, story="Первая заявка"))
    [(first_id, first_envelope)] = storage.envelope_bytes()
    second = receipt_of(submit(client, story="Вторая заявка"))
    [(second_id, second_envelope)] = [pair for pair in storage.envelope_bytes() if pair[0] != first_id]
    received = datetime.date.today()
    # When two return files, on two later days, each collect one of them and store one reply to that person
    day_one, day_two = received + datetime.timedelta(days=3), received + datetime.timedelta(days=5)
    _ack_one(sqlite_app, identity, first_id, first_envelope, first, "Ответ первой", day_one)
    _ack_one(sqlite_app, identity, second_id, second_envelope, second, "Ответ второй", day_two)
    # Then, at rest, the collected receipts still carry the day they were received, never a collection day
    with storage.reading() as conn:
        receipt_days = {row[0] for row in conn.execute(text("SELECT status_on FROM receipts"))}
        statuses = {row[0] for row in conn.execute(text("SELECT status FROM receipts"))}
        reply_days = {row[0] for row in conn.execute(text("SELECT stored_on FROM replies"))}
    assert statuses == {"collected"}
    assert {str(day) for day in receipt_days} == {received.isoformat()}
    assert {str(day) for day in reply_days} == {day_one.isoformat(), day_two.isoformat()}
    # So no day at rest matches a reply to the receipts collected with it
    assert not {str(day) for day in receipt_days} & {str(day) for day in reply_days}


def _three_replies(app: Flask, identity: crypto.Identity) -> tuple[bytes, crypto.ReplyKeyPair, list[bytes]]:
    """One person's request collected by a return file that stores three replies; (mailbox, keys, containers)."""
    client = app.test_client()
    services = app.extensions["intake"]
    receipt = receipt_of(submit(client, story="Заявка"))
    [(entry_id, envelope)] = services.storage.envelope_bytes()
    keypair = crypto.derive_reply_keypair(receipt.replace(" ", ""), services.reply_secret)
    mailbox = crypto.mailbox_id(keypair.public)
    today = datetime.date.today()
    words = ["Ответ, который человек удалит", "Второй ответ", "Третий ответ"]
    containers = [crypto.seal_reply(w, written_on=today, seq=n, to=keypair.public) for n, w in enumerate(words, 1)]
    server_key = Instance(services.config).server_key()
    data = crypto.make_ack([crypto.AckEntry(entry_id, crypto.envelope_digest(envelope))], identity=identity,
                           server=server_key.public, bundle_sequence=1, created_on=today,
                           replies=[crypto.AckReply(mailbox, c) for c in containers])  # fmt: skip
    services.storage.apply_ack(data, server_key, today)
    return mailbox, keypair, containers


def test_a_deleted_reply_is_gone_from_every_sqlite_file_at_once(sqlite_app: Flask, identity: crypto.Identity) -> None:
    storage = sqlite_app.extensions["intake"].storage
    mailbox, _keypair, containers = _three_replies(sqlite_app, identity)
    instance = sqlite_app.extensions["intake"].config.instance_dir

    def files_holding(needle: bytes) -> list[str]:
        return [p.name for p in sorted(instance.rglob("*")) if p.is_file() and needle in p.read_bytes()]

    doomed = next(r for r in storage.replies_for(mailbox) if r.container == containers[0])
    needle = doomed.container[8000:8064]
    assert files_holding(needle)
    # When the person deletes it, secure_delete zeroes its pages and the WAL is folded in and truncated
    assert storage.delete_reply(mailbox, doomed.reply_id)
    assert files_holding(needle) == []
    assert files_holding(containers[1][8000:8064]), "the other replies are still there"


def _files_holding(app: Flask, needle: bytes) -> list[str]:
    """The files of this database's cluster (tables, TOAST, WAL) that hold ``needle``, after a checkpoint."""
    storage = app.extensions["intake"].storage
    with storage.engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        auto.exec_driver_sql("CHECKPOINT")  # pages from shared memory to the files, so a search sees them
        data_dir = Path(str(auto.exec_driver_sql("SHOW data_directory").scalar_one()))
        database = auto.exec_driver_sql("SELECT oid FROM pg_database WHERE datname = current_database()").scalar_one()
    found = []
    for folder in (data_dir / "base" / str(database), data_dir / "pg_wal"):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and needle in path.read_bytes():
                found.append(str(path.relative_to(data_dir)))
    return found


def test_a_deleted_reply_leaves_every_postgresql_table_file_after_compact(
    pg_app: Flask, identity: crypto.Identity
) -> None:
    # Given three replies stored on PostgreSQL, the first of which the person will delete
    storage = pg_app.extensions["intake"].storage
    mailbox, keypair, containers = _three_replies(pg_app, identity)
    doomed = next(r for r in storage.replies_for(mailbox) if r.container == containers[0])
    needle = doomed.container[8000:8064]  # 64 bytes of ciphertext from the middle of the container
    assert any(path.startswith("base/") for path in _files_holding(pg_app, needle))
    # When the person deletes it: VACUUM frees its space but does not overwrite it (the bytes stay in the file)
    assert storage.delete_reply(mailbox, doomed.reply_id)
    assert any(path.startswith("base/") for path in _files_holding(pg_app, needle)), "VACUUM zeroes now?"
    # When the daily `intake compact` runs
    storage.compact()
    # Then no file of the database's tables holds a byte of it any more (the WAL still may: THREAT_MODEL.md)
    after = _files_holding(pg_app, needle)
    assert not [path for path in after if path.startswith("base/")], after
    # And the other replies are all there
    assert sorted(crypto.open_reply(r.container, keypair).seq for r in storage.replies_for(mailbox)) == [2, 3]
