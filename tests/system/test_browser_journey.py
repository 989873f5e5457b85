"""The whole journey in real browsers with JavaScript off, on a phone-sized window, in English and Russian:
headless Chromium, and Firefox ESR (Tor Browser's engine) with Tor Browser's Safest preferences, against
gunicorn on the embedded SQLite.

landing -> short form -> form -> an error -> receipt -> status (a mistyped and a real receipt) -> the quick
exit from a filled-in form -> Back -> a missing page. Each page is screenshotted into test-artifacts/
(journey-<browser>-<lang>-<step>-<page>.png) and checked for basic accessibility (tests/system/
accessibility.py: labels, headings, contrast, 44 px tap targets); the browser's network record proves no
request ever went to another origin but the ordinary site the quick exit leads to; and the caseworker's
key opens what was stored to the exact words.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from intake.devserver import QuietHandler
from tests.chromium import start_chromium
from tests.firefox import start_firefox, trap_prefs
from tests.intake.helpers import opened as open_stored
from tests.system.accessibility import (
    blend,
    contrast,
    heading_problems,
    heading_size_problems,
    low_contrast_text,
    small_targets,
    unlabelled_controls,
)
from tests.system.running import Gunicorn, SystemInstance

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STORIES = {
    "en": "They found my messages.\nMy brother says the family will \"deal with me\" after the holiday — please help.",
    "ru": "Меня ищут родственники.\nНужна помощь: «срочно», двое взрослых — паспорт забрали 🙁",
}
CONTACTS = {"en": "+44 7700 900123", "ru": "@bezopasno_42"}
CANARY = "journey-back-canary"
PHONE = (360, 740)  # Firefox makes it 500 px wide at the least (see tests/firefox.py)
# Firefox's own remote-settings and update services (requests the browser makes for itself, never a page's)
BROWSER_SERVICES = re.compile(r"^CONNECT [a-z0-9.-]+\.(mozilla\.(com|net|org)|firefox\.com|mozaws\.net):443 ")
BROWSER_INTERNAL = ("chrome://", "chrome-untrusted://", "about:", "data:")  # the browser's own, never the network


@Request.application  # type: ignore[arg-type]
def ordinary_site(request: Request) -> Response:
    return Response("<!doctype html><title>Погода</title><h1>Погода</h1><p>Ясно, +3</p>",
                    content_type="text/html; charset=utf-8")  # fmt: skip


@pytest.fixture(scope="module")
def exit_site() -> Iterator[str]:
    """The stand-in for the ordinary website the quick exit leads to (another origin, on this machine)."""
    site = make_server("127.0.0.1", 0, ordinary_site, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_port}/pogoda"
    finally:
        site.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(module_tmp: Path, exit_site: str) -> Iterator[Gunicorn]:
    running = Gunicorn(SystemInstance.create(module_tmp, INTAKE_EXIT_URL=exit_site), worker="sync")
    running.start()
    try:
        yield running
    finally:
        running.stop()


class Trap:
    """Records the first bytes of every connection a browser's proxy settings send here (Firefox)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                with conn, contextlib.suppress(OSError):
                    conn.settimeout(2)
                    self.seen.append(conn.recv(200).split(b"\r\n", 1)[0].decode("latin-1"))

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(params=["chromium", "firefox"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    trap = Trap()
    if request.param == "chromium":
        browser = start_chromium(tmp_path / "profile", window=PHONE, performance_log=True)
    else:
        browser = start_firefox(tmp_path / "profile", window=PHONE, extra_prefs=trap_prefs(trap.port))
    browser.engine, browser.trap = request.param, trap
    try:
        yield browser
    finally:
        browser.quit()
        trap.close()


class Journey:
    """Visits pages, saving a screenshot and running the accessibility checks on each one."""

    def __init__(self, driver: Any, lang: str, artifacts: Path) -> None:
        self.driver, self.lang, self.artifacts = driver, lang, artifacts
        self.engine: str = driver.engine
        self.step = 0
        self.problems: list[str] = []
        self.requests: list[str] = []

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def go(self, css: str) -> None:
        """Click ``css`` and wait until the next page has replaced this one."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.find("html")
        self.find(css).click()
        # ChromeDriver may answer 'node does not belong to the document' (not 'stale') when the page is
        # replaced in the middle of the check: that too is the page being replaced, so look again.
        WebDriverWait(self.driver, 90, ignored_exceptions=[WebDriverException]).until(
            expected_conditions.staleness_of(page))
        # Replaced is not loaded: on a loaded machine the next page may still be arriving when it is looked at.
        WebDriverWait(self.driver, 90, ignored_exceptions=[WebDriverException]).until(
            lambda d: d.execute_script("return document.readyState") == "complete")

    def shot(self, name: str) -> Path:
        return self.artifacts / f"journey-{self.engine}-{self.lang}-{self.step:02d}-{name}"

    def check_page(self, name: str) -> None:
        from selenium.webdriver.common.by import By

        self.step += 1
        self.driver.save_screenshot(str(self.shot(name)) + ".png")
        self.save_full_page(Path(str(self.shot(name)) + "-full.png"))
        where = f"{self.engine}/{self.lang}/{name}"
        assert self.find("html").get_attribute("lang") == self.lang, where
        assert "<script" not in self.driver.page_source.lower(), where
        assert self.driver.find_elements(By.CSS_SELECTOR, "header a.exit"), f"{where}: no quick-exit link"
        self.problems += [f"{where}: unlabelled {c}" for c in unlabelled_controls(self.driver)]
        for field in self.driver.find_elements(By.CSS_SELECTOR, "input[type=text], textarea"):
            if field.get_attribute("autocomplete") != "off":  # invariant 6: a watched device keeps no answers
                self.problems.append(f"{where}: {field.get_attribute('id')} may autocomplete")
        self.problems += [f"{where}: {p}" for p in heading_problems(self.driver)]
        self.problems += [f"{where}: {p}" for p in heading_size_problems(self.driver)]
        self.problems += [f"{where}: tap target {p}" for p in small_targets(self.driver)]
        checked, low = low_contrast_text(self.driver)
        assert checked >= 3, f"{where}: only {checked} text elements found"
        self.problems += [f"{where}: contrast {item}" for item in low]
        self.collect_requests()

    def save_full_page(self, path: Path) -> None:
        """The whole page at phone width (the browser's own capture: no page script involved)."""
        if self.engine == "firefox":
            self.driver.get_full_page_screenshot_as_file(str(path))
            return
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": PHONE[0], "height": min(int(size["height"]), 8000), "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "clip": clip})
        path.write_bytes(base64.b64decode(shot["data"]))

    def collect_requests(self) -> None:
        if self.engine == "firefox":
            self.requests += [self.driver.current_url]
            return
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])

    def exit_in_view(self, css: str) -> bool:
        """Scrolled to ``css`` (deep in the form), is the quick exit still on screen?"""
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).scroll_to_element(self.find(css)).perform()
        exit_link = self.find("header a.exit")
        top = self.driver.execute_script("return arguments[0].getBoundingClientRect().top", exit_link)
        return bool(exit_link.is_displayed()) and 0 <= float(top) < 100


def walk(journey: Journey, base: str, exit_url: str) -> str:
    """The whole journey (see the module doc). Returns the receipt."""
    from selenium.webdriver.support.ui import Select, WebDriverWait

    lang, driver, find = journey.lang, journey.driver, journey.find
    driver.get(f"{base}/{lang}/")
    journey.check_page("landing")
    journey.go(f"main a[href$='/{lang}/urgent']")
    journey.check_page("short-form")
    driver.get(f"{base}/{lang}/")
    journey.go(f"main a[href$='/{lang}/request']")
    journey.check_page("form")
    journey.go("form button[type=submit]")  # empty: every required field listed at the top, with links
    assert find("#problems").text.strip(), "no explanation of what is missing"
    assert len(driver.find_elements("css selector", "#problems li a")) == 6
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
    assert journey.exit_in_view("#story"), "the quick exit is out of reach while typing the story"
    journey.go("form button[type=submit]")
    receipt = str(find("#receipt").text)
    assert len(receipt.replace(" ", "")) == 30 and receipt.replace(" ", "").isdigit(), receipt
    journey.check_page("receipt")
    journey.go(f"main a[href$='/{lang}/status']")
    journey.check_page("status")
    find("#receipt").send_keys(receipt.replace(" ", "")[:25])
    journey.go("form button[type=submit]")
    assert find("#receipt-error").text.strip(), "a five-digit-short receipt was not named as such"
    journey.check_page("status-mistyped")
    find("#receipt").send_keys(receipt.replace(" ", "-"))
    journey.go("form button[type=submit]")
    assert find("#answer").text.strip()[:1] in ("R", "П"), "the status page did not find the request"
    journey.check_page("status-answer")
    # The quick exit from a filled-in form, then Back: nothing typed may come back
    driver.get(f"{base}/{lang}/request")
    find("#danger-0").click()
    find("#contact").send_keys(CANARY)
    find("#story").send_keys(CANARY)
    journey.go("header a.exit")
    WebDriverWait(driver, 90).until(lambda d: d.current_url.startswith(exit_url))
    driver.save_screenshot(str(journey.shot("quick-exit")) + ".png")
    driver.back()
    WebDriverWait(driver, 90).until(lambda d: not d.current_url.startswith(exit_url))
    WebDriverWait(driver, 90).until(lambda d: d.execute_script("return document.readyState") == "complete")
    journey.check_page("back-after-exit")
    assert CANARY not in (find("#story").get_property("value") + find("#contact").get_property("value"))
    assert CANARY not in driver.page_source and not find("#danger-0").is_selected(), "Back brought answers back"
    driver.get(f"{base}/{lang}/no-such-page")
    journey.check_page("not-found")
    return receipt


def stored_envelopes(server: Gunicorn) -> list[bytes]:
    with contextlib.closing(server.instance.db()) as db:
        return [bytes(row[0]) for row in db.execute("SELECT envelope FROM envelopes")]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_phone_journey_without_javascript(server: Gunicorn, exit_site: str, driver: Any, artifacts: Path,
                                          lang: str) -> None:  # fmt: skip

    # Given a phone-sized browser with JavaScript off
    driver.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert driver.title == "off", "JavaScript is not off"
    driver.set_window_size(*PHONE)
    if driver.engine == "chromium":
        driver.get_log("performance")  # drop what the browser itself loaded so far (its new-tab page)
    before = set(stored_envelopes(server))
    # When the person goes the whole way
    journey = Journey(driver, lang, artifacts)
    walk(journey, server.base, exit_site)
    # Then every page passed the basic accessibility checks
    assert journey.problems == [], "\n".join(journey.problems)
    # And the browser never sent a request to another origin but the ordinary site the exit leads to
    assert len(journey.requests) >= journey.step, journey.requests  # at least one request per page seen
    allowed = (server.base + "/", exit_site.rsplit("/", 1)[0] + "/", *BROWSER_INTERNAL)
    foreign = [url for url in journey.requests if not url.startswith(allowed)]
    foreign += [line for line in driver.trap.seen if not BROWSER_SERVICES.search(line)]
    assert foreign == [], foreign
    # And the caseworker's key opens the stored request to the exact words
    caseworker = server.instance.caseworker()
    opened = [open_stored(e, caseworker) for e in stored_envelopes(server) if e not in before]
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


def test_the_tap_target_and_heading_size_checks_catch_a_bad_page(driver: Any) -> None:
    # Given a page with a 20 px button, a bare checkbox, a big label-wrapped one, a plain inline link, and an h2
    # larger than the h1
    page = ("<html lang=en><body><h1 style='font-size:20px'>Title</h1><h2 style='font-size:24px'>Louder</h2>"
            "<button id=tiny style='height:20px;width:100px'>Go</button><input type=checkbox id=bare>"
            "<label style='display:block;height:50px;width:200px'><input type=checkbox id=big> Fine</label>"
            "<p>Read <a href='#x'>this inline link</a> in a sentence.</p></body></html>")  # fmt: skip
    driver.get("data:text/html;charset=utf-8," + urllib.parse.quote(page))
    # Then each check reports exactly its fault
    small = small_targets(driver)
    assert [item.split(" ")[1] for item in small] == ["'tiny'", "'bare'", "'this"], small  # the inline link too
    assert heading_size_problems(driver) == ["<h2> 'Louder' is 24px, the h1 20px"]


def test_contrast_arithmetic_matches_wcag() -> None:
    black, white = (0.0, 0.0, 0.0), (255.0, 255.0, 255.0)
    assert round(contrast(black, white), 2) == 21.0
    assert round(contrast((119.0, 119.0, 119.0), white), 2) == 4.48  # #777: the classic just-too-pale grey
    assert blend((0.0, 0.0, 0.0, 0.5), white) == (127.5, 127.5, 127.5)
