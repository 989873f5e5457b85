"""A real headless Chromium with JavaScript disabled fills in the Russian form against a real server.

Then the stored envelope is opened with the test caseworker's key and the exact words must come back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

import crypto
from intake.config import IntakeConfig
from intake.devserver import QuietHandler
from tests.chromium import start_chromium
from tests.firefox import start_firefox
from tests.intake.conftest import make_app
from tests.intake.helpers import opened
from tests.realparts import REQUIRE_ENV

pytestmark = pytest.mark.browser

STORY = "Меня ищут родственники.\nНужна помощь: «срочно», двое взрослых — 10 000 знаков не нужно."
CONTACT = "@bezopasno_42"


@pytest.fixture
def served(tmp_path: Path, identity: crypto.Identity) -> Iterator[tuple[str, Flask]]:
    app = make_app(IntakeConfig(instance_dir=tmp_path / "instance", default_locale="ru"), identity)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["intake"].storage.dispose()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    driver = start_chromium(tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


def test_russian_form_with_javascript_off(served: tuple[str, Flask], browser: object,
                                          identity: crypto.Identity) -> None:  # fmt: skip
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, app = served
    driver: Any = browser

    def navigate(element: Any) -> None:
        """Click a link or button and wait until the next page has replaced this one."""
        page = driver.find_element(By.TAG_NAME, "html")
        element.click()
        # ChromeDriver may answer 'node does not belong to the document' (not 'stale') when the page is
        # replaced in the middle of the check: that too is the page being replaced, so look again.
        WebDriverWait(driver, 90, ignored_exceptions=[WebDriverException]).until(
            expected_conditions.staleness_of(page))
        WebDriverWait(driver, 90, ignored_exceptions=[WebDriverException]).until(
            lambda d: d.execute_script("return document.readyState") == "complete")

    # Given the landing page, reached through the default language, with scripts disabled
    driver.get(base + "/")
    assert driver.current_url.endswith("/ru/")
    find = driver.find_element
    navigate(find(By.LINK_TEXT, "Заполнить анкету"))
    assert find(By.TAG_NAME, "html").get_attribute("lang") == "ru"
    # When the person fills in the Russian form and sends it
    find(By.ID, "danger-0").click()
    find(By.ID, "threat_from-1").click()
    find(By.ID, "location-0").click()
    Select(find(By.ID, "people")).select_by_value("2")
    find(By.ID, "contact_method-1").click()
    find(By.ID, "contact").send_keys(CONTACT)
    find(By.ID, "story").send_keys(STORY)
    find(By.ID, "consent").click()
    navigate(find(By.CSS_SELECTOR, "button[type=submit]"))
    # Then a receipt is shown
    assert "Ваша заявка отправлена" in find(By.TAG_NAME, "h1").text
    receipt = find(By.ID, "receipt").text
    assert len(receipt.replace(" ", "")) == 30
    # And the status page, typed with dashes, says it was received
    navigate(find(By.LINK_TEXT, "Проверить заявку"))
    find(By.ID, "receipt").send_keys(receipt.replace(" ", "-"))
    navigate(find(By.CSS_SELECTOR, "button[type=submit]"))
    assert find(By.ID, "answer").text.startswith("Принята")
    # And the stored envelope opens with the caseworker key to the exact words
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    request = opened(envelope, identity)
    assert request["story"] == STORY and request["contact"] == CONTACT
    assert (request["locale"], request["danger"], request["people"]) == ("ru", "immediate", 2)
    assert request["threat_from"] == ["family"] and request["contact_method"] == "telegram"
    # And the profile really had JavaScript off: a page's own script does not run
    driver.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert driver.title == "off"


@pytest.mark.parametrize("start", [start_chromium, start_firefox])
def test_a_missing_browser_fails_when_real_parts_are_required(start: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # Given CI's setting and a machine where neither browser can be found
    monkeypatch.setenv(REQUIRE_ENV, "1")
    monkeypatch.setenv("PATH", str(tmp_path))
    # Then starting the browser fails the test instead of skipping it
    with pytest.raises(pytest.fail.Exception, match="EVAC_REQUIRE_REAL_PARTS=1 makes this a failure"):
        start(tmp_path / "profile")
