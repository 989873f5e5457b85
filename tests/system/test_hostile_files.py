"""Every file the tools read, damaged or random, through the real CLIs (click's CliRunner, in process).

intake reads caseworker public key files (`recipients add`) and acknowledgements (`apply-ack`); triage reads
bundles (`import`, `pin-server`), its passphrase file, its private key file, its case store and policy
files. Whatever the bytes: a non-zero exit with one clear sentence, never a traceback, never our generic
"unexpected error" sentence, and nothing changed (no envelope deleted, nothing imported).
"""

from __future__ import annotations

import contextlib
import datetime
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import crypto
from intake.cli import main as intake_main
from intake.config import IntakeConfig
from intake.instance import Instance
from intake.storage import Storage
from tests.triage.helpers import PASSPHRASE, Server, Triage, assert_one_sentence, make_request
from triage.errors import explain
from triage.policy import default_policy_text

SETTINGS = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
# hypothesis notes each drawn file for its report; a damaged 60 KiB bundle is a long note, which is expected here
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
GENERIC = explain(RuntimeError("x")).split("(")[0]  # "An unexpected error " - the catch-all sentence


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """The original with one damage: a flipped byte, a cut, an insertion, an append, or random bytes."""
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "append", "random", "swap"]))
    if kind == "random":
        data = draw(st.binary(max_size=2 * len(original)))
    else:
        at = draw(st.integers(min_value=0, max_value=max(0, len(original) - 1)))
        if kind == "flip":
            data = original[:at] + bytes([original[at] ^ draw(st.integers(1, 255))]) + original[at + 1:]
        elif kind == "truncate":
            data = original[:at]
        elif kind == "insert":
            data = original[:at] + draw(st.binary(min_size=1, max_size=16)) + original[at:]
        elif kind == "append":
            data = original + draw(st.binary(min_size=1, max_size=64))
        else:
            cut = draw(st.integers(min_value=at, max_value=len(original)))
            data = original[at:cut] + original[:at] + original[cut:]
    assume(data != original)
    return data


def clean_failure(result: Result) -> str:
    assert_one_sentence(result)
    message = result.output.strip().splitlines()[-1]
    assert GENERIC not in message, message
    return message


# --- intake: public key files and acknowledgements ---------------------------------------------------------


@dataclass
class Server_:
    folder: Path
    storage: Storage
    caseworker: crypto.Identity
    ack: bytes

    def intake(self, *args: str) -> Result:
        return CliRunner().invoke(intake_main, ["--instance", str(self.folder), *args],
                                  env={"INTAKE_DATABASE_URL": "", "INTAKE_INSTANCE_DIR": ""})  # fmt: skip


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Server_]:
    config = IntakeConfig(instance_dir=module_tmp / "instance")
    server_key = Instance(config).initialize()
    storage = Storage(config.database_url)
    caseworker = crypto.Identity.generate("caseworker")
    storage.add_recipient(caseworker.public, datetime.date.today())
    entries = []
    for n in range(3):
        envelope = crypto.seal_request(make_request(story=f"stored {n}"), for_recipients=[caseworker.public])
        storage.store_submission(envelope, bytes([n]) * 32, datetime.date.today(), 100)
    for entry_id, envelope in storage.envelope_bytes():
        entries.append(crypto.AckEntry(entry_id, crypto.envelope_digest(envelope)))
    ack = crypto.make_ack(entries, identity=caseworker, server=server_key, bundle_sequence=1,
                          created_on=datetime.date.today())  # fmt: skip
    yield Server_(config.instance_dir, storage, caseworker, ack)
    storage.dispose()


SOMEONE = crypto.Identity.generate("someone").public
PUBLIC = SOMEONE.to_text().encode()


@SETTINGS
@given(data=mutated(PUBLIC))
def test_intake_refuses_any_damaged_public_key_file(server: Server_, data: bytes) -> None:
    path = server.folder.parent / "damaged.pub"
    path.write_bytes(data)
    result = server.intake("recipients", "add", str(path))
    try:
        still_valid = crypto.PublicIdentity.from_text(data)
    except crypto.CryptoError:
        clean_failure(result)
    else:  # a harmless change (a lost final newline): only ever the very same key
        assert still_valid.fingerprint == SOMEONE.fingerprint
        assert result.exit_code == 0, result.output
        assert server.intake("recipients", "remove", SOMEONE.fingerprint).exit_code == 0
    assert len(server.storage.recipients()) == 1


def test_intake_apply_ack_refuses_well_formed_acks_from_the_wrong_hands(server: Server_) -> None:
    server_key = Instance(IntakeConfig(instance_dir=server.folder)).server_key().public
    [(entry_id, envelope)] = server.storage.envelope_bytes()[:1]
    entries = [crypto.AckEntry(entry_id, crypto.envelope_digest(envelope))]
    today = datetime.date.today()
    stranger = crypto.Identity.generate("stranger")
    forged = {
        "empty": b"",
        "unregistered signer": crypto.make_ack(entries, identity=stranger, server=server_key, bundle_sequence=1,
                                               created_on=today),
        "other server": crypto.make_ack(entries, identity=server.caseworker, server=crypto.ServerKey.generate().public,
                                        bundle_sequence=1, created_on=today),
        "random bytes": bytes(range(256)) * 4,
    }  # fmt: skip
    for name, data in forged.items():
        path = server.folder.parent / "forged.ack"
        path.write_bytes(data)
        message = clean_failure(server.intake("apply-ack", str(path)))
        assert "nothing was deleted" in message.lower(), (name, message)
        assert server.storage.pending_count() == 3, name


@SETTINGS
@given(data=st.data())
def test_intake_apply_ack_refuses_every_single_damage_of_a_valid_ack(server: Server_, data: st.DataObject) -> None:
    damage = data.draw(mutated(server.ack))
    path = server.folder.parent / "damaged.ack"
    path.write_bytes(damage)
    clean_failure(server.intake("apply-ack", str(path)))
    assert server.storage.pending_count() == 3


@SETTINGS
@given(text=st.text(max_size=80))
def test_intake_recipients_remove_of_any_text(server: Server_, text: str) -> None:
    assume("\x00" not in text and not text.startswith("-"))
    clean_failure(server.intake("recipients", "remove", text))
    assert len(server.storage.recipients()) == 1


def test_the_valid_ack_does_delete_so_the_checks_above_can_fail(server: Server_) -> None:
    path = server.folder.parent / "valid.ack"
    path.write_bytes(server.ack)
    result = server.intake("apply-ack", str(path))
    assert result.exit_code == 0, result.output
    assert server.storage.pending_count() == 0
    # and the same file again is a replay: refused
    assert "applied before" in clean_failure(server.intake("apply-ack", str(path)))


# --- triage: bundles, passphrase file, key file, case store, policy ----------------------------------------


@dataclass
class Laptop:
    triage: Triage
    bundle: bytes
    name: str = "Alice"

    @property
    def home(self) -> Path:
        return self.triage.home

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis would print the whole bundle
        printer.text(f"Laptop({self.home})")

    def cases(self) -> int:
        result = self.triage.ok("list", "--json")
        return result.output.count('"short_id"')  # one per case (a case's questionnaire has an "id" too)


@pytest.fixture(scope="module")
def laptop(module_tmp: Path) -> Laptop:
    passphrase_file = module_tmp / "passphrase.txt"
    passphrase_file.write_text(PASSPHRASE + "\n")
    triage = Triage(module_tmp / "home", passphrase_file)
    public = triage.keygen("Alice")
    maker = Server()
    path = maker.bundle(module_tmp / "valid.bundle", [maker.entry(make_request(story=f"case {n}"), [public])
                                                      for n in range(2)])  # fmt: skip
    return Laptop(triage, path.read_bytes())


@contextlib.contextmanager
def damaged_copy(original: Path, data: bytes) -> Iterator[None]:
    """Replace ``original`` by ``data`` for the block, then put the original back."""
    backup = original.with_name(original.name + ".orig")
    shutil.copy2(original, backup)
    try:
        original.write_bytes(data)
        yield
    finally:
        backup.replace(original)


@SETTINGS
@given(data=st.data())
def test_triage_import_of_any_damaged_bundle_imports_nothing(laptop: Laptop, data: st.DataObject) -> None:
    path = laptop.home.parent / "damaged.bundle"
    path.write_bytes(data.draw(mutated(laptop.bundle)))
    clean_failure(laptop.triage.run("import", path))
    clean_failure(laptop.triage.run("pin-server", path, "--yes"))
    assert laptop.cases() == 0


@SETTINGS
@given(data=st.binary(max_size=200))
def test_triage_refuses_any_wrong_passphrase_file(laptop: Laptop, data: bytes) -> None:
    assume(not data.startswith(PASSPHRASE.encode()))
    path = laptop.home.parent / "wrong-passphrase.txt"
    path.write_bytes(data)
    result = Triage(laptop.home, path).run("info")
    clean_failure(result)


@SETTINGS
@given(data=st.data())
def test_triage_refuses_a_damaged_private_key_file(laptop: Laptop, data: st.DataObject) -> None:
    key = laptop.home / "Alice.key"
    with damaged_copy(key, data.draw(mutated(key.read_bytes()))):
        clean_failure(laptop.triage.run("info"))


@SETTINGS
@given(data=st.data())
def test_triage_refuses_or_survives_a_damaged_policy_file(laptop: Laptop, data: st.DataObject) -> None:
    path = laptop.home.parent / "policy.toml"
    path.write_bytes(data.draw(mutated(default_policy_text().encode())))
    result = laptop.triage.run("list", "--json", "--policy", path)
    if result.exit_code != 0:
        clean_failure(result)
    assert "Traceback" not in result.output


def test_the_valid_bundle_does_import_so_the_checks_above_can_fail(laptop: Laptop) -> None:
    path = laptop.home.parent / "valid.bundle"
    path.write_bytes(laptop.bundle)
    laptop.triage.ok("import", path)
    assert laptop.cases() == 2


@SETTINGS
@given(data=st.data())
def test_triage_refuses_or_survives_a_damaged_case_store(laptop: Laptop, data: st.DataObject) -> None:
    store = laptop.home / "cases.sqlite3"
    original = store.read_bytes()
    page = int.from_bytes(original[16:18], "big") or 65536  # page 1 (header and schema) is the next test's
    at = data.draw(st.integers(min_value=page, max_value=len(original) - 1))
    damage = original[:at] + bytes([original[at] ^ data.draw(st.integers(1, 255))]) + original[at + 1:]
    with damaged_copy(store, damage):
        result = laptop.triage.run("list", "--json")
    if result.exit_code != 0:
        clean_failure(result)
    else:  # every case is shown as it was, or counted as damaged; none is silently changed or dropped
        damaged = re.search(r"(\d+) could not be opened", result.output)
        shown = result.output.count('"short_id"')  # one per case (a case's questionnaire has an "id" too)
        assert shown + (int(damaged.group(1)) if damaged else 0) == 2, result.output
        assert set(re.findall(r'"story":"([^"]*)"', result.output)) <= {"case 0", "case 1"}
    assert "Traceback" not in result.output


def test_triage_names_a_case_store_with_damaged_schema_text(laptop: Laptop) -> None:
    store = laptop.home / "cases.sqlite3"
    original = store.read_bytes()
    at = original.index(b"CREATE TABLE") + len(b"CREATE ")  # "TABLE" -> "\xd4ABLE": a syntax error, not UTF-8
    damage = original[:at] + bytes([original[at] | 0x80]) + original[at + 1:]
    with damaged_copy(store, damage):
        message = clean_failure(laptop.triage.run("list", "--json"))
    assert "case store" in message
