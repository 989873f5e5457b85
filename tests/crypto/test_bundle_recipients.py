"""Bundle version 2 (FORMAT.md §8.1): the server signs its recipient set in; each entry says who can read it."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from tests.crypto.conftest import make_request

DAY = datetime.date(2026, 11, 22)


def _bundle(key: crypto.ServerKey, entries: list[crypto.BundleEntry], recipients: list[crypto.PublicIdentity]) -> bytes:
    out = io.BytesIO()
    high = max((e.serial for e in entries), default=0)
    crypto.write_bundle(out, entries, count=len(entries), server_key=key, sequence=2, high_water=high,
                        created_on=DAY, recipients=recipients)  # fmt: skip
    return out.getvalue()


def _entry(n: int, *to: crypto.PublicIdentity) -> crypto.BundleEntry:
    envelope = crypto.seal_request(make_request(story=f"s{n}"), for_recipients=list(to))
    return crypto.BundleEntry(bytes([n]) * 16, n, envelope, tuple(r.fingerprint for r in to))


def test_recipient_set_and_sealed_to_round_trip(
    tmp_path: Path, alice: crypto.Identity, bob: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    # Given a bundle whose server seals to Alice and Bob, one entry for Alice only
    entries = [_entry(1, alice.public), _entry(2, bob.public, alice.public)]
    path = tmp_path / "export.bundle"
    path.write_bytes(_bundle(server_key, entries, [alice.public, bob.public]))
    # When the laptop reads it (streaming, from a file)
    bundle = crypto.read_bundle(path, expected_server=server_key.public)
    # Then the signed set and each entry's readers come back exactly
    assert bundle.header.version == 2
    assert bundle.header.recipients == (alice.public, bob.public)
    assert [r.name for r in bundle.header.recipients] == ["Alice", "Борис"]
    assert [e.sealed_to for e in bundle.entries()] == [e.sealed_to for e in entries]
    assert crypto.open_request(next(iter(bundle.entries())).envelope, alice)["story"] == "s1"


def test_without_a_recipient_set_it_is_version_1(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    plain = crypto.BundleEntry(b"\x01" * 16, 1, _entry(1, alice.public).envelope)
    bundle = crypto.read_bundle(_bundle(server_key, [plain], []), expected_server=server_key.public)
    assert bundle.header.version == 1 and bundle.header.recipients == ()
    assert [e.sealed_to for e in bundle.entries()] == [()]


def test_the_writer_refuses_what_a_reader_would(
    alice: crypto.Identity, bob: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    carol = crypto.Identity.generate("Carol").public
    both = _entry(1, alice.public, bob.public)
    cases = [
        ([_entry(1, carol)], [alice.public, bob.public]),  # sealed to someone outside the set
        ([crypto.BundleEntry(both.entry_id, 1, both.envelope, (alice.fingerprint,))], [alice.public, bob.public]),
        ([crypto.BundleEntry(both.entry_id, 1, both.envelope, ())], [alice.public, bob.public]),
        ([crypto.BundleEntry(both.entry_id, 1, both.envelope, (alice.fingerprint,) * 2)], [alice.public, bob.public]),
        ([_entry(1, alice.public)], [alice.public, alice.public]),  # the same key twice
        (
            [_entry(1, alice.public)],
            [alice.public, crypto.PublicIdentity("Alice", bob.public.box_public, b"\x05" * 32)],
        ),
        ([_entry(1, alice.public)], []),  # sealed_to without a recipient set
        ([], [crypto.Identity.generate(f"c{i}").public for i in range(65)]),
    ]
    for entries, recipients in cases:
        with pytest.raises(crypto.MalformedError):
            _bundle(server_key, entries, recipients)


def test_sixty_four_recipients_fit(alice: crypto.Identity, server_key: crypto.ServerKey) -> None:
    many = [alice.public] + [crypto.Identity.generate(f"c{i}").public for i in range(63)]
    data = _bundle(server_key, [_entry(1, alice.public)], many)
    assert len(crypto.read_bundle(data, expected_server=server_key.public).header.recipients) == 64


def test_a_bundle_changed_after_verification_is_refused(
    tmp_path: Path, alice: crypto.Identity, bob: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    path = tmp_path / "export.bundle"
    path.write_bytes(_bundle(server_key, [_entry(1, alice.public)], [alice.public, bob.public]))
    bundle = crypto.read_bundle(path, expected_server=server_key.public)
    changed = bytearray(path.read_bytes())
    changed[70] ^= 0x01  # inside Alice's encryption key in the recipient set
    path.write_bytes(bytes(changed))
    with pytest.raises(crypto.TamperedError):
        list(bundle.entries())


def test_the_recipient_set_is_signed(
    alice: crypto.Identity, bob: crypto.Identity, server_key: crypto.ServerKey
) -> None:
    data = _bundle(server_key, [_entry(1, alice.public)], [alice.public, bob.public])
    renamed = data.replace("Борис".encode(), "Бориc".encode())  # a Latin c: looks the same
    assert renamed != data
    with pytest.raises(crypto.TamperedError):
        crypto.read_bundle(renamed, expected_server=server_key.public)


@settings(max_examples=80)
@given(position=st.integers(0, 10**6), bit=st.integers(0, 7), cut=st.integers(0, 3))
def test_mangled_version_2_bundles_give_only_typed_errors(position: int, bit: int, cut: int) -> None:
    alice = crypto.Identity("Alice", bytes(range(32)), bytes(range(32, 64)))
    server = crypto.ServerKey(bytes(range(64, 96)))
    data = bytearray(_bundle(server, [_entry(1, alice.public)], [alice.public]))
    data[position % len(data)] ^= 1 << bit
    with pytest.raises(crypto.CryptoError):
        crypto.read_bundle(bytes(data[: len(data) - cut]), expected_server=server.public)
