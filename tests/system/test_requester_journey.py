"""Issue 19 items 1, 3, 4, 5 and 7 in real browsers with JavaScript off, on a phone-sized window: headless
Chromium, and Firefox ESR with Tor Browser's Safest preferences (tests/firefox.py).

- Nothing typed is lost: on both forms, every link but the quick exit is followed (and every button that leaves
  the page: the language switch, the short form's way to the full form), and the long story is still there.
- An error link puts its question below the sticky exit bar, never under it.
- At 200 % zoom on a phone the sticky bar covers at most a sixth of the screen.
- Every page this issue changed, in both languages and both browsers, is screenshotted into test-artifacts/
  (requester-<browser>-<lang>-<step>-<page>.png) and passes the accessibility checks of
  tests/system/accessibility.py, inline links included as 44 px tap targets.
"""

from __future__ import annotations

import datetime
import itertools
import re
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
from intake.instance import Instance
from tests.chromium import start_chromium
from tests.firefox import start_firefox
from tests.intake.conftest import make_app
from tests.intake.helpers import opened as open_stored
from tests.system.test_browser_journey import PHONE, Journey

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Long enough to hurt if lost, short enough to type on a loaded machine.
STORY = {
    "en": "They found my messages. My brother says the family will deal with me after the holiday.\n" * 12,
    "ru": "Меня ищут родственники. Брат сказал, что после праздника семья «разберётся» со мной.\n" * 12,
}
CONTACT = {"en": "@keep_me_safe", "ru": "@bezopasno_42"}
REPLY = {"en": "We have your request. Our code word is: chamomile.",
         "ru": "Мы получили вашу заявку. Условное слово: ромашка."}
OTHER = {"en": "ru", "ru": "en"}
FORM_PAGES = ("request", "urgent")
SEQUENCE = itertools.count(1)  # each return file of this module's server gets the next number


@pytest.fixture(scope="module")
def identity() -> crypto.Identity:
    return crypto.Identity.generate("Test caseworker")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, identity: crypto.Identity) -> Iterator[tuple[str, Flask]]:
    """The intake app (embedded SQLite) behind a real HTTP server on 127.0.0.1, in this process, so that a
    caseworker's reply can be put on it the one way replies arrive: a signed return file."""
    folder = tmp_path_factory.mktemp("requester")
    app = make_app(IntakeConfig(instance_dir=folder / "instance", default_locale="en"), identity)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["intake"].storage.dispose()


@pytest.fixture(params=["chromium", "firefox"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "chromium":
        browser = start_chromium(tmp_path / "profile", window=PHONE, performance_log=True)
        zoom_phone(browser, *PHONE, zoom=1)  # the window alone stays 500 px wide; a phone's page is 360 px
    else:
        browser = start_firefox(tmp_path / "profile", window=PHONE)
    browser.engine = request.param
    try:
        yield browser
    finally:
        browser.quit()


class RequesterJourney(Journey):
    def shot(self, name: str) -> Path:
        return self.artifacts / f"requester-{self.engine}-{self.lang}-{self.step:02d}-{name}"


def rect(driver: Any, element: Any) -> dict[str, float]:
    """The element's box in the viewport (WebDriver runs this itself: the page's JavaScript stays off)."""
    box = driver.execute_script("var r = arguments[0].getBoundingClientRect();"
                                "return {top: r.top, bottom: r.bottom, height: r.height};", element)  # fmt: skip
    return {key: float(value) for key, value in box.items()}


def zoom_phone(driver: Any, width: int, height: int, zoom: int = 2) -> None:
    """Chromium shows the page as a phone does: ``width`` x ``height`` CSS px (a 360 x 740 phone at 200 %
    shows 180 x 370)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": zoom, "mobile": True}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def viewport_height(driver: Any) -> float:
    return float(driver.execute_script("return window.innerHeight"))


def wait_for_new_page(driver: Any, old: Any) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    # ChromeDriver may answer 'node does not belong to the document' (not 'stale') when the page is replaced in
    # the middle of the check: that too is the page being replaced, so look again.
    WebDriverWait(driver, 90, ignored_exceptions=[WebDriverException]).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 90).until(lambda d: d.execute_script("return document.readyState") == "complete")


def click(driver: Any, element: Any) -> bool:
    """Click, and wait for the next page if the click leaves this one. True when it did.

    A link to a place on this page (``#...`` on the same address) and a disclosure's summary stay on the page.
    """
    from selenium.webdriver.common.by import By

    href = element.get_attribute("href") if element.tag_name.lower() == "a" else None
    here = driver.current_url.split("#", 1)[0]
    stays = element.tag_name.lower() == "summary" or (href is not None and href.split("#", 1)[0] == here
                                                       and "#" in href)  # fmt: skip
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    if stays:
        return False
    wait_for_new_page(driver, page)
    return True


def typed_story(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, "story").get_property("value")).replace("\r\n", "\n")


def fill_in(driver: Any, lang: str, page: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    find = driver.find_element
    if page == "request":
        find(By.ID, "danger-1").click()
    Select(find(By.ID, "people")).select_by_value("2")
    find(By.ID, "contact_method-1").click()
    find(By.ID, "contact").send_keys(CONTACT[lang])
    find(By.ID, "story").send_keys(STORY[lang])


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("page", FORM_PAGES)
def test_nothing_typed_is_lost_on_a_form_page(site: tuple[str, Flask], driver: Any, lang: str, page: str) -> None:
    from selenium.webdriver.common.by import By

    base, app = site
    find, finds = driver.find_element, driver.find_elements
    pending = app.extensions["intake"].storage.pending_count()
    # Given a person who typed a long story on the form
    driver.get(f"{base}/{lang}/{page}")
    fill_in(driver, lang, page)
    assert typed_story(driver) == STORY[lang]
    # Then no link on the page leaves it, but the quick exit
    leaving = [a.get_attribute("href") for a in finds(By.CSS_SELECTOR, "a[href]")
               if not a.get_attribute("href").endswith("/exit") and "#" not in a.get_attribute("href")]  # fmt: skip
    assert leaving == [], "a link that leaves the form loses the answers in Tor Browser"
    # When they read how the request is protected (beside the consent box, on the page itself)
    summary = find(By.CSS_SELECTOR, "details.how summary")
    click(driver, summary)
    assert find(By.CSS_SELECTOR, "details.how ul").is_displayed(), "the explanation does not open without script"
    # And send it without ticking the consent box: the form comes back with its errors, each a link
    click(driver, find(By.CSS_SELECTOR, "form button[type=submit]"))
    assert finds(By.CSS_SELECTOR, "#problems a[href]") and typed_story(driver) == STORY[lang]
    # And follow every link there is but the exit (places on this page), coming back with Back if one leaves
    for number in range(len(finds(By.CSS_SELECTOR, "a[href]"))):
        link = finds(By.CSS_SELECTOR, "a[href]")[number]
        href = link.get_attribute("href")
        if href.endswith("/exit") or not link.is_displayed():
            continue
        if click(driver, link):
            page = find(By.TAG_NAME, "html")
            driver.back()
            wait_for_new_page(driver, page)
        assert typed_story(driver) == STORY[lang], f"following {href} lost the story"
    # And switch the language, and back: the answers come along both ways
    for code in (OTHER[lang], lang):
        click(driver, find(By.CSS_SELECTOR, f"button.lang[value='{code}']"))
        assert find(By.TAG_NAME, "html").get_attribute("lang") == code
        assert typed_story(driver) == STORY[lang] and find(By.ID, "contact").get_property("value") == CONTACT[lang]
    # And on the short form, the way to the full form keeps them too
    if page == "urgent":
        click(driver, find(By.CSS_SELECTOR, "button.link[name=relang]"))
        assert driver.current_url.endswith(f"/{lang}/request") and typed_story(driver) == STORY[lang]
        assert find(By.ID, "danger-0").is_selected(), "the short form's 'in danger now' is kept"
    # And nothing was sent on the way
    assert app.extensions["intake"].storage.pending_count() == pending


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_an_error_link_puts_its_question_below_the_exit_bar(site: tuple[str, Flask], driver: Any, lang: str) -> None:
    from selenium.webdriver.common.by import By

    base, _app = site
    find = driver.find_element
    sizes = [("phone", None)] + ([("200% zoom", (180, 370))] if driver.engine == "chromium" else [])
    for name, zoomed in sizes:
        if zoomed:
            zoom_phone(driver, *zoomed)
        # Given a form sent empty: every required question listed at the top, each with a link
        for page, required in (("request", 6), ("urgent", 4)):
            driver.get(f"{base}/{lang}/{page}")
            click(driver, find(By.CSS_SELECTOR, "form button[type=submit]"))
            links = driver.find_elements(By.CSS_SELECTOR, "#problems li a")
            targets = [a.get_attribute("href").split("#", 1)[1] for a in links]
            assert len(targets) == required, targets
            check_targets(driver, targets, f"{driver.engine}/{lang}/{page}/{name}")
        if zoomed:
            zoom_phone(driver, *PHONE, zoom=1)


def check_targets(driver: Any, targets: list[str], where: str) -> None:
    from selenium.webdriver.common.by import By

    find = driver.find_element
    for target in targets:
        # When the person follows the link
        link = find(By.CSS_SELECTOR, f"#problems a[href$='#{target}']")
        driver.execute_script("window.scrollTo(0, 0)")
        link.click()
        # Then the whole question (its text, hint, error and control) is below the sticky exit bar
        bar = rect(driver, find(By.TAG_NAME, "header"))
        box = rect(driver, find(By.ID, target))
        assert box["top"] >= bar["bottom"] - 0.5, f"{where} #{target} starts under the exit bar ({box} vs {bar})"
        assert box["top"] < viewport_height(driver), f"{where} #{target} is not on the screen"


def test_at_200_percent_zoom_the_exit_bar_covers_at_most_a_sixth_of_the_screen(site: tuple[str, Flask],
                                                                               driver: Any) -> None:  # fmt: skip
    """Chromium shows a 360 x 740 phone at 200 % (180 x 370 CSS px); Firefox cannot make its window narrower
    than 500 CSS px (tests/firefox.py), so it is checked as a short window of a zoomed phone's height."""
    from selenium.webdriver.common.by import By

    base, _app = site
    if driver.engine == "chromium":
        zoom_phone(driver, 180, 370)
    else:
        driver.set_window_size(500, 370 + 85)  # the window's own chrome takes some of it; measured below
    measured = []
    for lang in ("en", "ru"):
        for page in ("", "request", "urgent", "status", "no-such-page"):
            driver.get(f"{base}/{lang}/{page}")
            height, screen = rect(driver, driver.find_element(By.TAG_NAME, "header"))["height"], viewport_height(driver)
            width = float(driver.execute_script("return document.documentElement.scrollWidth"))
            measured.append((lang, page, height, screen))
            assert height <= screen / 6, f"{driver.engine} /{lang}/{page}: the bar is {height} of {screen} px"
            if driver.engine == "chromium":
                assert width <= 180.5, f"/{lang}/{page} is {width} px wide: it scrolls sideways at 200 %"
                assert screen <= 371, f"/{lang}/{page} was zoomed out to fit ({screen} px high)"
    assert all(screen <= 420 for *_, screen in measured), measured


def add_reply(app: Flask, identity: crypto.Identity, contact: str, text: str, day: datetime.date) -> None:
    """What `triage reply` + `triage ack` + `intake apply-ack` do, in one step, for the request with ``contact``."""
    storage = app.extensions["intake"].storage
    opened = [open_stored(e, identity) for _, e in storage.envelope_bytes()]
    [request] = [p for p in opened if p.get("contact") == contact]
    public = crypto.ReplyPublicKey.from_b64(str(request["reply_key"]))
    reply = crypto.AckReply(crypto.mailbox_id(public), crypto.seal_reply(text, written_on=day, seq=next(SEQUENCE),
                                                                        to=public))  # fmt: skip
    server_key = Instance(app.extensions["intake"].config).server_key()
    today = datetime.date.today()
    ack = crypto.make_ack([], identity=identity, server=server_key.public, bundle_sequence=next(SEQUENCE),
                          created_on=today, replies=[reply])  # fmt: skip
    storage.apply_ack(ack, server_key, today)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_changed_pages_in_both_languages(site: tuple[str, Flask], driver: Any, artifacts: Path,
                                             identity: crypto.Identity, lang: str) -> None:  # fmt: skip
    from selenium.webdriver.common.by import By

    base, app = site
    find = driver.find_element
    journey = RequesterJourney(driver, lang, artifacts)
    contact = f"{CONTACT[lang]}_{driver.engine}"
    # The landing page, both forms (the explanation beside the consent box open), the form's errors
    driver.get(f"{base}/{lang}/")
    journey.check_page("landing")
    for page in FORM_PAGES:
        driver.get(f"{base}/{lang}/{page}")
        click(driver, find(By.CSS_SELECTOR, "details.how summary"))
        journey.check_page(f"{page}-how-protected")
    click(driver, find(By.CSS_SELECTOR, "form button[type=submit]"))
    journey.check_page("urgent-errors")
    driver.get(f"{base}/{lang}/request")
    click(driver, find(By.CSS_SELECTOR, "form button[type=submit]"))
    journey.check_page("request-errors")
    # The receipt: three groups of ten digits, and what it opens
    driver.get(f"{base}/{lang}/urgent")
    fill_in(driver, lang, "urgent")
    find(By.ID, "contact").clear()
    find(By.ID, "contact").send_keys(contact)
    find(By.ID, "consent").click()
    click(driver, find(By.CSS_SELECTOR, "form button[type=submit]"))
    receipt = str(find(By.ID, "receipt").text)
    assert re.fullmatch(r"\d{10}\s+\d{10}\s+\d{10}", receipt), receipt
    journey.check_page("receipt")
    # The status page, the receipt typed in other groups than shown (six of five, with dashes)
    click(driver, find(By.CSS_SELECTOR, f"main a[href$='/{lang}/status']"))
    journey.check_page("status")
    digits = re.sub(r"\s", "", receipt)
    find(By.ID, "receipt").send_keys("-".join(digits[i : i + 5] for i in range(0, 30, 5)))
    click(driver, find(By.CSS_SELECTOR, "form button[type=submit]"))
    assert find(By.ID, "who-writes").text.strip()
    journey.check_page("status-no-messages")
    # A message half-written survives the language switch, both ways; no link leaves the page but the exit
    assert [a for a in driver.find_elements(By.CSS_SELECTOR, "a[href]") if "/exit" not in a.get_attribute("href")
            and "#" not in a.get_attribute("href")] == []  # fmt: skip
    half = STORY[lang][:300]
    find(By.ID, "message").send_keys(half)
    for code in (OTHER[lang], lang):
        click(driver, find(By.CSS_SELECTOR, f"button.lang[value='{code}']"))
        assert str(find(By.ID, "message").get_property("value")).replace("\r\n", "\n") == half, code
    find(By.ID, "message").clear()
    # An empty follow-up: its error at the top, its link leading to the field below the exit bar
    click(driver, find(By.CSS_SELECTOR, "#conversation form button[type=submit]"))
    assert find(By.CSS_SELECTOR, "#problems a[href$='#message-field']").is_displayed()
    journey.check_page("status-message-error")
    find(By.CSS_SELECTOR, "#problems a").click()
    bar = rect(driver, find(By.TAG_NAME, "header"))
    assert rect(driver, find(By.ID, "message-field"))["top"] >= bar["bottom"] - 0.5, "the field is under the exit bar"
    # A reply, dated in words; deleting it asks once and reminds of the code word; then "no new messages"
    add_reply(app, identity, contact, REPLY[lang], datetime.date(2026, 12, 1))
    driver.get(f"{base}/{lang}/status")
    find(By.ID, "receipt").send_keys(digits)
    click(driver, find(By.CSS_SELECTOR, "form button[type=submit]"))
    assert REPLY[lang] in find(By.ID, "conversation").text
    assert {"en": "1 December", "ru": "1 декабря"}[lang] in find(By.ID, "conversation").text
    journey.check_page("status-reply")
    click(driver, find(By.CSS_SELECTOR, "#conversation article form button"))
    assert find(By.ID, "keep-code-word").text.strip() and REPLY[lang] in find(By.ID, "reply-to-delete").text
    journey.check_page("delete-confirm")
    click(driver, find(By.CSS_SELECTOR, "button.quiet"))  # "No, keep it"
    assert REPLY[lang] in find(By.ID, "conversation").text
    click(driver, find(By.CSS_SELECTOR, "#conversation article form button"))
    click(driver, find(By.CSS_SELECTOR, "main form button.button:not(.quiet)"))  # "Yes, delete it"
    assert find(By.ID, "deleted").text.strip() and REPLY[lang] not in find(By.TAG_NAME, "body").text
    assert find(By.ID, "no-replies").text.strip() == {"en": "No new messages.", "ru": "Новых сообщений нет."}[lang]
    journey.check_page("after-delete")
    # And every page passed the accessibility checks, inline links and the summary as 44 px targets
    assert journey.problems == [], "\n".join(journey.problems)
