"""Identities, public key files, private key files and fingerprints."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from crypto.keyfile import read_kdf_params


def test_public_key_file_round_trip(bob: crypto.Identity) -> None:
    text = bob.public.to_text()
    parsed = crypto.PublicIdentity.from_text(text)
    assert parsed == bob.public and parsed.name == "Борис" and parsed.fingerprint == bob.fingerprint
    assert f"fingerprint: {bob.fingerprint}" in text


def test_public_key_file_survives_email_mangling(alice: crypto.Identity) -> None:
    mangled = "# pasted from mail\r\n\r\n" + "\r\n".join("  " + ln for ln in alice.public.to_text().splitlines())
    assert crypto.PublicIdentity.from_text(mangled) == alice.public


def test_swapping_a_key_breaks_the_self_signature(alice: crypto.Identity, bob: crypto.Identity) -> None:
    text = alice.public.to_text().splitlines()
    text[2] = bob.public.to_text().splitlines()[2]
    with pytest.raises(crypto.TamperedError):
        crypto.PublicIdentity.from_text("\n".join(text))


def test_unsigned_identity_cannot_be_written() -> None:
    public = crypto.PublicIdentity("x", b"\x01" * 32, b"\x02" * 32)
    with pytest.raises(crypto.MalformedError):
        public.to_text()


def test_fingerprint_format_and_normalisation(alice: crypto.Identity) -> None:
    fp = alice.fingerprint
    assert len(fp) == 39 and fp.count("-") == 7
    assert crypto.normalize_fingerprint(fp.upper().replace("-", " ")) == fp
    assert crypto.normalize_fingerprint(fp.replace("-", ":")) == fp
    with pytest.raises(crypto.MalformedError):
        crypto.normalize_fingerprint(fp[:-1])


def test_server_and_caseworker_fingerprints_use_separate_contexts() -> None:
    raw = bytes(range(32))
    server = crypto.ServerPublicKey(raw)
    caseworker = crypto.PublicIdentity("x", raw, raw)
    assert server.fingerprint != caseworker.fingerprint


def test_key_equality_is_by_keys_not_names(alice: crypto.Identity) -> None:
    renamed = crypto.PublicIdentity("Someone else", alice.public.box_public, alice.public.sign_public)
    assert renamed == alice.public and hash(renamed) == hash(alice.public)


@pytest.mark.parametrize("name", ["", "   ", "a" * 65, "line\nbreak", "nul\x00", "rtl\u202eoverride"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(crypto.MalformedError):
        crypto.Identity.generate(name)


def test_private_key_round_trip_and_wrong_passphrase(alice: crypto.Identity) -> None:
    locked = crypto.lock_identity(alice, "пароль для теста", kdf=crypto.KDF_FOR_TESTS_ONLY)
    assert crypto.unlock_identity(locked, "пароль для теста").fingerprint == alice.fingerprint
    with pytest.raises(crypto.WrongPassphraseError):
        crypto.unlock_identity(locked, "пароль для теста!")
    with pytest.raises(crypto.WrongPassphraseError):
        crypto.unlock_identity(locked, "")
    assert b"Alice" not in locked  # the name is inside the sealed part


def test_passphrase_is_normalised_to_nfc(alice: crypto.Identity) -> None:
    locked = crypto.lock_identity(alice, "e\u0301t\u00e9", kdf=crypto.KDF_FOR_TESTS_ONLY)
    assert crypto.unlock_identity(locked, "\u00e9t\u00e9").fingerprint == alice.fingerprint


def test_production_cost_is_at_least_the_contract() -> None:
    assert crypto.KDF_PRODUCTION.memlimit >= 256 * 1024 * 1024
    assert crypto.KDF_PRODUCTION.opslimit >= 3


def test_production_cost_is_the_default_and_is_written_in_the_file(alice: crypto.Identity) -> None:
    locked = crypto.lock_identity(alice, "slow one")
    assert read_kdf_params(locked) == crypto.KDF_PRODUCTION


def test_hostile_memory_cost_is_refused_before_derivation(alice: crypto.Identity) -> None:
    locked = bytearray(crypto.lock_identity(alice, "x", kdf=crypto.KDF_FOR_TESTS_ONLY))
    locked[10:14] = (0xFFFFFFFF).to_bytes(4, "big")
    with pytest.raises(crypto.MalformedError):
        crypto.unlock_identity(bytes(locked), "x")


def test_server_key_file_round_trip(server_key: crypto.ServerKey) -> None:
    again = crypto.ServerKey.from_bytes(server_key.to_bytes())
    assert again.public == server_key.public
    assert crypto.ServerPublicKey.from_text(server_key.public.to_text()) == server_key.public
    with pytest.raises(crypto.MalformedError):
        crypto.ServerKey.from_bytes(b"intake server signing key v1\nAAAA\n")


def test_store_key_binds_context_and_recipient(alice: crypto.Identity, bob: crypto.Identity) -> None:
    key = crypto.StoreKey.generate()
    sealed = key.seal(b"status: contacted", context=b"status:case-1")
    assert key.open(sealed, context=b"status:case-1") == b"status: contacted"
    with pytest.raises(crypto.TamperedError):
        key.open(sealed, context=b"status:case-2")
    wrapped = key.wrap_for(alice.public)
    assert crypto.StoreKey.unwrap(wrapped, alice) == key
    with pytest.raises(crypto.NotRecipientError):
        crypto.StoreKey.unwrap(wrapped, bob)


@given(st.binary(max_size=600))
def test_private_key_parser_only_raises_typed_errors(data: bytes) -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.unlock_identity(data, "x")


@given(st.text(max_size=800) | st.binary(max_size=800))
def test_public_key_parser_only_raises_typed_errors(data: str | bytes) -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.PublicIdentity.from_text(data)


@given(st.binary(max_size=200))
def test_server_key_parser_only_raises_typed_errors(data: bytes) -> None:
    with contextlib.suppress(crypto.CryptoError):
        crypto.ServerKey.from_bytes(data)
