"""The conversation in a real headless Chromium with JavaScript off, in Russian: read a reply, answer it, delete it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from flask import Flask

import crypto
from intake.instance import Instance
from tests.intake.helpers import opened
from tests.intake.test_browser import browser, served  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

REPLY = "Здравствуйте! Мы получили вашу заявку. Ответьте, пожалуйста: в каком городе вы сейчас?"
ANSWER = "Я в Грозном, могу говорить вечером."


def test_the_person_reads_a_reply_and_answers_with_javascript_off(
    served: tuple[str, Flask], browser: object, identity: crypto.Identity  # noqa: F811
) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, app = served
    driver: Any = browser
    find = driver.find_element

    def navigate(element: Any) -> None:
        page = find(By.TAG_NAME, "html")
        element.click()
        # ChromeDriver may answer 'node does not belong to the document' (not 'stale') when the page is
        # replaced in the middle of the check: that too is the page being replaced, so look again.
        WebDriverWait(driver, 90, ignored_exceptions=[WebDriverException]).until(
            expected_conditions.staleness_of(page))
        # Replaced is not loaded: on a loaded machine the next page may still be arriving when it is looked at.
        WebDriverWait(driver, 90, ignored_exceptions=[WebDriverException]).until(
            lambda d: d.execute_script("return document.readyState") == "complete")

    # Given a request sent from the Russian form, and its receipt
    driver.get(base + "/ru/request")
    find(By.ID, "danger-0").click()
    Select(find(By.ID, "people")).select_by_value("1")
    find(By.ID, "contact_method-1").click()
    find(By.ID, "contact").send_keys("@someone")
    find(By.ID, "story").send_keys("Нужна помощь")
    find(By.ID, "consent").click()
    navigate(find(By.CSS_SELECTOR, "button[type=submit]"))
    receipt = find(By.ID, "receipt").text
    # And a caseworker's reply, sealed on the laptop and carried in a signed return file
    storage = app.extensions["intake"].storage
    [(_, envelope)] = storage.envelope_bytes()
    public = crypto.ReplyPublicKey.from_b64(opened(envelope, identity)["reply_key"])
    today = datetime.date.today()
    reply = crypto.AckReply(crypto.mailbox_id(public), crypto.seal_reply(REPLY, written_on=today, seq=1, to=public))
    server_key = Instance(app.extensions["intake"].config).server_key()
    ack = crypto.make_ack([], identity=identity, server=server_key.public, bundle_sequence=1, created_on=today,
                          replies=[reply])  # fmt: skip
    storage.apply_ack(ack, server_key, today)

    # When the person opens the status page with the receipt
    driver.get(base + "/ru/status")
    find(By.ID, "receipt").send_keys(receipt)
    navigate(find(By.CSS_SELECTOR, "form button[type=submit]"))
    # Then the reply is shown, and they answer it
    assert REPLY in find(By.ID, "conversation").text
    find(By.ID, "message").send_keys(ANSWER)
    navigate(find(By.XPATH, "//button[contains(., 'Отправить сообщение')]"))
    assert find(By.ID, "sent").text.startswith("Ваше сообщение отправлено")
    # And the answer is stored sealed, as a follow-up of the request's size naming the same reply key
    stored = [e for _, e in storage.envelope_bytes()]
    assert len(stored) == 2 and len({len(e) for e in stored}) == 1
    kinds = {p["kind"]: p for p in (opened(e, identity) for e in stored)}
    assert kinds["followup"]["message"] == ANSWER and kinds["followup"]["locale"] == "ru"
    assert kinds["followup"]["reply_key"] == kinds["request"]["reply_key"]
    # And they delete the reply they have read: it is gone from the page and from the server
    navigate(find(By.XPATH, "//button[contains(., 'Удалить это сообщение')]"))
    navigate(find(By.XPATH, "//button[contains(., 'Да, удалить')]"))  # asked once (issue 19 item 5)
    assert find(By.ID, "deleted").text and REPLY not in find(By.TAG_NAME, "body").text
    assert storage.replies_for(crypto.mailbox_id(public)) == []
