"""The listing rows (triage.listing): `triage list` from them prints exactly what it printed before them.

"Before" is a store as the triage before the listing left it (a sealed ``requests`` cache, no ``listing``
table): listed with the listing turned off, it runs the code that listed every store until then. The same
store listed normally fills its listing once and must print the same bytes, for --json, --csv and the table,
on any day, after every change a caseworker or an import makes.
"""

from __future__ import annotations

import datetime
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from crypto.answers import encode_questionnaire_request, shipped
from crypto.request_schema import decode_request
from tests.triage.helpers import PASSPHRASE, TEST_CONFIG, TODAY, Server, Triage, make_request
from triage import listing
from triage.app import TriageConfig
from triage.home import Home
from triage.operations import Session, unlock
from triage.store import STATUSES, request_context

SECRET = bytes(range(32))
OUTPUTS = (("--json",), ("--csv",), ("--all",), ("--json", "--status", "new", "--status", "contacted"))
# Words as people type them, and what a terminal or a JSON encoder treats specially (the listing keeps the
# request's JSON escaped for a terminal: a bidi override must come out as \u202e either way).
WORDS = st.sampled_from(["Помогите", "нас ищут", "help", '"quoted"', "back\\slash", "\u202eevil", "tab\there",
                         "zero\u200bwidth", "😀", "«ёлки»", "=1+2", "@handle", " spaced ", "line\nbreak"])
TEXT = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)


def _reply_key(receipt: str) -> str:
    return crypto.derive_reply_keypair(receipt, SECRET).public.to_b64()


@st.composite
def requests(draw: Any) -> dict[str, Any]:
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
        "health": draw(st.one_of(st.just(""), TEXT)), "alias": draw(st.one_of(st.just(""), TEXT)),
        "contact_method": "signal", "contact": draw(st.sampled_from(["+7 900 000 00 00", "@someone", "x"])),
        "story": draw(TEXT), "consent": True,
    }  # fmt: skip
    return {"fields": fields, "schema": draw(st.sampled_from([1, 2, 3])), "days_ago": draw(st.integers(0, 150)),
            "status": draw(st.sampled_from(STATUSES)), "note": draw(st.one_of(st.none(), TEXT)),
            "followups": draw(st.integers(0, 2)), "burst": draw(st.booleans())}  # fmt: skip


def payload(case: dict[str, Any], receipt: str) -> dict[str, Any]:
    fields, day = case["fields"], TODAY - datetime.timedelta(days=case["days_ago"])
    if case["schema"] == 1:
        return make_request(submitted_on=day, **fields)
    if case["schema"] == 2:
        return make_request(schema=2, kind="request", reply_key=_reply_key(receipt), submitted_on=day, **fields)
    data = encode_questionnaire_request(shipped(), fields, locale="ru", submitted_on=day, reply_key=_reply_key(receipt))
    return decode_request(data)


def followup(receipt: str, message: str) -> dict[str, Any]:
    return {"schema": 2, "kind": "followup", "locale": "ru", "submitted_on": TODAY, "reply_key": _reply_key(receipt),
            "message": message}  # fmt: skip


def followup_entry(server: Server, payload: dict[str, Any], recipients: list[crypto.PublicIdentity]) -> Any:
    server.high_water += 1
    envelope = crypto.seal_followup(payload, for_recipients=recipients)
    return crypto.BundleEntry(os.urandom(16), server.high_water, envelope, tuple(r.fingerprint for r in recipients))


def as_the_older_triage_left_it(home: Path) -> None:
    """The store as a triage from before the listing makes it: each request cached under ``requests`` (canonical
    JSON sealed under request: + id + fingerprint), no listing rows, no indexes of digests."""
    identity = unlock(Home(home), PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)
    with Session.open(TEST_CONFIG, Home(home), identity) as session:
        store = session.store
        for rowid, entry_id in store.db.execute("SELECT rowid, entry_id FROM envelopes").fetchall():
            try:
                canonical = crypto.encode_request(crypto.open_request(store.envelope(rowid), identity))
            except crypto.NotRecipientError:
                continue
            context = request_context(bytes(entry_id), identity.fingerprint)
            sealed = store.unlocked_key().seal(canonical, context=context)
            store.db.execute("INSERT OR REPLACE INTO requests VALUES (?, ?, ?)",
                             (bytes(entry_id), identity.fingerprint, sealed))  # fmt: skip
        store.db.execute("DROP TABLE listing")
        store.db.execute("DROP INDEX envelopes_digests")
        store.db.execute("DROP INDEX followups_digests")


def list_as_before(triage: Triage, copy: Path, *args: str, config: TriageConfig | None = None) -> str:
    """`triage list ARGS` over a copy of the store as the older triage left it, listed the way it listed."""
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(triage.home, copy)
    as_the_older_triage_left_it(copy)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(listing, "fill", lambda *_, **__: 0)  # no listing rows: every case the way it was listed
        return Triage(copy, triage.passphrase_file, config or triage.config).ok("list", *args).stdout


def same_as_before(triage: Triage, tmp_path: Path, config: TriageConfig | None = None) -> None:
    now = Triage(triage.home, triage.passphrase_file, config or triage.config)
    for args in OUTPUTS:
        assert now.ok("list", *args).stdout == list_as_before(triage, tmp_path / "before", *args, config=config), args


def build(tmp_path: Path, cases: list[dict[str, Any]]) -> tuple[Triage, Server, crypto.PublicIdentity]:
    passphrase = tmp_path / "pass"
    passphrase.write_text(PASSPHRASE + "\n")
    triage, server = Triage(tmp_path / "home", passphrase), Server()
    alice = triage.keygen("Alice")
    entries, receipts = [], []
    for n, case in enumerate(cases):
        receipt = f"{n:030d}"
        copies = 3 if case["burst"] else 1  # near-identical requests sent together: the table folds them
        for _ in range(copies):
            entries.append(server.entry(payload(case, receipt), [alice]))
            receipts.append(receipt)
    triage.ok("import", server.bundle(tmp_path / "first.bundle", entries, recipients=[alice]))
    for entry, case in zip(entries, [c for c in cases for _ in range(3 if c["burst"] else 1)], strict=True):
        case_id = entry.entry_id.hex()
        if case["status"] != "new":
            triage.ok("set", case_id, "--status", case["status"])
        if case["note"]:
            triage.ok("set", case_id, "--note", input=case["note"])
    followups = [followup_entry(server, followup(receipt, f"сообщение {k}"), [alice])
                 for case, receipt in zip(cases, receipts, strict=False) if case["schema"] != 1
                 for k in range(case["followups"])]  # fmt: skip
    if followups:
        triage.ok("import", server.bundle(tmp_path / "second.bundle", followups, recipients=[alice]))
    return triage, server, alice


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])  # fmt: skip
@given(cases=st.lists(requests(), min_size=1, max_size=5), later=st.integers(1, 120))
def test_the_listing_prints_what_the_listing_before_it_printed(tmp_path_factory: pytest.TempPathFactory,
                                                               cases: list[dict[str, Any]], later: int) -> None:
    tmp_path = tmp_path_factory.mktemp("listing")
    # Given a store with requests of schemas 1, 2 and 3, statuses, notes, follow-ups and bursts
    triage, _, _ = build(tmp_path, cases)
    # Then every output is byte for byte what the listing before the listing rows printed
    same_as_before(triage, tmp_path)
    # And so on a later day, when every case has waited longer (nothing of the day is kept in a row)
    config = TriageConfig(kdf=crypto.KDF_FOR_TESTS_ONLY, today=lambda: TODAY + datetime.timedelta(days=later))
    same_as_before(triage, tmp_path, config)


def test_every_change_to_a_case_shows_in_the_next_listing(tmp_path: Path) -> None:
    case = {"fields": {"danger": "serious", "threat_from": ["family"], "detention": None, "location": "chechnya",
                       "people": 2, "children": 1, "documents": [], "health": "", "alias": "Аня",
                       "contact_method": "signal", "contact": "@anya", "story": "Нас ищут.", "consent": True},
            "schema": 3, "days_ago": 3, "status": "new", "note": None, "followups": 0, "burst": False}  # fmt: skip
    triage, server, alice = build(tmp_path, [case, {**case, "schema": 2, "days_ago": 9}])
    listed = triage.ok("list", "--json").stdout
    case_id = listed.split('"id":"', 2)[1][:32]
    steps = [("set", case_id, "--status", "contacted"), ("set", case_id, "--note"), ("reply", case_id),
             ("set", case_id, "--status", "in_progress", "--note")]  # fmt: skip
    for step in steps:
        # When a caseworker changes the case
        triage.ok(*step, input="Позвонили, ждём ответа." if step[0] == "reply" or "--note" in step else None)
        # Then the listing shows it, exactly as the listing before the listing rows did
        now = triage.ok("list", "--json").stdout
        assert now != listed
        listed = now
        same_as_before(triage, tmp_path)
    # And a follow-up imported later joins its case's thread and raises it, in the listing too
    news = followup_entry(server, followup(f"{0:030d}", "они здесь"), [alice])
    triage.ok("import", server.bundle(tmp_path / "news.bundle", [news], recipients=[alice]))
    assert '"unread":1' in triage.ok("list", "--json").stdout
    same_as_before(triage, tmp_path)


def test_a_store_made_before_the_listing_is_filled_once_and_lists_the_same(tmp_path: Path) -> None:
    case = {"fields": {"danger": "immediate", "threat_from": [], "detention": "recent", "location": None,
                       "people": 1, "children": None, "documents": ["confiscated"], "health": "инсулин", "alias": "",
                       "contact_method": "signal", "contact": "+7 900 000 00 01", "story": "Срочно.", "consent": True},
            "schema": 1, "days_ago": 40, "status": "new", "note": None, "followups": 0, "burst": False}  # fmt: skip
    triage, _, _ = build(tmp_path, [case, {**case, "schema": 3}, {**case, "schema": 2, "status": "closed"}])
    expected = {args: triage.ok("list", *args).stdout for args in OUTPUTS}
    # Given the same store as the older triage left it
    as_the_older_triage_left_it(triage.home)
    store = triage.home / "cases.sqlite3"
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'listing'").fetchone() is None
    # When this triage lists it, it fills the listing once (one sealed row per case) and lists the same
    for args in OUTPUTS:
        assert triage.ok("list", *args).stdout == expected[args]
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM listing").fetchone()[0] == 3
        # And the rows hold nothing readable: no word of any request is in the file's listing table
        rows = b"".join(bytes(sealed) for (sealed,) in db.execute("SELECT sealed FROM listing"))
    assert "Срочно".encode() not in rows and b"confiscated" not in rows and b"2026-" not in rows


def test_a_listing_row_is_bound_to_its_case_and_caseworker(tmp_path: Path) -> None:
    case = {"fields": {"danger": "not_immediate", "threat_from": [], "detention": None, "location": None,
                       "people": 1, "children": None, "documents": [], "health": "", "alias": "", "consent": True,
                       "contact_method": "signal", "contact": "@a", "story": "Первая."},
            "schema": 1, "days_ago": 1, "status": "new", "note": None, "followups": 0, "burst": False}  # fmt: skip
    other = {**case, "fields": {**case["fields"], "story": "Вторая.", "danger": "immediate"}}
    triage, _, _ = build(tmp_path, [case, other])
    reopened = triage.ok("list", "--json", "--reopen").stdout
    assert triage.ok("list", "--json").stdout != reopened  # the listing's keys are in the cache's order
    # When someone with the file swaps two cases' listing rows
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:
        (a, sa), (b, sb) = db.execute("SELECT entry_id, sealed FROM listing").fetchall()
        db.execute("UPDATE listing SET sealed = ? WHERE entry_id = ?", (sb, a))
        db.execute("UPDATE listing SET sealed = ? WHERE entry_id = ?", (sa, b))
    # Then neither row opens for the other case: each case is listed from its envelope, as --reopen lists it
    assert triage.ok("list", "--json").stdout == reopened


def test_a_store_made_before_the_listing_that_cannot_be_written_is_listed_as_before(tmp_path: Path) -> None:
    case = {"fields": {"danger": "serious", "threat_from": ["authorities"], "detention": "past", "location": None,
                       "people": 3, "children": 2, "documents": [], "health": "", "alias": "", "consent": True,
                       "contact_method": "signal", "contact": "@b", "story": "Уехать."},
            "schema": 3, "days_ago": 100, "status": "new", "note": "Звонили.", "followups": 1,
            "burst": False}  # fmt: skip
    triage, _, _ = build(tmp_path, [case, {**case, "schema": 1}])
    expected = {args: triage.ok("list", *args).stdout for args in (*OUTPUTS, ("--json", "--reopen"))}
    as_the_older_triage_left_it(triage.home)
    # When the store's file cannot take the listing's table (a read-only medium: SQLite refuses the write)
    with pytest.MonkeyPatch.context() as patched:
        from triage import store

        patched.setattr(store, "_LISTING_SCHEMA", "INSERT INTO no_such_table VALUES (1);")
        # Then it opens, and every output is what it was
        for args, output in expected.items():
            assert triage.ok("list", *args).stdout == output, args
    with sqlite3.connect(triage.home / "cases.sqlite3") as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'listing'").fetchone() is None


def test_a_case_with_files_lists_as_before_and_never_shows_a_file_key(triage: Triage, tmp_path: Path) -> None:
    from tests.triage.file_cases import document_pdf, file_home, seal

    # Given a case whose request carries files (their keys travel in the sealed payload)
    file_home(triage, tmp_path, [seal("справка.pdf", "application/pdf", document_pdf())])
    # Then every output is what the listing before the listing rows printed, and no key is in any of them
    same_as_before(triage, tmp_path)
    listed = triage.ok("list", "--json").stdout
    assert '"files":[' in listed and '"key"' not in listed
