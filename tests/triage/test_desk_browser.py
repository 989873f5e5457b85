"""A caseworker's morning in the desk, in a real headless Chromium (JavaScript off), against a real server side.

People ask for help through intake's form -> the operator exports a bundle onto a "USB stick" folder ->
the caseworker unlocks the desk, imports the bundle from the folder (typing the server fingerprint),
reads the queue in priority order, opens the most urgent case, sets a status, adds a note, replies to
the person, switches to Russian, writes the return file onto the stick -> `intake apply-ack` accepts
it, the server forgets, and the person reads the reply on the status page. Screenshots of the queue and a
case page in both languages go to test-artifacts/. A canary request's text is then looked for in every
file the desk or the browser could have written (home, stick, temp folder, the browser profile), and so is
the passphrase typed into the unlock page.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")
need_module("flask_wtf")

from selenium.webdriver.common.by import By

from intake.app import create_app as create_intake
from tests.chromium import start_chromium
from tests.intake.helpers import receipt_of, submit
from tests.roundtrip.test_conversation_roundtrip import status_page
from tests.roundtrip.test_roundtrip import EXPECTED_ORDER, REQUESTS, Operator, collected, laptop
from tests.triage.helpers import PASSPHRASE
from triage.desk import DeskState, create_app
from triage.desk.serve import RunningDesk, start
from triage.home import Home
from triage.policy import load_policy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
LAPTOP_SCREEN = (1366, 900)
CANARY = "CANARY-desk-4b1d-Канарейка-во-флешке"
REPLY = "We read your request. Write to us here when it is safe."


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    browser = start_chromium(tmp_path / "profile", window=LAPTOP_SCREEN, performance_log=True)
    try:
        yield browser
    finally:
        browser.quit()


def _files_under(folder: Path) -> Iterator[Path]:
    # os.walk skips folders that vanish while it walks (other processes' temp folders); rglob raises.
    for root, _dirs, files in os.walk(folder, onerror=lambda _error: None):
        for name in files:
            path = Path(root, name)
            if not path.is_symlink() and path.is_file():
                yield path


def _holds(path: Path, needle: str) -> bool:
    try:
        data = path.read_bytes()
    except OSError:  # another process's temp file, gone or not ours to read: not written by the desk
        return False
    return any(
        form in data for form in (needle.encode("utf-8"), needle.encode("utf-16-le"), needle.encode("utf-16-be"))
    )


def _after(driver: Any, click: Any, *, text: str) -> None:
    """Click, then wait until the next page holds ``text`` (a form post returns before the page has loaded)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old_page = driver.find_element(By.TAG_NAME, "html")
    click.click()
    # A stale element, or ChromeDriver's 'node does not belong to the document' when the page is replaced in
    # the middle of a check: both mean the page is being replaced, so look again (a loaded CI machine: 90 s).
    wait = WebDriverWait(driver, 90, ignored_exceptions=(WebDriverException,))
    wait.until(expected_conditions.staleness_of(old_page))
    wait.until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)


def _stories(driver: Any) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.queue td.words a")]


def _shot(driver: Any, name: str) -> None:
    """The whole page (the window grown to its height for the shot), as a reviewer would scroll it."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.find_element(By.TAG_NAME, "html").size["height"]
    driver.set_window_size(LAPTOP_SCREEN[0], max(LAPTOP_SCREEN[1], int(height) + 140))
    driver.save_screenshot(str(ARTIFACTS / f"desk-{name}.png"))
    driver.set_window_size(*LAPTOP_SCREEN)


def _origins(driver: Any) -> set[str]:
    seen = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            parts = urllib.parse.urlsplit(url)
            if parts.scheme in ("http", "https"):
                seen.add(f"{parts.scheme}://{parts.netloc}")
    return seen


def test_a_morning_in_the_desk(tmp_path: Path, driver: Any, capfd: pytest.CaptureFixture[str]) -> None:
    # Given a server with Alice registered, five requests (one carrying a canary), exported onto the stick
    operator = Operator(tmp_path / "instance")
    fingerprint = operator.intake("init").split()[-1]
    alice = laptop(tmp_path, "alice")
    alice.keygen("Alice")
    operator.intake("recipients", "add", alice.home / "Alice.pub")
    intake = create_intake(operator.config)
    client = intake.test_client()
    receipts = {}
    for story, fields in REQUESTS.items():
        text = f"{story}\n{CANARY}" if story.startswith("R3") else story
        receipts[story] = receipt_of(submit(client, story=text, **fields))
    usb = tmp_path / "usb"
    usb.mkdir()
    operator.export(usb / "export-1.bundle")
    temp_before = set(_files_under(Path(tempfile.gettempdir())))

    # And the desk running, locked, on a random loopback port
    state = DeskState(alice.config, Home(alice.home), load_policy(None), lang="en", jobs=1)
    running: RunningDesk = start(create_app(state), state)
    try:
        # When the caseworker opens the desk's one-time address and unlocks with the passphrase
        code = state.secret
        driver.get(running.address)
        assert driver.current_url.endswith("/unlock")
        driver.find_element(By.ID, "passphrase").send_keys(PASSPHRASE)
        _after(driver, driver.find_element(By.ID, "unlock"), text="No cases yet")
        assert PASSPHRASE not in driver.page_source

        # And imports the bundle from the stick's folder
        driver.get(f"{running.base}/usb")
        driver.find_element(By.ID, "folder").send_keys(str(usb))
        _after(driver, driver.find_element(By.ID, "look"), text="export-1.bundle")
        # (the first import asks for the server fingerprint the operator reads out)
        driver.find_element(By.ID, "fingerprint").send_keys(fingerprint)
        _after(driver, driver.find_element(By.CSS_SELECTOR, "button[name=file][value='export-1.bundle']"), text="new")
        summary = driver.find_element(By.ID, "summary").text
        assert "5 new cases" in summary and "0 rejected" in summary
        assert "first import" in driver.page_source

        # Then the queue shows the most urgent first
        _after(driver, driver.find_element(By.ID, "to-queue"), text="R1 calm")
        assert _stories(driver) == EXPECTED_ORDER
        assert "5 cases" in driver.page_source
        # 20+ cases fit a laptop screen: one line per case
        row = driver.find_element(By.CSS_SELECTOR, "table.queue tbody tr")
        assert row.location["y"] + 20 * row.size["height"] <= LAPTOP_SCREEN[1], (row.location, row.size)
        _shot(driver, "queue-en")

        # When the caseworker opens the top case, sets a status and adds a note
        _after(driver, driver.find_element(By.CSS_SELECTOR, "table.queue td.words a"), text="Why this level")
        assert "In danger now, or within days" in driver.page_source
        driver.find_element(By.CSS_SELECTOR, "#status option[value=contacted]").click()
        driver.find_element(By.ID, "note").send_keys("Called back on Signal; safe to talk after 20:00.")
        _after(driver, driver.find_element(By.ID, "save"), text="Saved.")
        assert "Saved." in driver.page_source
        assert "Called back on Signal" in driver.page_source and "Alice set the status to" in driver.page_source
        case_url = driver.current_url
        # And writes back to the person (sealed here, to their receipt's key)
        driver.find_element(By.ID, "reply-text").send_keys(REPLY)
        _after(driver, driver.find_element(By.ID, "send-reply"), text="queued")
        _shot(driver, "case-en")

        # And reads it all in Russian
        _after(driver, driver.find_element(By.CSS_SELECTOR, "button[name=lang][value=ru]"), text="Почему")
        assert "Мне грозит опасность сейчас или в ближайшие дни" in driver.page_source
        assert "на связи" in driver.page_source  # the status, in the one form statuses take (GLOSSARY.md)
        _shot(driver, "case-ru")
        driver.get(f"{running.base}/")
        assert "5 обращений" in driver.page_source and "экстренный" in driver.page_source
        assert _stories(driver) == EXPECTED_ORDER
        _shot(driver, "queue-ru")
        assert json.loads(alice.ok("list", "--json").stdout)[0]["status"] == "contacted"

        # And writes the return file onto the stick
        driver.get(f"{running.base}/usb?folder={urllib.parse.quote(str(usb))}")
        _after(driver, driver.find_element(By.ID, "write-return"), text="подтверждает")
        assert "подтверждает 5 конвертов" in driver.find_element(By.ID, "returned").text
        returned = next(usb.glob("ack-*.eva"))
        # Then the server accepts it and forgets the five requests
        assert "deleted 5 envelope(s)" in operator.apply(returned)
        assert all(collected(client, receipts[s]) for s in REQUESTS)
        assert REPLY in status_page(client, receipts[EXPECTED_ORDER[0]], lang="en")  # the person reads the reply

        # After the lock, the case page shows nothing of the case
        _after(driver, driver.find_element(By.ID, "lock"), text="Разблокировать")
        driver.get(case_url)
        assert driver.current_url.endswith("/unlock") and CANARY not in driver.page_source
        assert _origins(driver) == {running.origin}  # nothing from, or to, any other origin
    finally:
        running.stop()
        intake.extensions["intake"].storage.dispose()

    # The canary was never written to disk by the desk or the browser, and nothing was logged
    out, err = capfd.readouterr()
    assert code not in out + err and state.prefix not in out + err and CANARY not in out + err
    written = [*_files_under(alice.home), *_files_under(usb), *_files_under(tmp_path / "profile")]
    written += [p for p in _files_under(Path(tempfile.gettempdir())) if p not in temp_before and p.exists()]
    assert written, "the scan found no files at all"
    assert [str(p) for p in written if _holds(p, CANARY)] == []
    # nor the passphrase typed into the unlock page (no password manager, no form autofill). Not the shared temp
    # folder: other tests on this machine write the same test passphrase there in their own files.
    browser_and_laptop = [*_files_under(alice.home), *_files_under(usb), *_files_under(tmp_path / "profile")]
    assert [str(p) for p in browser_and_laptop if _holds(p, PASSPHRASE)] == []
    assert any(p.name == "cases.sqlite3" for p in written) and os.path.getsize(alice.home / "cases.sqlite3") > 0
