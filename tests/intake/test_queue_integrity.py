"""Issue 9 items 5, 6 and 9: who may make the server forget an envelope, who is registered, and no order.

* An acknowledgement deletes only envelopes sealed to its signer (invariant 13): a registered key that
  could not read an envelope cannot delete it, nor make the person's receipt say "collected".
* A second key with a caseworker's name is refused; the recipient set is signed into every bundle.
* The stored state does not say in which order submissions arrived within a day (invariant 15).
"""

from __future__ import annotations

import datetime
import io
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa

import crypto
from intake.config import IntakeConfig
from intake.instance import Instance
from intake.storage import DuplicateRecipientError, Storage

DAY = datetime.date(2026, 11, 22)


def request(story: str = "words") -> dict[str, object]:
    return {"schema": 1, "locale": "en", "submitted_on": DAY, "danger": "serious", "people": 1,
            "contact_method": "email", "contact": "a@b", "story": story, "consent": True}  # fmt: skip


def submit(storage: Storage, story: str = "words") -> tuple[bytes, bytes]:
    lookup = secrets.token_bytes(32)
    entry_id = storage.seal_and_store(lambda keys: crypto.seal_request(request(story), for_recipients=keys),
                                      lookup, DAY, 1000)  # fmt: skip
    return entry_id, lookup


def ack_all(storage: Storage, server_key: crypto.ServerKey, signer: crypto.Identity) -> bytes:
    entries = [crypto.AckEntry(i, crypto.envelope_digest(e)) for i, e in storage.envelope_bytes()]
    return crypto.make_ack(entries, identity=signer, server=server_key.public, bundle_sequence=1, created_on=DAY)


@pytest.fixture
def server(config: IntakeConfig) -> tuple[Storage, crypto.ServerKey]:
    Instance(config).initialize()
    storage = Storage(config.database_url)
    yield storage, Instance(config).server_key()
    storage.dispose()


def test_a_registered_key_cannot_delete_what_was_not_sealed_to_it(server: tuple[Storage, crypto.ServerKey]) -> None:
    storage, server_key = server
    alice, mallory = crypto.Identity.generate("Alice"), crypto.Identity.generate("Mallory")
    # Given a request sealed to Alice only, and then a second key registered
    storage.add_recipient(alice.public, DAY)
    _, lookup = submit(storage)
    storage.add_recipient(mallory.public, DAY)
    # When the new key acknowledges everything on the server
    result = storage.apply_ack(ack_all(storage, server_key, mallory), server_key, DAY)
    # Then nothing is deleted and the person is not told "collected"
    assert (result.deleted, result.not_yours) == (0, 1)
    assert storage.pending_count() == 1 and storage.receipt_status(lookup) == "received"
    # And Alice, who can read it, can have it deleted
    assert storage.apply_ack(ack_all(storage, server_key, alice), server_key, DAY).deleted == 1
    assert storage.receipt_status(lookup) == "collected"


def test_an_envelope_sealed_to_two_is_collected_by_either_and_a_removed_key_deletes_nothing(
    server: tuple[Storage, crypto.ServerKey],
) -> None:
    storage, server_key = server
    alice, bob = crypto.Identity.generate("Alice"), crypto.Identity.generate("Bob")
    storage.add_recipient(alice.public, DAY)
    storage.add_recipient(bob.public, DAY)
    submit(storage)
    submit(storage)
    storage.remove_recipient(bob.fingerprint)
    with pytest.raises(crypto.UnknownSignerError):
        storage.apply_ack(ack_all(storage, server_key, bob), server_key, DAY)
    assert storage.pending_count() == 2
    assert storage.apply_ack(ack_all(storage, server_key, alice), server_key, DAY).deleted == 2


@pytest.mark.parametrize("name", ["Alice", "alice", " ALICE ", "Ａｌｉｃｅ"])
def test_a_second_key_with_a_registered_name_is_refused(server: tuple[Storage, crypto.ServerKey], name: str) -> None:
    storage, _ = server
    storage.add_recipient(crypto.Identity.generate("Alice").public, DAY)
    with pytest.raises(DuplicateRecipientError):
        storage.add_recipient(crypto.Identity.generate(name.strip()).public, DAY)
    assert len(storage.recipients()) == 1


def test_a_second_key_with_a_registered_encryption_key_is_refused(server: tuple[Storage, crypto.ServerKey]) -> None:
    storage, _ = server
    alice = crypto.Identity.generate("Alice")
    storage.add_recipient(alice.public, DAY)
    # Given a key file that reuses Alice's encryption key under another signing key (anyone can write one: the
    # self-signature is by the signing key only)
    mallory = crypto.Identity("Mallory", alice.secret_bytes()[0], secrets.token_bytes(32)).public
    assert mallory.box_public == alice.public.box_public and mallory.fingerprint != alice.fingerprint
    # Then it is refused (FORMAT.md §4.3: one encryption key is one recipient), and submissions go on
    with pytest.raises(DuplicateRecipientError, match="same encryption key"):
        storage.add_recipient(mallory, DAY)
    assert [r.fingerprint for r in storage.recipients()] == [alice.fingerprint]
    submit(storage)
    assert storage.pending_count() == 1


def test_the_recipient_set_is_signed_into_every_bundle(server: tuple[Storage, crypto.ServerKey]) -> None:
    storage, server_key = server
    alice, bob = crypto.Identity.generate("Alice"), crypto.Identity.generate("Bob")
    storage.add_recipient(alice.public, DAY)
    submit(storage)
    storage.add_recipient(bob.public, DAY)
    submit(storage)
    out = io.BytesIO()
    storage.export(out, server_key, DAY)
    bundle = crypto.read_bundle(out.getvalue(), expected_server=server_key.public)
    assert {k.fingerprint for k in bundle.header.recipients} == {alice.fingerprint, bob.fingerprint}
    sealed_to = sorted(len(e.sealed_to) for e in bundle.entries())
    assert sealed_to == [1, 2], "each envelope names exactly the keys it was sealed to"


# --- no order within a day (item 9) ----------------------------------------------------------------------


def test_no_table_keeps_an_insertion_order(sqlite_config: IntakeConfig) -> None:
    Instance(sqlite_config).initialize()
    storage = Storage(sqlite_config.database_url)
    storage.add_recipient(crypto.Identity.generate("Alice").public, DAY)
    # Given 16 submissions in a known order (one after another, so each is its own group commit)
    arrival = [submit(storage, f"story {n}")[0] for n in range(16)]
    try:
        with storage.engine.connect() as conn:
            for table in ("receipts", "replies", "applied_acks"):
                with pytest.raises(sa.exc.OperationalError):
                    conn.exec_driver_sql(f"SELECT rowid FROM {table}")
                conn.rollback()
            # Envelopes are a rowid table (revision 0010), and each rowid is drawn at random, not the next one
            rowids = {bytes(r[0]): r[1] for r in conn.exec_driver_sql("SELECT id, rowid FROM envelopes")}
    finally:
        storage.dispose()
    in_rowid_order = sorted(arrival, key=rowids.__getitem__)
    assert in_rowid_order != arrival, "rowid order is arrival order (16! orders; one is arrival)"
    # Random 63-bit values: their spread is wide (a counter's would be 15), and none is small
    assert max(rowids.values()) - min(rowids.values()) > 2**40
    assert min(rowids.values()) > 2**20


def test_serials_and_file_layout_do_not_follow_arrival_order(sqlite_config: IntakeConfig) -> None:
    # Given 24 submissions on one day, in a known order
    Instance(sqlite_config).initialize()
    storage = Storage(sqlite_config.database_url)
    storage.add_recipient(crypto.Identity.generate("Alice").public, DAY)
    arrival = [submit(storage, f"story {n}")[0] for n in range(24)]
    try:
        # When the server exports (serials are given) and compacts, as the operations guide says
        out = io.BytesIO()
        storage.export(out, Instance(sqlite_config).server_key(), DAY)
        storage.compact()
        with storage.engine.connect() as conn:
            by_serial = [bytes(r[0]) for r in conn.exec_driver_sql("SELECT id FROM envelopes ORDER BY serial")]
            envelopes = {bytes(r[0]): bytes(r[1]) for r in conn.exec_driver_sql("SELECT id, envelope FROM envelopes")}
            rowids = {bytes(r[0]): r[1] for r in conn.exec_driver_sql("SELECT id, rowid FROM envelopes")}
    finally:
        storage.dispose()
    # Then the serial order is a shuffle, not the arrival order (24! orders; one is arrival)
    assert sorted(by_serial) == sorted(arrival) and by_serial != arrival
    # And in the database file the envelopes lie in rowid order (random rowids), not in the order they arrived
    data = Path(sqlite_config.instance_dir, "intake.db").read_bytes()
    offsets = {entry: data.find(envelopes[entry][-48:]) for entry in arrival}
    assert all(offset >= 0 for offset in offsets.values())
    by_offset = sorted(arrival, key=offsets.__getitem__)
    assert by_offset == sorted(arrival, key=rowids.__getitem__) != arrival
