"""Signed bundles and acknowledgements: round trips, truncation, reordering, replay, foreign keys."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest

import crypto
from tests.crypto.conftest import make_request

DAY = datetime.date(2026, 11, 22)


def _entries(alice: crypto.Identity, n: int) -> list[crypto.BundleEntry]:
    return [
        crypto.BundleEntry(
            bytes([i]) * 16,
            i * 2,
            crypto.seal_request(make_request(story=f"s{i}"), for_recipients=[alice.public]),
        )
        for i in range(1, n + 1)
    ]


def _bundle(key: crypto.ServerKey, entries: list[crypto.BundleEntry], sequence: int = 1) -> bytes:
    out = io.BytesIO()
    high = max((e.serial for e in entries), default=0)
    crypto.write_bundle(
        out, entries, count=len(entries), server_key=key, sequence=sequence, high_water=high, created_on=DAY
    )
    return out.getvalue()


def test_bundle_round_trip_from_a_file(tmp_path: Path, alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    entries = _entries(alice, 3)
    path = tmp_path / "export.bundle"
    path.write_bytes(_bundle(server_key, entries, sequence=5))
    bundle = crypto.read_bundle(path, expected_server=server_key.public)
    assert bundle.header.sequence == 5 and bundle.header.count == 3 and bundle.header.high_water == 6
    assert list(bundle.entries()) == entries
    assert crypto.open_request(entries[2].envelope, alice)["story"] == "s3"


def test_same_bundle_same_digest(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    data = _bundle(server_key, _entries(alice, 2))
    first = crypto.read_bundle(data, expected_server=None)
    assert first.digest == crypto.read_bundle(data, expected_server=None).digest
    assert first.header.server == server_key.public


def test_every_truncation_is_refused(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    data = _bundle(server_key, _entries(alice, 2))
    for cut in [*range(0, 200, 7), *range(len(data) - 200, len(data))]:
        with pytest.raises(crypto.CryptoError):
            crypto.read_bundle(data[:cut], expected_server=server_key.public)


def test_appended_bytes_are_refused(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    data = _bundle(server_key, _entries(alice, 1))
    with pytest.raises(crypto.CryptoError):
        crypto.read_bundle(data + b"\x00", expected_server=server_key.public)


def test_unpinned_signer_is_named(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    other = crypto.ServerKey.generate()
    with pytest.raises(crypto.UnknownSignerError) as caught:
        crypto.read_bundle(_bundle(other, _entries(alice, 1)), expected_server=server_key.public)
    assert caught.value.signer == other.public


def test_file_changed_between_verify_and_import(
    tmp_path: Path, alice: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    # Given a verified bundle on a USB stick
    path = tmp_path / "b"
    path.write_bytes(_bundle(server_key, _entries(alice, 2)))
    bundle = crypto.read_bundle(path, expected_server=server_key.public)
    # When a byte changes before the entries are read
    data = bytearray(path.read_bytes())
    data[300] ^= 1
    path.write_bytes(bytes(data))
    # Then streaming the entries fails before it ends
    with pytest.raises(crypto.TamperedError):
        list(bundle.entries())


def test_writer_refuses_disorder_and_miscounts(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    entries = _entries(alice, 2)
    with pytest.raises(crypto.MalformedError):
        _bundle(server_key, list(reversed(entries)))
    with pytest.raises(crypto.MalformedError):
        crypto.write_bundle(
            io.BytesIO(), entries, count=3, server_key=server_key, sequence=1, high_water=9, created_on=DAY
        )
    with pytest.raises(crypto.MalformedError):
        crypto.write_bundle(
            io.BytesIO(), entries, count=2, server_key=server_key, sequence=1, high_water=3, created_on=DAY
        )  # serial 4 above the high-water mark


def _ack(identity: crypto.Identity, server: crypto.ServerPublicKey, n: int = 2) -> bytes:
    entries = [crypto.AckEntry(bytes([i]) * 16, bytes([i]) * 32) for i in range(n, 0, -1)]
    return crypto.make_ack(entries, identity=identity, server=server, bundle_sequence=3, created_on=DAY)


def test_ack_round_trip(alice: crypto.Identity, bob: crypto.Identity, server_key: crypto.ServerKey) -> None:
    data = _ack(alice, server_key.public)
    ack = crypto.read_ack(data, server=server_key.public, caseworkers=[bob.public, alice.public])
    assert ack.signer == alice.public and ack.bundle_sequence == 3 and ack.created_on == DAY
    assert [e.entry_id[0] for e in ack.entries] == [1, 2]  # sorted on the way in
    assert (
        ack.digest
        != crypto.read_ack(_ack(alice, server_key.public), server=server_key.public, caseworkers=[alice.public]).digest
    )  # every acknowledgement is distinct, so a replay can be told apart from a new one


def test_ack_from_unregistered_or_for_elsewhere(
    alice: crypto.Identity, bob: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    with pytest.raises(crypto.UnknownSignerError):
        crypto.read_ack(_ack(alice, server_key.public), server=server_key.public, caseworkers=[bob.public])
    elsewhere = crypto.ServerKey.generate().public
    with pytest.raises(crypto.WrongServerError):
        crypto.read_ack(_ack(alice, elsewhere), server=server_key.public, caseworkers=[alice.public])


def test_ack_signed_by_the_server_key_is_not_a_caseworker_ack(
    alice: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    data = bytearray(_ack(alice, server_key.public))
    data[5:37] = server_key.public.raw  # claim the server as signer: signature no longer verifies
    with pytest.raises(crypto.TamperedError):
        crypto.read_ack(bytes(data), server=server_key.public, caseworkers=[alice.public])


def test_every_ack_byte_is_covered(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    data = _ack(alice, server_key.public)
    for position in range(len(data)):
        changed = bytearray(data)
        changed[position] ^= 0x10
        with pytest.raises(crypto.CryptoError):
            crypto.read_ack(bytes(changed), server=server_key.public, caseworkers=[alice.public])


def test_ack_refuses_duplicates(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    twice = [crypto.AckEntry(b"\x01" * 16, b"\x02" * 32)] * 2
    with pytest.raises(crypto.MalformedError):
        crypto.make_ack(twice, identity=alice, server=server_key.public, bundle_sequence=1, created_on=DAY)
