"""The operations layer every face calls, used directly: the same store the CLI writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import crypto
from tests.triage.helpers import PASSPHRASE, TEST_CONFIG, Server, Triage, make_request
from triage.errors import TriageError
from triage.home import Home
from triage.operations import Session, unlock
from triage.policy import load_policy
from triage.store import CaseRecord


@pytest.fixture
def home(triage: Triage, server: Server, tmp_path: Path) -> Home:
    alice = triage.keygen("Alice")
    entries = [
        server.entry(make_request(story="calm"), [alice]),
        server.entry(make_request(danger="immediate", story="now"), [alice]),
    ]
    triage.ok("import", server.bundle(tmp_path / "b", entries))
    return Home(triage.home)


def test_queue_show_set_and_ack_through_the_operations(home: Home, triage: Triage, tmp_path: Path) -> None:
    # Given a home the CLI imported into
    policy = load_policy(None)
    with Session.open(TEST_CONFIG, home, unlock(home, PASSPHRASE, min_kdf=TEST_CONFIG.kdf)) as session:
        # When the queue is listed, a case assigned and noted
        queue = session.list_cases(policy)
        assert [c.request["story"] for c in queue.cases] == ["now", "calm"]
        first = queue.cases[0].short_id
        entry_id, record = session.set_case(first, status="contacted", note="called", assignee="Bob")
        # Then the record, its audit trail and the acknowledgement say so
        assert entry_id.startswith(first)
        assert record.assignee == "Bob" and record.status == "contacted"
        assert [a["action"] for a in record.audit] == ["status", "note", "assign"]
        assert all(a["by"] == "Alice" for a in record.audit)
        assert session.show_case(first, policy).record.assignee == "Bob"
        written = session.write_ack(tmp_path / "ack")
        assert written.entries == 2 and written.signer == "Alice"
    # and the CLI reads what the operations wrote
    shown = json.loads(triage.ok("list", "--json").stdout)
    assert shown[0]["status"] == "contacted"


def test_set_case_refuses_nothing_to_do_and_unknown_status(home: Home) -> None:
    with Session.open(TEST_CONFIG, home, unlock(home, PASSPHRASE, min_kdf=TEST_CONFIG.kdf)) as session:
        case_id = session.list_cases(load_policy(None)).cases[0].short_id
        with pytest.raises(TriageError):
            session.set_case(case_id)
        with pytest.raises(TriageError):
            session.set_case(case_id, status="gone")
        with pytest.raises(TriageError):
            session.set_case(case_id, note="x" * 4001)


def test_a_wrong_passphrase_is_its_own_error(home: Home) -> None:
    with pytest.raises(crypto.WrongPassphraseError):
        unlock(home, "not it", min_kdf=TEST_CONFIG.kdf)


def test_a_closed_session_forgets_the_store_key(home: Home) -> None:
    with Session.open(TEST_CONFIG, home, unlock(home, PASSPHRASE, min_kdf=TEST_CONFIG.kdf)) as session:
        pass
    assert session.store.key is None


def test_records_written_before_assignment_and_audit_still_read() -> None:
    old = json.dumps({"status": "contacted", "notes": [], "history": []}).encode()
    record = CaseRecord.from_bytes(old)
    assert (record.status, record.assignee, record.audit) == ("contacted", "", [])
    assert CaseRecord.from_bytes(record.to_bytes()) == record
