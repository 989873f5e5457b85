"""keygen, passphrases, several caseworkers in one home."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import crypto
from tests.triage.helpers import PASSPHRASE, TEST_CONFIG, Server, Triage, assert_one_sentence, make_request
from triage.home import Home
from triage.identities import Keygen


def test_keygen_writes_locked_key_and_public_file(triage: Triage) -> None:
    # When a caseworker creates a key
    result = triage.ok("keygen", "--name", "Alice")
    # Then the private key file opens only with the passphrase, and is readable by the owner only
    key_file = triage.home / "Alice.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(triage.home.stat().st_mode) == 0o700
    identity = crypto.unlock_identity(key_file.read_bytes(), PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)
    public = crypto.PublicIdentity.from_text((triage.home / "Alice.pub").read_text())
    assert public == identity.public
    # And the output names the .pub file, its fingerprint and what to do with it
    assert str(triage.home / "Alice.pub") in result.output
    assert public.fingerprint in result.output
    assert "operator" in result.output
    assert PASSPHRASE not in result.output


def test_keygen_uses_the_kdf_it_is_given_and_production_by_default(tmp_path: Path) -> None:
    assert Keygen(Home(tmp_path / "a")).kdf == crypto.KDF_PRODUCTION
    new = Keygen(Home(tmp_path / "b"), kdf=crypto.KDF_FOR_TESTS_ONLY).create("Bob", PASSPHRASE)
    header = new.key_path.read_bytes()
    assert int.from_bytes(header[10:14], "big") * 1024 == crypto.KDF_FOR_TESTS_ONLY.memlimit


def test_keygen_asks_twice_and_refuses_a_mismatch(triage: Triage) -> None:
    result = triage.run("keygen", "--name", "Alice", passphrase=False, input=f"{PASSPHRASE}\nsomething else\n")
    assert result.exit_code != 0
    assert not (triage.home / "Alice.key").exists()
    result = triage.run("keygen", "--name", "Alice", passphrase=False, input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    assert PASSPHRASE not in result.output
    crypto.unlock_identity((triage.home / "Alice.key").read_bytes(), PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)


def test_keygen_refuses_short_passphrase_and_existing_name(triage: Triage, tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    result = Triage(triage.home, short).run("keygen", "--name", "Alice")
    assert_one_sentence(result, "at least 6 different words")
    triage.keygen("Alice")
    before = (triage.home / "Alice.key").read_bytes()
    assert_one_sentence(triage.run("keygen", "--name", "Alice"), "already exists")
    assert (triage.home / "Alice.key").read_bytes() == before


def test_wrong_passphrase_is_one_sentence(triage: Triage, tmp_path: Path, server: Server) -> None:
    alice = triage.keygen("Alice")
    bundle = server.bundle(tmp_path / "b", [server.entry(make_request(), [alice])])
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    for args in (["list"], ["import", str(bundle)], ["ack", "--out", str(tmp_path / "ack")], ["info"]):
        result = Triage(triage.home, wrong).run(*args)
        assert_one_sentence(result, "passphrase does not open your key")
    assert not (tmp_path / "ack").exists()


def test_no_key_in_home_says_how_to_make_one(triage: Triage) -> None:
    assert_one_sentence(triage.run("list"), "triage keygen")


def test_second_caseworker_needs_a_grant_then_opens_with_own_key(
    triage: Triage, tmp_path: Path, server: Server
) -> None:
    # Given Alice's home with imported cases, sealed to Alice and Bob
    alice = triage.keygen("Alice")
    bob_pass = tmp_path / "bob-pass"
    bob_pass.write_text("bob's own long passphrase, six words\n")
    bob = Triage(triage.home, bob_pass, TEST_CONFIG)
    result = bob.ok("keygen", "--name", "Bob")
    assert "triage grant Bob" in result.output
    bob_public = crypto.PublicIdentity.from_text((triage.home / "Bob.pub").read_text())
    both = server.entry(make_request(story="for both"), [alice, bob_public])
    alice_only = server.entry(make_request(story="for Alice only"), [alice])
    triage.ok("--as", "Alice", "import", server.bundle(tmp_path / "b", [both, alice_only]))
    # When Bob lists before being granted access, he is told what to do
    assert_one_sentence(bob.run("list"), "triage grant Bob")
    # When Alice grants, Bob opens the same store with his own passphrase
    triage.ok("--as", "Alice", "grant", "Bob")
    # And sees only what was sealed to him: sharing a home never widens who reads a request
    for args in ([], ["--reopen"]):
        result = bob.ok("list", "--json", *args)
        assert [c["request"]["story"] for c in json.loads(result.stdout)] == ["for both"]
        assert "1 sealed only to another caseworker" in result.stderr
    assert_one_sentence(bob.run("show", alice_only.entry_id.hex()), "not sealed to your key")
    # And when Bob imports the same bundle, he gets his own cache of what is his, and nothing else
    summary = json.loads(bob.ok("import", tmp_path / "b", "--json").stdout)
    assert (summary["new"], summary["duplicate"]) == (0, 2)
    assert _listing_kinds(triage.home) == {alice.fingerprint: ["request", "request"],
                                           bob_public.fingerprint: ["not for you", "request"]}  # fmt: skip
    result = bob.ok("list", "--json")
    assert [c["request"]["story"] for c in json.loads(result.stdout)] == ["for both"]
    # And Alice, without --as, is found by her passphrase among the two keys
    assert len(json.loads(triage.ok("list", "--json").stdout)) == 2


def test_typed_passphrase_gets_three_tries(triage: Triage, tmp_path: Path) -> None:
    triage.keygen("Alice")
    again = triage.run("info", passphrase=False, input=f"wrong one\n{PASSPHRASE}\n")
    assert again.exit_code == 0, again.output
    assert "try again" in again.output and "Alice" in again.stdout
    three_wrong = triage.run("info", passphrase=False, input="a\nb\nc\nd\n")
    assert_one_sentence(three_wrong, "passphrase does not open your key")
    assert three_wrong.output.count("try again") == 3  # two retries, then the final sentence


def test_home_defaults_to_triage_home_then_the_platform_data_folder() -> None:
    import sys

    from triage.home import default_home

    assert default_home({"TRIAGE_HOME": "/media/laptop/triage"}) == Path("/media/laptop/triage")
    if sys.platform.startswith("linux"):
        assert default_home({"XDG_DATA_HOME": "/data"}) == Path("/data/triage")
        assert default_home({}) == Path.home() / ".local" / "share" / "triage"


def _listing_kinds(home: Path) -> dict[str, list[str]]:
    """Per caseworker, what each of their listing rows holds (triage.listing), opened with the store key."""
    from triage import listing
    from triage.operations import Session, unlock

    kinds: dict[str, list[str]] = {}
    with Session.open(TEST_CONFIG, Home(home), unlock(Home(home), PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY,
                                                     name="Alice")) as session:  # fmt: skip
        key = session.store.unlocked_key()
        for fingerprint, entry_id, sealed in session.store.db.execute("SELECT * FROM listing"):
            row = listing.decode_row(key.open(sealed, context=listing.context(bytes(entry_id), fingerprint)))
            kinds.setdefault(fingerprint, []).append("not for you" if row.kind == listing.NOT_FOR_YOU else "request")
    return {fingerprint: sorted(found) for fingerprint, found in kinds.items()}
