"""The whole journey in a real headless Chromium with JavaScript off, on a phone-sized window, in English and
Russian: landing -> form -> receipt -> status, against gunicorn on the embedded SQLite.

Each page is screenshotted into test-artifacts/ and checked for basic accessibility (tests/system/
accessibility.py); the browser's own network log proves no request ever went to another origin; and the
caseworker's key opens what was stored to the exact words.
"""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import start_chromium
from tests.system.accessibility import blend, contrast, heading_problems, low_contrast_text, unlabelled_controls
from tests.system.running import Gunicorn, SystemInstance

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STORIES = {
    "en": "They found my messages.\nMy brother says the family will \"deal with me\" after the holiday — please help.",
    "ru": "Меня ищут родственники.\nНужна помощь: «срочно», двое взрослых — паспорт забрали 🙁",
}
CONTACTS = {"en": "+44 7700 900123", "ru": "@bezopasno_42"}
PHONE = (360, 740)
BROWSER_INTERNAL = ("chrome://", "chrome-untrusted://", "about:")  # the browser's own pages, never the network


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Gunicorn]:
    running = Gunicorn(SystemInstance.create(module_tmp), worker="sync")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    browser = start_chromium(tmp_path / "profile", window=PHONE, performance_log=True)
    try:
        yield browser
    finally:
        browser.quit()


class Journey:
    """Visits pages, saving a screenshot and running the accessibility checks on each one."""

    def __init__(self, driver: Any, lang: str, artifacts: Path) -> None:
        self.driver, self.lang, self.artifacts = driver, lang, artifacts
        self.step = 0
        self.problems: list[str] = []
        self.requests: list[str] = []

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def go(self, css: str) -> None:
        """Click ``css`` and wait until the next page has replaced this one."""
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.find("html")
        self.find(css).click()
        WebDriverWait(self.driver, 30).until(expected_conditions.staleness_of(page))

    def check_page(self, name: str) -> None:
        from selenium.webdriver.common.by import By

        self.step += 1
        self.driver.save_screenshot(str(self.artifacts / f"journey-{self.lang}-{self.step}-{name}.png"))
        self.save_full_page(self.artifacts / f"journey-{self.lang}-{self.step}-{name}-full.png")
        where = f"{self.lang}/{name}"
        assert self.find("html").get_attribute("lang") == self.lang, where
        assert "<script" not in self.driver.page_source.lower(), where
        assert self.driver.find_elements(By.CSS_SELECTOR, "header a.exit"), f"{where}: no quick-exit link"
        self.problems += [f"{where}: unlabelled {c}" for c in unlabelled_controls(self.driver)]
        for field in self.driver.find_elements(By.CSS_SELECTOR, "input[type=text], textarea"):
            if field.get_attribute("autocomplete") != "off":  # invariant 6: a watched device keeps no answers
                self.problems.append(f"{where}: {field.get_attribute('id')} may autocomplete")
        self.problems += [f"{where}: {p}" for p in heading_problems(self.driver)]
        checked, low = low_contrast_text(self.driver)
        assert checked >= 3, f"{where}: only {checked} text elements found"
        self.problems += [f"{where}: contrast {item}" for item in low]
        self.collect_requests()

    def save_full_page(self, path: Path) -> None:
        """The whole page at phone width (DevTools' own capture: no page script involved)."""
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": PHONE[0], "height": min(int(size["height"]), 8000), "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "clip": clip})
        path.write_bytes(base64.b64decode(shot["data"]))

    def collect_requests(self) -> None:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])


def walk(journey: Journey, base: str) -> str:
    """landing -> form (sent empty once, then filled) -> receipt -> status -> a missing page. Returns the receipt."""
    from selenium.webdriver.support.ui import Select

    lang, driver, find = journey.lang, journey.driver, journey.find
    driver.get(f"{base}/{lang}/")
    journey.check_page("landing")
    journey.go(f"main a[href$='/{lang}/request']")
    journey.check_page("form")
    journey.go("button[type=submit]")  # empty: every required field marked, in the person's language
    assert find(".banner").text.strip(), "no explanation of what is missing"
    journey.check_page("form-errors")
    find("#danger-0").click()
    find("#threat_from-1").click()
    find("#location-0").click()
    Select(find("#people")).select_by_value("2")
    find("#documents-3").click()
    find("#contact_method-4" if lang == "en" else "#contact_method-1").click()
    find("#contact").send_keys(CONTACTS[lang])
    find("#story").send_keys(STORIES[lang])
    find("#consent").click()
    journey.go("button[type=submit]")
    receipt = str(find("#receipt").text)
    assert len(receipt.replace(" ", "")) == 30 and receipt.replace(" ", "").isdigit(), receipt
    journey.check_page("receipt")
    journey.go(f"main a[href$='/{lang}/status']")
    journey.check_page("status")
    find("#receipt").send_keys(receipt.replace(" ", "-"))
    journey.go("button[type=submit]")
    assert find("#answer").text.strip()[:1] in ("R", "П"), "the status page did not find the request"
    journey.check_page("status-answer")
    driver.get(f"{base}/{lang}/no-such-page")
    journey.check_page("not-found")
    return receipt


def stored_envelopes(server: Gunicorn) -> list[bytes]:
    with contextlib.closing(server.instance.db()) as db:
        return [bytes(row[0]) for row in db.execute("SELECT envelope FROM envelopes")]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_phone_journey_without_javascript(server: Gunicorn, driver: Any, artifacts: Path, lang: str) -> None:
    import crypto

    # Given a phone-sized Chromium with JavaScript off
    driver.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert driver.title == "off", "JavaScript is not off"
    driver.set_window_size(*PHONE)
    driver.get_log("performance")  # drop what the browser itself loaded so far (its new-tab page)
    before = set(stored_envelopes(server))
    # When the person goes landing -> form -> receipt -> status
    journey = Journey(driver, lang, artifacts)
    walk(journey, server.base)
    # Then every page passed the basic accessibility checks
    assert journey.problems == [], "\n".join(journey.problems)
    # And the browser never sent a request to another origin
    assert len(journey.requests) >= journey.step, journey.requests  # at least one request per page seen
    foreign = [url for url in journey.requests if not url.startswith(server.base + "/")
               and not url.startswith(BROWSER_INTERNAL)]  # fmt: skip
    assert foreign == [], foreign
    # And the caseworker's key opens the stored request to the exact words
    caseworker = server.instance.caseworker()
    opened = [crypto.open_request(e, caseworker) for e in stored_envelopes(server) if e not in before]
    mine = [r for r in opened if r["locale"] == lang]
    assert len(mine) == 1, [r["locale"] for r in opened]
    request = mine[0]
    assert request["story"] == STORIES[lang].replace("\r\n", "\n") and request["contact"] == CONTACTS[lang]
    assert (request["danger"], request["people"], request["threat_from"]) == ("immediate", 2, ["family"])
    assert request["documents"] == ["confiscated"]


def test_the_accessibility_checks_catch_a_bad_page(driver: Any) -> None:
    # Given a page with every fault the journey checks for (a data: page, so inline style is allowed)
    page = ("<html lang=en><body style='background:#fff'><h1>Title</h1><h3>Skipped a level</h3>"
            "<p style='color:#999'>Too pale to read</p><p>Fine text</p><input id=nolabel type=text>"
            "<label for=good>Name</label><input id=good type=text><h1>Second h1</h1></body></html>")  # fmt: skip
    driver.get("data:text/html;charset=utf-8," + urllib.parse.quote(page))
    # Then each check reports exactly its fault
    assert unlabelled_controls(driver) == ["nolabel"]
    assert heading_problems(driver) == ["needs exactly one h1, first: [1, 3, 1]", "h1 followed by h3"]
    checked, low = low_contrast_text(driver)
    assert checked == 6 and len(low) == 1 and "Too pale" in low[0], low


def test_contrast_arithmetic_matches_wcag() -> None:
    black, white = (0.0, 0.0, 0.0), (255.0, 255.0, 255.0)
    assert round(contrast(black, white), 2) == 21.0
    assert round(contrast((119.0, 119.0, 119.0), white), 2) == 4.48  # #777: the classic just-too-pale grey
    assert blend((0.0, 0.0, 0.0, 0.5), white) == (127.5, 127.5, 127.5)
