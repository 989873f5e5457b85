"""Storage on SQLite and PostgreSQL: serials, the pending cap, receipts, export and acknowledgement."""

from __future__ import annotations

import datetime
import io
import secrets
from collections.abc import Iterator

import pytest

import crypto
from intake.config import IntakeConfig
from intake.instance import Instance
from intake.storage import AckReplayedError, Storage, StorageFullError

DAY = datetime.date(2026, 11, 22)


@pytest.fixture
def storage(config: IntakeConfig, identity: crypto.Identity) -> Iterator[Storage]:
    Instance(config).initialize()
    storage = Storage(config.database_url)
    storage.add_recipient(identity.public, DAY)
    yield storage
    storage.dispose()


def envelope_for(identity: crypto.Identity, story: str = "words") -> bytes:
    request = {"schema": 1, "locale": "en", "submitted_on": DAY, "danger": "serious", "people": 1,
               "contact_method": "email", "contact": "a@b", "story": story, "consent": True}  # fmt: skip
    return crypto.seal_request(request, for_recipients=[identity.public])


def test_a_refused_submission_leaves_nothing_and_the_cap_counts_what_is_stored(
    storage: Storage, identity: crypto.Identity
) -> None:
    envelope = envelope_for(identity)
    ids = [storage.store_submission(envelope, secrets.token_bytes(32), DAY, max_pending=3) for _ in range(3)]
    assert len(set(ids)) == 3 and all(len(i) == 16 for i in ids)
    with pytest.raises(StorageFullError):
        storage.store_submission(envelope, secrets.token_bytes(32), DAY, max_pending=3)
    assert storage.pending_count() == 3
    with storage.reading() as conn:
        assert conn.exec_driver_sql("SELECT value FROM counters WHERE name = 'received'").scalar_one() == 3
        # No serial before export: a serial given on arrival would be the order of arrival.
        assert conn.exec_driver_sql("SELECT count(*) FROM envelopes WHERE serial IS NULL").scalar_one() == 3


def test_receipt_status_lifecycle(storage: Storage, identity: crypto.Identity, config: IntakeConfig) -> None:
    lookup = secrets.token_bytes(32)
    storage.store_submission(envelope_for(identity), lookup, DAY, max_pending=10)
    assert storage.receipt_status(lookup) == "received"
    assert storage.receipt_status(secrets.token_bytes(32)) is None
    server_key = Instance(config).server_key()
    bundle = io.BytesIO()
    storage.export(bundle, server_key, DAY)
    entries = list(crypto.read_bundle(bundle.getvalue(), expected_server=server_key.public).entries())
    ack = crypto.make_ack([crypto.AckEntry(e.entry_id, crypto.envelope_digest(e.envelope)) for e in entries],
                          identity=identity, server=server_key.public, bundle_sequence=1, created_on=DAY)  # fmt: skip
    result = storage.apply_ack(ack, server_key, DAY)
    assert result.deleted == 1 and storage.pending_count() == 0
    assert storage.receipt_status(lookup) == "collected"


def test_export_numbers_envelopes_in_a_shuffled_order_and_streams_them_by_serial(
    storage: Storage, identity: crypto.Identity, config: IntakeConfig
) -> None:
    stored = [envelope_for(identity, f"story {n}") for n in range(5)]
    for envelope in stored:
        storage.store_submission(envelope, secrets.token_bytes(32), DAY, max_pending=100)
    server_key = Instance(config).server_key()
    first, second = io.BytesIO(), io.BytesIO()
    one = storage.export(first, server_key, DAY)
    two = storage.export(second, server_key, DAY)
    assert (one.count, one.sequence, one.high_water) == (5, 1, 5)
    assert (two.count, two.sequence, two.high_water) == (5, 2, 5), "serials are given once, at the first export"
    bundle = crypto.read_bundle(first.getvalue(), expected_server=server_key.public)
    assert (bundle.header.sequence, bundle.header.high_water, bundle.header.count) == (1, 5, 5)
    assert [r.fingerprint for r in bundle.header.recipients] == [identity.fingerprint]
    entries = list(bundle.entries())
    assert [e.serial for e in entries] == [1, 2, 3, 4, 5]
    assert sorted(e.envelope for e in entries) == sorted(stored)
    assert all(e.sealed_to == (identity.fingerprint,) for e in entries)
    again = list(crypto.read_bundle(second.getvalue(), expected_server=server_key.public).entries())
    assert [(e.entry_id, e.serial) for e in again] == [(e.entry_id, e.serial) for e in entries]


def test_ack_deletes_only_matching_id_and_digest_and_is_never_replayed(
    storage: Storage, identity: crypto.Identity, config: IntakeConfig
) -> None:
    for n in range(3):
        storage.store_submission(envelope_for(identity, str(n)), secrets.token_bytes(32), DAY, max_pending=100)
    server_key = Instance(config).server_key()
    (a_id, a_env), (b_id, _b_env), (c_id, c_env) = storage.envelope_bytes()  # in id order
    entries = [
        crypto.AckEntry(a_id, crypto.envelope_digest(a_env)),  # matches: deleted
        crypto.AckEntry(b_id, crypto.envelope_digest(c_env)),  # right id, wrong digest: kept
        crypto.AckEntry(secrets.token_bytes(16), crypto.envelope_digest(c_env)),  # unknown id
    ]
    ack = crypto.make_ack(entries, identity=identity, server=server_key.public, bundle_sequence=1, created_on=DAY)
    result = storage.apply_ack(ack, server_key, DAY)
    assert (result.deleted, result.mismatched, result.not_found) == (1, 1, 1)
    assert [i for i, _ in storage.envelope_bytes()] == [b_id, c_id]
    with pytest.raises(AckReplayedError):
        storage.apply_ack(ack, server_key, DAY)


def test_forged_foreign_or_tampered_acks_delete_nothing(storage: Storage, identity: crypto.Identity,
                                                        config: IntakeConfig) -> None:  # fmt: skip
    storage.store_submission(envelope_for(identity), secrets.token_bytes(32), DAY, max_pending=100)
    server_key = Instance(config).server_key()
    [(entry_id, envelope)] = storage.envelope_bytes()
    entry = [crypto.AckEntry(entry_id, crypto.envelope_digest(envelope))]
    stranger = crypto.Identity.generate("Not registered")
    forged = crypto.make_ack(entry, identity=stranger, server=server_key.public, bundle_sequence=1, created_on=DAY)
    foreign = crypto.make_ack(entry, identity=identity, server=crypto.ServerKey.generate().public,
                              bundle_sequence=1, created_on=DAY)  # fmt: skip
    good = crypto.make_ack(entry, identity=identity, server=server_key.public, bundle_sequence=1, created_on=DAY)
    tampered = good[:-1] + bytes([good[-1] ^ 1])
    for data, error in [(forged, crypto.UnknownSignerError), (foreign, crypto.WrongServerError),
                        (tampered, crypto.TamperedError), (good[:40], crypto.CryptoError)]:  # fmt: skip
        with pytest.raises(error):
            storage.apply_ack(data, server_key, DAY)
    assert storage.pending_count() == 1


def test_recipients_add_list_remove(storage: Storage, identity: crypto.Identity) -> None:
    other = crypto.Identity.generate("Second")
    assert storage.add_recipient(other.public, DAY)
    assert not storage.add_recipient(other.public, DAY), "the same key twice is refused"
    assert {r.public for r in storage.recipients()} == {identity.public, other.public}
    assert storage.remove_recipient(other.fingerprint)
    assert not storage.remove_recipient(other.fingerprint)
    assert [r.public for r in storage.recipients()] == [identity.public]


def test_concurrent_submissions_are_all_stored(storage: Storage, identity: crypto.Identity,
                                               config: IntakeConfig) -> None:  # fmt: skip
    import threading

    envelope = envelope_for(identity)
    ids: list[bytes] = []
    errors: list[BaseException] = []

    def submit_many() -> None:
        try:
            for _ in range(10):
                ids.append(storage.store_submission(envelope, secrets.token_bytes(32), DAY, max_pending=1000))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=submit_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 40 and storage.pending_count() == 40
    bundle = io.BytesIO()
    assert storage.export(bundle, Instance(config).server_key(), DAY).high_water == 40


def test_pending_cap_frees_exactly_what_acknowledgements_collect(
    storage: Storage, identity: crypto.Identity, config: IntakeConfig
) -> None:
    # Given a full queue of 3 (cap 3)
    for story in ("one", "two", "three"):
        storage.store_submission(envelope_for(identity, story), secrets.token_bytes(32), DAY, max_pending=3)
    with pytest.raises(StorageFullError):
        storage.store_submission(envelope_for(identity), secrets.token_bytes(32), DAY, max_pending=3)
    # When a caseworker acknowledges two of them
    server_key = Instance(config).server_key()
    bundle = io.BytesIO()
    storage.export(bundle, server_key, DAY)
    entries = list(crypto.read_bundle(bundle.getvalue(), expected_server=server_key.public).entries())[:2]
    ack = crypto.make_ack([crypto.AckEntry(e.entry_id, crypto.envelope_digest(e.envelope)) for e in entries],
                          identity=identity, server=server_key.public, bundle_sequence=1, created_on=DAY)  # fmt: skip
    assert storage.apply_ack(ack, server_key, DAY).deleted == 2
    # Then exactly two more fit, and the third is refused again
    for _ in range(2):
        storage.store_submission(envelope_for(identity), secrets.token_bytes(32), DAY, max_pending=3)
    with pytest.raises(StorageFullError):
        storage.store_submission(envelope_for(identity), secrets.token_bytes(32), DAY, max_pending=3)
    assert storage.pending_count() == 3


def test_a_submission_reads_back_through_the_tables_as_stored(storage: Storage, identity: crypto.Identity) -> None:
    """On SQLite the submission's statements run on the driver (storage._SQLITE_*): what they write must
    read back through the SQLAlchemy tables exactly as the Core statements would have written it."""
    from intake.tables import envelopes, receipts

    lookup = secrets.token_bytes(32)
    envelope = envelope_for(identity)
    entry = storage.seal_and_store(lambda _keys: envelope, lookup, DAY, max_pending=10)
    with storage.reading() as conn:
        stored = conn.execute(envelopes.select().where(envelopes.c.id == entry)).one()
        receipt = conn.execute(receipts.select().where(receipts.c.lookup == lookup)).one()
        received = conn.exec_driver_sql("SELECT value FROM counters WHERE name = 'received'").scalar_one()
    assert (bytes(stored.id), bytes(stored.envelope), stored.serial) == (entry, envelope, None)
    assert stored.received_on == DAY and stored.sealed_to == identity.public.fingerprint
    assert (bytes(receipt.envelope_id), receipt.status, receipt.status_on) == (entry, "received", DAY)
    assert received == 1 and storage.receipt_status(lookup) == "received" and storage.pending_count() == 1
