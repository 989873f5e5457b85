"""Follow-ups spend the submission budget and a per-mailbox daily cap held in memory (issue 18 item 6)."""

from __future__ import annotations

import dataclasses
import datetime
import time
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

import crypto
from intake.limits import DailyCap
from tests.intake.conftest import make_app
from tests.intake.helpers import csrf_token, form_tokens, receipt_of, submit, valid_fields


def _follow_up(client: FlaskClient, receipt: str, circuit: str, text: str = "hello") -> int:
    token = csrf_token(client, "/en/status")
    return client.post("/en/status/message", data={"csrf_token": token, "receipt": receipt, "message": text},
                       environ_overrides={"intake.circuit": circuit}).status_code  # fmt: skip


def _frozen(app: Flask) -> None:
    frozen = time.monotonic()
    for name in ("submit_limiter", "status_limiter"):
        getattr(app.extensions["intake"], name).clock = lambda: frozen


def test_follow_ups_spend_the_submission_budget_and_look_ups_keep_theirs(app: Flask, client: FlaskClient) -> None:
    # Given one receipt and a circuit (frozen clocks: nothing refills while the test runs)
    receipt = receipt_of(submit(client))
    _frozen(app)
    limit = int(app.extensions["intake"].submit_limiter.per_key_burst)
    # When that circuit sends follow-ups, it gets as many as it could send requests, then 429
    codes = [_follow_up(client, receipt, "circuit-f") for _ in range(limit + 1)]
    assert codes == [200] * limit + [429]
    # And the requests it could still send are gone too: one budget for both
    refused = client.post("/en/request", data={**form_tokens(client, "/en/request"), **valid_fields()},
                          environ_overrides={"intake.circuit": "circuit-f"})  # fmt: skip
    assert refused.status_code == 429
    # While status look-ups on that circuit keep their own budget
    token = csrf_token(client, "/en/status")
    looked = client.post("/en/status", data={"csrf_token": token, "receipt": receipt},
                         environ_overrides={"intake.circuit": "circuit-f"})  # fmt: skip
    assert looked.status_code == 200


def test_one_receipt_on_fresh_circuits_is_capped_per_day(config: object, identity: crypto.Identity,
                                                         tmp_path: Path) -> None:  # fmt: skip
    # Given a server allowing 3 follow-ups a receipt a day
    app = make_app(dataclasses.replace(config, followups_per_day=3), identity)  # type: ignore[type-var]
    client = app.test_client()
    receipt = receipt_of(submit(client))
    pending = app.extensions["intake"].storage.pending_count()
    # When the receipt sends follow-ups, each from a fresh circuit
    codes = [_follow_up(client, receipt, f"fresh-{n}") for n in range(5)]
    # Then three are stored, the rest are refused with the message kept, and nothing more is stored
    assert codes == [200, 200, 200, 429, 429]
    assert app.extensions["intake"].storage.pending_count() == pending + 3
    token = csrf_token(client, "/en/status")
    kept = client.post("/en/status/message", data={"csrf_token": token, "receipt": receipt,
                                                   "message": "MY-WORDS-KEPT"},
                       environ_overrides={"intake.circuit": "fresh-x"})  # fmt: skip
    assert kept.status_code == 429 and "MY-WORDS-KEPT" in kept.get_data(as_text=True)
    # And another receipt is not touched by the first one's cap
    other = receipt_of(submit(client))
    assert _follow_up(client, other, "fresh-y") == 200
    app.extensions["intake"].storage.dispose()


def test_the_cap_holds_no_mailbox_in_clear_and_starts_over_each_day() -> None:
    cap = DailyCap(2)
    mailbox = b"\x07" * 32
    day = datetime.date(2026, 12, 1)
    assert [cap.allow(mailbox, day) for _ in range(3)] == [True, True, False]
    assert all(mailbox not in name and len(name) == 16 for name in cap._counts)
    assert cap.allow(mailbox, day + datetime.timedelta(days=1))


@given(per_day=st.integers(1, 5), uses=st.lists(st.integers(0, 3), max_size=40))
def test_the_cap_never_allows_more_than_per_day(per_day: int, uses: list[int]) -> None:
    cap = DailyCap(per_day, max_keys=1_000)
    allowed = [0, 0, 0, 0]
    for key in uses:
        allowed[key] += cap.allow(bytes([key]) * 32, "today")
    assert all(count <= per_day for count in allowed)
    assert all(allowed[k] == min(per_day, uses.count(k)) for k in range(4))
