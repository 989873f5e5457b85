"""Identities, public key files, private key files and fingerprints."""

from __future__ import annotations

import base64

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import crypto
from crypto.keyfile import read_kdf_params
from crypto.keys import has_small_order

TEST_FLOOR = crypto.KDF_FOR_TESTS_ONLY
# Every X25519 point of order 1, 2, 4 or 8, canonical (RFC 7748 and libsodium's blocklist), and each
# again with the unused top bit set, which X25519 ignores.
SMALL_ORDER_POINTS = [
    bytes(32),
    bytes([1]) + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes([0xEC]) + b"\xff" * 30 + b"\x7f",  # p - 1
    bytes([0xED]) + b"\xff" * 30 + b"\x7f",  # p (= 0)
    bytes([0xEE]) + b"\xff" * 30 + b"\x7f",  # p + 1 (= 1)
]
SMALL_ORDER_POINTS += [point[:31] + bytes([point[31] | 0x80]) for point in SMALL_ORDER_POINTS]


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


@pytest.mark.parametrize(
    "name", ["", "   ", "a" * 65, "line\nbreak", "nul\x00", "rtl\u202eoverride", "\x1cAlice", "Alice\x1f", "\u3000"]
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(crypto.MalformedError):
        crypto.Identity.generate(name)


def test_private_key_round_trip_and_wrong_passphrase(alice: crypto.Identity) -> None:
    locked = crypto.lock_identity(alice, "пароль для теста", kdf=crypto.KDF_FOR_TESTS_ONLY)
    assert crypto.unlock_identity(locked, "пароль для теста", min_kdf=TEST_FLOOR).fingerprint == alice.fingerprint
    with pytest.raises(crypto.WrongPassphraseError):
        crypto.unlock_identity(locked, "пароль для теста!", min_kdf=TEST_FLOOR)
    with pytest.raises(crypto.WrongPassphraseError):
        crypto.unlock_identity(locked, "", min_kdf=TEST_FLOOR)
    assert b"Alice" not in locked  # the name is inside the sealed part


def test_passphrase_is_normalised_to_nfc(alice: crypto.Identity) -> None:
    locked = crypto.lock_identity(alice, "e\u0301t\u00e9", kdf=crypto.KDF_FOR_TESTS_ONLY)
    assert crypto.unlock_identity(locked, "\u00e9t\u00e9", min_kdf=TEST_FLOOR).fingerprint == alice.fingerprint


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
        crypto.unlock_identity(bytes(locked), "x", min_kdf=TEST_FLOOR)


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
        crypto.unlock_identity(data, "x", min_kdf=TEST_FLOOR)


@given(st.text(max_size=800) | st.binary(max_size=800))
def test_public_key_parser_only_raises_typed_errors(data: str | bytes) -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.PublicIdentity.from_text(data)


_SERVER_KEY = crypto.ServerKey(bytes(range(100, 132)))


def _edited(data: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    for at, inserted in edits:
        at %= len(data) + 1
        data = data[:at] + inserted + data[at + 1 :]
    return data


server_key_files = st.one_of(
    st.binary(max_size=200),
    # valid files, and valid files with a few bytes replaced by white space, letters or anything
    st.tuples(st.binary(min_size=32, max_size=32), st.sampled_from([b"\n", b"\r\n", b" \n", b"\t\n"])).map(
        lambda t: crypto.ServerKey(t[0]).to_bytes().replace(b"\n", t[1])),
    st.lists(st.tuples(st.integers(0, 100), st.sampled_from([b" ", b"\r", b"\n", b"A", b"=", b"", b"\xff"])
                       | st.binary(max_size=3)), max_size=3).map(lambda e: _edited(_SERVER_KEY.to_bytes(), e)),
)  # fmt: skip


@given(server_key_files)
def test_server_key_parser_only_raises_typed_errors(data: bytes) -> None:
    try:
        key = crypto.ServerKey.from_bytes(data)
    except crypto.CryptoError:
        return
    # What it accepts is a bounded file that writes back canonically to the same key
    assert len(data) <= 4096
    again = crypto.ServerKey.from_bytes(key.to_bytes())
    assert again.public.raw == key.public.raw and again.to_bytes() == key.to_bytes()
    written, given_tokens = key.to_bytes().split(), data.split()
    assert written[:-1] == given_tokens[:-1], "only white space may differ in the title"
    assert base64.b64decode(written[-1]) == base64.b64decode(given_tokens[-1]), "the seed is the one in the file"


@pytest.mark.parametrize("point", SMALL_ORDER_POINTS, ids=lambda p: p.hex()[:8] + p.hex()[-2:])
def test_every_small_order_encryption_key_is_refused(point: bytes, alice: crypto.Identity) -> None:
    # Given a key file whose X25519 key is a low-order point, validly self-signed by its holder
    assert has_small_order(point)
    with pytest.raises(crypto.MalformedError, match="low-order"):
        crypto.PublicIdentity("Mallory", point, alice.public.sign_public)
    lines = alice.public.to_text().splitlines()
    lines[2] = "encryption: " + base64.b64encode(point).decode()
    # Then reading the file refuses it before the signature is even looked at
    with pytest.raises(crypto.MalformedError, match="low-order"):
        crypto.PublicIdentity.from_text("\n".join(lines))


@given(st.binary(min_size=32, max_size=32))
def test_ordinary_keys_are_not_small_order(secret: bytes) -> None:
    assert not has_small_order(crypto.Identity("x", secret, bytes(32)).public.box_public)


def test_a_key_file_below_the_floor_is_refused_before_any_derivation(alice: crypto.Identity) -> None:
    # Given a cheap (test-cost) key file, as someone who swapped a stolen laptop's key file would make it
    cheap = crypto.lock_identity(alice, "пароль для теста", kdf=crypto.KDF_FOR_TESTS_ONLY)
    # Then the default floor (production cost) refuses it, whatever the passphrase
    for passphrase in ("пароль для теста", "wrong"):
        with pytest.raises(crypto.WeakKdfError, match="too cheap") as caught:
            crypto.unlock_identity(cheap, passphrase)
        assert (caught.value.passes, caught.value.memory_kib) == (1, 8192)
    # And a floor between the two costs refuses it too; only a floor at or below its cost opens it
    with pytest.raises(crypto.WeakKdfError):
        crypto.unlock_identity(cheap, "пароль для теста", min_kdf=crypto.KdfParams(1, 16 * 1024 * 1024))
    assert crypto.unlock_identity(cheap, "пароль для теста", min_kdf=TEST_FLOOR) is not None


def test_a_production_cost_key_file_opens_with_the_default_floor(alice: crypto.Identity) -> None:
    locked = crypto.lock_identity(alice, "slow but right")
    assert crypto.unlock_identity(locked, "slow but right").fingerprint == alice.fingerprint


def test_names_are_trimmed_of_unicode_white_space_only() -> None:
    # U+001C-U+001F are white space to Python's str.strip() but not to Unicode: FORMAT.md §1.
    assert crypto.Identity.generate("\u2028\u3000 Alice\t").name == "Alice"
    with pytest.raises(crypto.MalformedError):
        crypto.Identity.generate("\x1cAlice")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"intake server signing key v2\nAAAA\n", crypto.UnsupportedVersionError),
        (b"intake server signing key\n", crypto.MalformedError),
        (b"intake server signing\x1ckey v1 AAAA", crypto.MalformedError),
        ("intake server signing key v1 ключ".encode(), crypto.MalformedError),
        (b"intake server signing key v1\n" + b"A" * 5000, crypto.MalformedError),
    ],
)
def test_server_key_file_classes(text: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        crypto.ServerKey.from_bytes(text)
    assert type(caught.value) is error


def test_signatures_follow_libsodiums_strict_rules() -> None:
    # FORMAT.md §8: a small-order signer key, and S >= L, are refused even where the equation holds.
    from crypto.keys import _verify

    identity_point = bytes([1]) + bytes(31)
    with pytest.raises(crypto.TamperedError):
        _verify(identity_point, b"any message", identity_point + bytes(32))
    key = crypto.ServerKey(bytes(32))
    signature = key.sign(b"hello")
    order = 2**252 + 27742317777372353535851937790883648493
    high_s = (int.from_bytes(signature[32:], "little") + order).to_bytes(32, "little")
    key.public.verify(b"hello", signature)
    with pytest.raises(crypto.TamperedError):
        key.public.verify(b"hello", signature[:32] + high_s)


def _zero_product(point: bytes) -> bool:
    """The reference: X25519 with a fixed scalar (clamped to a multiple of 8) is zero exactly for small order."""
    import nacl.bindings
    import nacl.exceptions

    try:
        nacl.bindings.crypto_scalarmult(bytes(range(1, 33)), point)
    except (nacl.exceptions.RuntimeError, nacl.exceptions.CryptoError):
        return True
    return False


_NEAR_SMALL_ORDER = st.builds(
    lambda point, delta, top: (((int.from_bytes(point, "little") & ((1 << 255) - 1)) + delta) % (1 << 255)
                               | (top << 255)).to_bytes(32, "little"),
    st.sampled_from(SMALL_ORDER_POINTS), st.integers(-40, 40), st.integers(0, 1))  # fmt: skip


@given(st.one_of(st.binary(min_size=32, max_size=32), _NEAR_SMALL_ORDER, st.sampled_from(SMALL_ORDER_POINTS)))
@example(bytes(32))
@example((2**255 - 19).to_bytes(32, "little"))
@example((2**255 - 18).to_bytes(32, "little"))
def test_the_small_order_table_agrees_with_a_scalar_multiplication(point: bytes) -> None:
    assert has_small_order(point) == _zero_product(point)


def test_the_table_holds_all_fourteen_encodings() -> None:
    near_p = [((2**255 - 19 + k) % (1 << 255) | top << 255).to_bytes(32, "little")
              for k in range(-300, 300) for top in (0, 1)]  # fmt: skip
    every = [n.to_bytes(32, "little") for n in range(1 << 8)] + near_p + list(SMALL_ORDER_POINTS)
    assert [has_small_order(p) for p in every] == [_zero_product(p) for p in every]
    assert len(set(SMALL_ORDER_POINTS)) == 14 and all(has_small_order(p) for p in SMALL_ORDER_POINTS)
