"""A reply is never lost silently, and replies show in the order they were written (invariant 18).

Through the real faces: the form, `intake export`, `triage import`, `triage reply`, `triage ack`,
`intake apply-ack` and the status page. A return file that is lost does not lose its replies: they stay
queued (carried, not confirmed) and the next return file carries them again; the server stores each
once, and its next bundle confirms them, so the laptop stops carrying them.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

from sqlalchemy import insert

from tests.realparts import need_module

need_module("flask")

import crypto
from intake.app import create_app
from intake.tables import replies
from tests.intake.helpers import receipt_of, submit
from tests.roundtrip.test_conversation_roundtrip import status_page
from tests.roundtrip.test_roundtrip import Operator, laptop

DAY = datetime.date(2026, 11, 30)
WORDS = ["Первый ответ", "Второй ответ", "Третий ответ", "Четвёртый ответ", "Пятый ответ"]


def shown_replies(page: str) -> list[str]:
    return re.findall(r'<p class="reply-text">([^<]*)</p>', page)


def test_a_lost_return_file_loses_no_reply_and_each_is_stored_once(tmp_path: Path) -> None:
    # Given a person's request imported on Alice's laptop
    operator = Operator(tmp_path / "instance")
    fingerprint = operator.intake("init").split()[-1]
    alice = laptop(tmp_path, "alice")
    alice.keygen("Alice")
    operator.intake("recipients", "add", alice.home / "Alice.pub")
    app = create_app(operator.config)
    client = app.test_client()
    receipt = receipt_of(submit(client, lang="ru", story="Мне нужна помощь"))
    usb = tmp_path / "usb"
    usb.mkdir()
    operator.intake("export", "--out", usb / "1.bundle")
    alice.ok("import", "--fingerprint", fingerprint, usb / "1.bundle")
    case = json.loads(alice.ok("list", "--json").stdout)[0]["short_id"]
    # When Alice writes five replies on one day, and a return file carries them
    for words in WORDS:
        alice.ok("reply", case, input=words)
    alice.ok("ack", "--out", usb / "lost.ack")
    # ... and that file is lost (the stick is lost on the way)
    lost = (usb / "lost.ack").read_bytes()
    (usb / "lost.ack").unlink()
    # Then triage says the replies are carried, not confirmed (nothing says "sent")
    shown = alice.ok("show", case).output
    assert "not confirmed" in shown and "(sent)" not in shown, shown
    # And the next return file carries all five again; applied, they reach the status page in the order written
    alice.ok("ack", "--out", usb / "2.ack")
    assert "Stored 5 sealed replies" in operator.intake("apply-ack", usb / "2.ack")
    assert shown_replies(status_page(client, receipt)) == WORDS
    # When the lost file turns up and is applied after all, nothing is stored twice
    (usb / "found.ack").write_bytes(lost)
    again = operator.intake("apply-ack", usb / "found.ack")
    assert "5 replies were stored before and not stored again" in again and "Stored " not in again
    assert shown_replies(status_page(client, receipt)) == WORDS
    # When the person deletes one and a stale return file carries it once more, it does not come back
    storage = app.extensions["intake"].storage
    keypair = crypto.derive_reply_keypair(receipt.replace(" ", ""), app.extensions["intake"].reply_secret)
    mailbox = crypto.mailbox_id(keypair.public)
    first = next(r for r in storage.replies_for(mailbox) if crypto.open_reply(r.container, keypair).seq == 1)
    assert storage.delete_reply(mailbox, first.reply_id)
    alice.ok("ack", "--out", usb / "3.ack")
    operator.intake("apply-ack", usb / "3.ack")
    assert shown_replies(status_page(client, receipt)) == WORDS[1:]
    # When the laptop imports the next bundle, the server's signed confirmation marks them delivered
    operator.intake("export", "--out", usb / "2.bundle")
    summary = json.loads(alice.ok("import", usb / "2.bundle", "--json").stdout)
    assert summary["replies_delivered"] == 5
    thread = json.loads(alice.ok("list", "--json").stdout)[0]["thread"]
    assert [(m["seq"], m["state"]) for m in thread] == [(n, "delivered") for n in range(1, 6)]
    assert "delivered: the server confirmed it" in alice.ok("show", case).output
    # And the next return file no longer carries them
    out = alice.ok("ack", "--out", usb / "4.ack").output
    assert "carries 0 replies" in out, out
    storage.dispose()


def test_the_status_page_orders_replies_by_what_is_sealed_inside(tmp_path: Path) -> None:
    # Given five replies of one day whose stored ids sort 4, 3, 1, 2, 5 (the order issue 18 saw)
    operator = Operator(tmp_path / "instance")
    operator.intake("init")
    alice = laptop(tmp_path, "alice")
    alice.keygen("Alice")
    operator.intake("recipients", "add", alice.home / "Alice.pub")
    app = create_app(operator.config)
    client = app.test_client()
    receipt = receipt_of(submit(client, lang="ru", story="Мне нужна помощь"))
    services = app.extensions["intake"]
    public = crypto.derive_reply_keypair(receipt.replace(" ", ""), services.reply_secret).public
    with services.storage.writing() as conn:
        for place, seq in enumerate((4, 3, 1, 2, 5)):
            container = crypto.seal_reply(WORDS[seq - 1], written_on=DAY, seq=seq, to=public)
            conn.execute(insert(replies).values(id=bytes([place]) * 16, mailbox=crypto.mailbox_id(public),
                                                container=container, stored_on=DAY))  # fmt: skip
    # Then the page shows them 1..5: the order sealed inside, sorted only after opening
    assert shown_replies(status_page(client, receipt)) == WORDS
    services.storage.dispose()
