"""`triage list --json --reopen` writes each case opened from its envelope in pieces (triage.list_json.encoded_case):
the very bytes ``render.case_json`` writes for the case ``cases.prioritised`` makes of it, in the same order."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto.answers import encode_questionnaire_request, shipped
from crypto.filestream import blob_size
from crypto.manifest import sanitize_name, worst_entry
from crypto.request_schema import decode_request
from tests.triage.helpers import PASSPHRASE, TEST_CONFIG, TODAY, Server, Triage, make_request
from triage import list_json, parallel
from triage.answers_view import AnswerReader
from triage.cases import prioritised
from triage.home import Home
from triage.operations import Session, unlock
from triage.policy_file import load_policy
from triage.render import case_json, write_json
from triage.store import STATUSES, CaseRecord

# What a JSON encoder or the terminal escaping treats specially, and text as people type it.
SPECIAL = st.sampled_from(['"', "\\", "\n", "\t", "\r", "\u202e", "\u2028", "\u200b", "\ue000", "\U0001f600", "\u00a0",
                           "ж", "/", "<", "Помогите", "help", " "])  # fmt: skip
TEXT = st.lists(SPECIAL, max_size=6).map("".join)
WORDS = TEXT.filter(lambda t: t.strip() != "")
REPLY_KEY = crypto.derive_reply_keypair("0" * 30, bytes(32)).public.to_b64()


def _files(names: list[str]) -> list[dict[str, Any]]:
    return [{**worst_entry(), "blob": f"{i:032x}", "name": sanitize_name(name), "type": "application/pdf", "size": 10,
             "blob_size": blob_size(10)} for i, name in enumerate(names)]  # fmt: skip


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A decoded request as an envelope gives it: schema 1, 2 (with files or not) or 3, or a schema 3 request whose
    questionnaire this laptop does not hold, or whose answers do not fit it (both shown with a warning)."""
    people = draw(st.integers(1, 8))
    fields: dict[str, Any] = {
        "danger": draw(st.sampled_from(["immediate", "serious", "not_immediate"])),
        "threat_from": draw(st.lists(st.sampled_from(["authorities", "family", "community", "partner", "other"]),
                                     unique=True, max_size=3)),
        "detention": draw(st.sampled_from([None, "never", "past", "recent"])),
        "location": draw(st.sampled_from([None, "chechnya", "north_caucasus", "russia_other", "outside_russia"])),
        "people": people, "children": draw(st.one_of(st.none(), st.integers(0, people))),
        "documents": draw(st.lists(st.sampled_from(["internal_passport", "international_passport", "confiscated"]),
                                   unique=True, max_size=2)),
        "health": draw(TEXT), "alias": draw(TEXT), "contact_method": "signal", "contact": draw(WORDS),
        "story": draw(WORDS), "consent": True,
    }  # fmt: skip
    day = TODAY - datetime.timedelta(days=draw(st.integers(0, 400)))
    kind = draw(st.sampled_from(["1", "2", "2 files", "3", "3 unknown", "3 misfit"]))
    if kind == "1":
        return decode_request(crypto.encode_request(make_request(submitted_on=day, **fields)))
    if kind.startswith("2"):
        files = {"files": _files(draw(st.lists(TEXT, min_size=1, max_size=3)))} if kind == "2 files" else {}
        request = make_request(schema=2, kind="request", reply_key=REPLY_KEY, submitted_on=day, **fields, **files)
        return decode_request(crypto.encode_request(request))
    payload = json.loads(encode_questionnaire_request(shipped(), fields, locale="ru", submitted_on=day,
                                                      reply_key=REPLY_KEY))  # fmt: skip
    if kind == "3 unknown":
        payload["questionnaire"]["sha256"] = "0" * 64
    elif kind == "3 misfit":
        payload["answers"]["no_such_field"] = draw(TEXT) or None
    return decode_request(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


@st.composite
def records(draw: st.DrawFn) -> CaseRecord:
    thread = [{"dir": draw(st.sampled_from(["in", "out"])), "on": "2026-11-20", "text": draw(TEXT),
               "state": draw(st.sampled_from(["unread", "read", "queued"]))}
              for _ in range(draw(st.integers(0, 3)))]  # fmt: skip
    notes = [{"on": "2026-11-21", "by": "Alice", "text": draw(TEXT)} for _ in range(draw(st.integers(0, 2)))]
    sealed_to = draw(st.lists(st.sampled_from(["aaaa-bbbb", "cccc-dddd"]), unique=True))
    return CaseRecord(status=draw(st.sampled_from(STATUSES)), notes=notes, thread=thread, sealed_to=sealed_to)


def _job(today: datetime.date) -> parallel.ListJob:
    identity = crypto.Identity.generate("Alice")
    return parallel.ListJob(Path("unused"), identity, crypto.StoreKey.generate(), load_policy(None), today, None,
                            True, True, AnswerReader())  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(cases=st.lists(st.tuples(payloads(), records(), st.integers(1, 2**40),
                                st.dates(datetime.date(2025, 1, 1), TODAY)), min_size=1, max_size=4),
       later=st.integers(0, 200))  # fmt: skip
def test_a_case_written_in_pieces_is_byte_for_byte_the_case_encoded_whole(
    cases: list[tuple[dict[str, Any], CaseRecord, int, datetime.date]], later: int
) -> None:
    # Given one listing's memory (records, days and references are kept between its cases)
    today = TODAY + datetime.timedelta(days=later)
    job = _job(today)
    memo = list_json.Memo(job.today, job.reader, job.policy)
    entry_id = bytes(range(16))
    for payload, record, serial, imported_on in cases:
        record_bytes = record.to_bytes()
        # When a case opened from its envelope is written in pieces
        key, encoded = list_json.encoded_case(memo, entry_id, serial, imported_on.isoformat(), record_bytes, payload)
        # Then it is what the whole case encodes to, and it sorts where the case sorts
        case = prioritised(entry_id, serial, imported_on, CaseRecord.from_bytes(record_bytes), payload, job.policy,
                           today, job.reader)  # fmt: skip
        assert encoded == case_json(case)
        assert key == case.sort_key()


def _reopened_as_cases(triage: Triage, out: Path) -> bytes:
    """The reference: every case opened from its envelope as a ``Case``, sorted, each encoded whole."""
    identity = unlock(Home(triage.home), PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)
    with Session.open(TEST_CONFIG, Home(triage.home), identity) as session:
        cases = session.list_cases(load_policy(None), reopen=True, jobs=1).cases
    with out.open("wb") as stream:
        write_json([case_json(case) for case in cases], stream)
    return out.read_bytes()


def test_the_reopened_listing_is_the_listing_of_the_cases_opened_from_their_envelopes(tmp_path: Path) -> None:
    # Given a store with requests of every schema, a note and a story a terminal would misread
    passphrase = tmp_path / "pass"
    passphrase.write_text(PASSPHRASE + "\n")
    triage, server = Triage(tmp_path / "home", passphrase), Server()
    alice = triage.keygen("Alice")
    story = "Нас ищут.\n\u202eне то, чем кажется"
    answers = {k: v for k, v in make_request(story=story, alias="Аня").items()
               if k not in ("schema", "locale", "submitted_on")}  # fmt: skip
    schema_3 = encode_questionnaire_request(shipped(), answers, locale="ru", submitted_on=TODAY, reply_key=REPLY_KEY)
    requests = [
        make_request(story=story),
        make_request(schema=2, kind="request", reply_key=REPLY_KEY, story=story),
        decode_request(schema_3),
        make_request(danger="immediate", submitted_on=TODAY - datetime.timedelta(40)),
    ]
    entries = [server.entry(request, [alice]) for request in requests]
    triage.ok("import", server.bundle(tmp_path / "first.bundle", entries, recipients=[alice]))
    triage.ok("set", entries[0].entry_id.hex(), "--note", input="Позвонили.")
    expected = _reopened_as_cases(triage, tmp_path / "expected.json")
    # Then --reopen prints exactly the cases encoded whole, in one process and with workers
    for jobs in ("1", "2"):
        assert triage.ok("list", "--json", "--reopen", "--jobs", jobs).stdout_bytes == expected, jobs


def test_a_reopened_case_with_files_is_the_case_encoded_whole(triage: Triage, tmp_path: Path) -> None:
    from tests.triage.file_cases import document_pdf, file_home, seal

    # Given a case whose request carries files (their keys are in the payload, never in a listing)
    file_home(triage, tmp_path, [seal("справка.pdf", "application/pdf", document_pdf())])
    listed = triage.ok("list", "--json", "--reopen").stdout_bytes
    # Then --reopen prints the case encoded whole, with its files and without their keys
    assert listed == _reopened_as_cases(triage, tmp_path / "expected.json")
    assert b'"files":[' in listed and b'"key"' not in listed
