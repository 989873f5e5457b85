"""The whole conversation through the air gap, with two caseworkers, on SQLite and PostgreSQL.

submit -> `intake export` -> `triage import` -> `triage reply` -> `triage ack` -> `intake apply-ack` -> the status
page shows the reply -> the person answers -> export -> import -> the answer sits in the same case's thread.
A canary in the reply and in the follow-up is then searched for on every byte the server and the stick hold.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")

from intake.app import create_app
from intake.config import IntakeConfig
from tests.intake.helpers import TOKEN, csrf_token, receipt_of, submit
from tests.roundtrip.test_roundtrip import Operator, laptop

REPLY_CANARY = "REPLY-CANARY-4f2a Ответ: встретимся в четверг"
FOLLOWUP_CANARY = "FOLLOWUP-CANARY-91bd Да, это я, мой код 7"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return ""
    return str(request.getfixturevalue("postgres_url"))


def status_page(client: Any, receipt: str, lang: str = "ru") -> str:
    token = csrf_token(client, f"/{lang}/status")
    response = client.post(f"/{lang}/status", data={"csrf_token": token, "receipt": receipt})
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def conversation(tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    """Run the whole conversation; return what the test needs to look at afterwards."""
    caplog.set_level(logging.DEBUG)
    operator = Operator(tmp_path / "instance")
    operator.config = IntakeConfig(instance_dir=operator.instance, default_locale="ru", database_url=database_url)
    init = _intake(operator, database_url, "init")
    fingerprint = init.split()[-1]
    alice, bob = laptop(tmp_path, "alice"), laptop(tmp_path, "bob")
    alice.keygen("Alice")
    bob.keygen("Bob")
    _intake(operator, database_url, "recipients", "add", alice.home / "Alice.pub")
    _intake(operator, database_url, "recipients", "add", bob.home / "Bob.pub")
    app = create_app(operator.config)
    client = app.test_client()

    # A person asks for help (in Russian); another person too
    receipt = receipt_of(submit(client, lang="ru", story="Мне нужна помощь, меня ищут"))
    receipt_of(submit(client, lang="ru", story="Другая заявка"))
    usb = tmp_path / "usb"
    usb.mkdir()
    _intake(operator, database_url, "export", "--out", usb / "1.bundle")
    for caseworker in (alice, bob):
        assert "new 2" in caseworker.ok("import", "--fingerprint", fingerprint, usb / "1.bundle").output
    cases = {c["request"]["story"]: c for c in json.loads(alice.ok("list", "--json").stdout)}
    case_id = cases["Мне нужна помощь, меня ищут"]["short_id"]

    # Alice replies; her return file carries it; the operator applies it
    alice.ok("reply", case_id, input=REPLY_CANARY)
    alice.ok("ack", "--out", usb / "alice.ack")
    applied = _intake(operator, database_url, "apply-ack", usb / "alice.ack")
    assert "Stored 1 sealed reply" in applied

    # The person opens the status page with the receipt: the reply is there; they answer
    page = status_page(client, receipt)
    assert REPLY_CANARY in page
    token = TOKEN.search(page).group(1)
    sent = client.post("/ru/status/message", data={"csrf_token": token, "receipt": receipt,
                                                   "message": FOLLOWUP_CANARY})  # fmt: skip
    assert sent.status_code == 200 and 'id="sent"' in sent.get_data(as_text=True)
    # A mistyped receipt gets the same page as an unknown one and sends nothing
    typo = receipt[:-1] + str((int(receipt[-1]) + 1) % 10)
    refused = client.post("/ru/status/message", data={"csrf_token": token, "receipt": typo, "message": "x"})
    assert 'class="answer missing"' in refused.get_data(as_text=True)

    # The next export carries the follow-up; both laptops put it in the same case's thread
    _intake(operator, database_url, "export", "--out", usb / "2.bundle")
    for caseworker in (alice, bob):
        summary = json.loads(caseworker.ok("import", usb / "2.bundle", "--json").stdout)
        assert (summary["followups"], summary["followups_waiting"]) == (1, 0)
        queue = {c["short_id"]: c for c in json.loads(caseworker.ok("list", "--json").stdout)}
        assert len(queue) == 2
        thread = queue[case_id]["thread"]
        assert thread[-1]["dir"] == "in" and thread[-1]["text"] == FOLLOWUP_CANARY
        assert queue[case_id]["unread"] == 1
    alice_thread = json.loads(alice.ok("list", "--json").stdout)
    mine = next(c for c in alice_thread if c["short_id"] == case_id)["thread"]
    assert [m["dir"] for m in mine] == ["out", "in"] and mine[0]["text"] == REPLY_CANARY
    shown = alice.ok("show", case_id).output
    assert "R., NEW" in shown and "Alice (reply 1, delivered: the server confirmed it" in shown, shown
    # Bob acknowledges everything (Alice's return file already had the two requests): the follow-up goes
    bob.ok("ack", "--out", usb / "bob.ack")
    assert "deleted 1 envelope(s)" in _intake(operator, database_url, "apply-ack", usb / "bob.ack")
    storage = app.extensions["intake"].storage
    assert storage.pending_count() == 0
    storage.dispose()
    return {"operator": operator, "usb": usb, "logs": caplog.text}


def _intake(operator: Operator, database_url: str, *args: Any) -> str:
    from click.testing import CliRunner

    from intake.cli import main

    env = {"INTAKE_DATABASE_URL": database_url} if database_url else {}
    result = CliRunner(env=env).invoke(main, ["--instance", str(operator.instance), *map(str, args)])
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_the_whole_conversation_with_two_caseworkers(tmp_path: Path, database_url: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    conversation(tmp_path, database_url, caplog)


def _words(text: str) -> list[str]:
    """The text and each word of it of six characters or more (Cyrillic ones too)."""
    return [text, *re.findall(r"[\w-]{6,}", text)]


def _needles(text: str) -> list[bytes]:
    return [w.encode(enc) for w in _words(text) for enc in ("utf-8", "utf-16-le", "utf-16-be")]


def test_no_readable_word_of_either_side_online_or_on_the_stick(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a temp folder of this test's own, so that every file anything puts there, at any depth, is searched
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    seen = conversation(tmp_path / "work", "", caplog)
    # Every byte the server holds: the instance folder (database, WAL, keys), and what it logged
    server = b"".join(p.read_bytes() for p in sorted(seen["operator"].instance.rglob("*")) if p.is_file())
    # Every file on the USB stick: bundles and return files (their sealed parts are ciphertext)
    stick = b"".join(p.read_bytes() for p in sorted(seen["usb"].rglob("*")) if p.is_file())
    temp_files = [p for p in temp.rglob("*") if p.is_file()]
    new_temp = b"".join(p.read_bytes() for p in temp_files)
    for needle in _needles(REPLY_CANARY) + _needles(FOLLOWUP_CANARY):
        assert needle not in server, needle
        assert needle not in stick, needle
        assert needle not in new_temp, needle
    # And no word of either side, ASCII or Cyrillic, in any log line the whole journey wrote
    logs = seen["logs"]
    for word in _words(REPLY_CANARY) + _words(FOLLOWUP_CANARY):
        assert word not in logs, word
