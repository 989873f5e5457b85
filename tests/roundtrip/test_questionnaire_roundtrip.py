"""Issue 23 (invariant 20) across the air gap: the server changes its questionnaire; every laptop stops once.

The server records each questionnaire version it serves and every export carries them all; a laptop
imports what was asked with the shipped questionnaire without a question, stops (nothing imported) when the
server starts asking for a home address, and goes on once a caseworker accepts the new version.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.realparts import need_module

need_module("flask")

from intake import questionnaires
from intake.app import create_app
from tests.intake.helpers import receipt_of, submit
from tests.roundtrip.test_roundtrip import REQUESTS, Operator, laptop
from tests.triage.questionnaire_helpers import changed_questionnaire


def test_a_changed_questionnaire_stops_every_laptop_until_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = Operator(tmp_path / "instance")
    operator.intake("init")
    alice = laptop(tmp_path, "alice")
    alice.keygen("Alice")
    operator.intake("recipients", "add", alice.home / "Alice.pub")
    stories = list(REQUESTS)
    client = create_app(operator.config).test_client()
    receipt_of(submit(client, story=stories[0], **REQUESTS[stories[0]]))
    # The shipped questionnaire is known to every laptop: the first import does not stop for it
    assert json.loads(alice.ok("import", "--json", operator.export(tmp_path / "1.bundle")).stdout)["new"] == 1

    # When the server restarts with a questionnaire that asks for a home address
    changed = changed_questionnaire()
    monkeypatch.setattr(questionnaires, "served_questionnaire", lambda config: changed)
    client = create_app(operator.config).test_client()
    receipt_of(submit(client, story=stories[1], **REQUESTS[stories[1]]))
    second = operator.export(tmp_path / "2.bundle")
    # Then the laptop stops, says what is asked now, and imports nothing
    stopped = alice.run("import", second)
    assert stopped.exit_code == 1 and '!! NEW QUESTION "home_address"' in stopped.output
    assert len(json.loads(alice.ok("list", "--json").stdout)) == 1
    # And once accepted on purpose, the same bundle imports
    alice.ok("questionnaire", "accept", changed.sha256[:12])
    assert json.loads(alice.ok("import", "--json", second).stdout)["new"] == 1
    assert len(json.loads(alice.ok("list", "--json").stdout)) == 2
