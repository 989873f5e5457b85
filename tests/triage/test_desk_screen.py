"""The desk's queue on a 1366×768 laptop screen (issue 19 item 10), in headless Chromium and Firefox ESR, no script.

30 cases with long reasons, aliases and stories, some possibly the same person and a burst: the table has no
sideways scroll and the first 20 rows are on the first screen, below the browser's own bars (a maximised
browser leaves about 658 of the 768 pixels to the page). Screenshots in both languages go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.chromium import start_chromium
from tests.triage.helpers import PASSPHRASE, TEST_CONFIG, Server, Triage, make_request
from tests.triage.test_groups import FLOOD
from triage.home import Home
from triage.operations import unlock
from triage.policy import load_policy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREEN = (1366, 768)
PAGE_HEIGHT = 658  # 768 less the tabs, the address bar and a taskbar
ROWS = 20


WORDS = ("брат", "муж", "отец", "дядя", "сосед", "полиция", "Грозный", "Гудермес", "Урус-Мартан", "Шали",
         "вчера", "ночью", "утром", "письмо", "звонок", "машина", "паспорт", "дети", "работа", "школа", "врач",
         "больница", "деньги", "билеты")  # fmt: skip


def story(i: int) -> str:
    """A long story of its own words (no two alike, or they would be folded as a burst)."""
    letters = "абвгдежзиклмнопрстуфхцчшщэюя"
    words = ["".join(letters[int(d)] for d in str((i * 131 + k * 17) ** 2 % 99991)) for k in range(50)]
    return WORDS[i] + ": " + " ".join(words)


def requests() -> list[dict[str, Any]]:
    found = []
    for i in range(12):
        found.append(make_request(danger="immediate", threat_from=["authorities", "family", "partner"],
                                  detention="recent", location="chechnya", people=6, children=4,
                                  health="Нужен инсулин каждый день, осталось на неделю", alias=f"Ахмед-Хаджи {i}",
                                  story=story(i) + " нас ищут, мы прячемся",
                                  contact=f"+7 900 000 10 {i:02d}"))  # fmt: skip
    for i in range(12):
        found.append(make_request(danger="serious", threat_from=["community"], location="russia_other",
                                  alias="Очень-очень длинное имя, которое человек написал целиком",
                                  story="Соседи угрожают, " + story(i + 12), contact=f"@handle{i}"))  # fmt: skip
    found.append(make_request(story="Я уже писала, это снова я", contact="+7 900 000 10 03", alias="А."))
    found += [make_request(story=FLOOD, contact=f"@flood{i}") for i in range(8)]
    return found


@pytest.fixture
def desk(triage: Triage, server: Server, tmp_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    from triage.desk import DeskState, create_app
    from triage.desk.serve import start

    alice = triage.keygen("Alice")
    triage.ok("import", server.bundle(tmp_path / "b", [server.entry(r, [alice]) for r in requests()]))
    state = DeskState(TEST_CONFIG, Home(triage.home), load_policy(None), lang="en", jobs=1)
    state.unlock_with(unlock(Home(triage.home), PASSPHRASE, min_kdf=TEST_CONFIG.kdf))
    running = start(create_app(state), state)
    driver = start_chromium(tmp_path / "profile", window=SCREEN)
    try:
        yield driver, running, state
    finally:
        driver.quit()
        running.stop()


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_twenty_rows_fit_a_1366_by_768_screen_without_sideways_scroll(desk: tuple[Any, Any, Any], lang: str) -> None:
    driver, running, state = desk
    state.lang = lang
    driver.get(running.address)
    driver.find_element(By.CSS_SELECTOR, "table.queue")
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"desk-queue-1366x768-{lang}.png"))
    width = driver.execute_script("return document.documentElement.scrollWidth")
    inner = driver.execute_script("return window.innerWidth")
    assert width <= inner, f"sideways scroll: {width} > {inner}"
    rows = driver.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
    assert len(rows) >= ROWS + 5
    bottom = driver.execute_script("return arguments[0].getBoundingClientRect().bottom", rows[ROWS - 1])
    assert bottom <= PAGE_HEIGHT, f"row {ROWS} ends at {bottom}px"
    for story in driver.find_elements(By.CSS_SELECTOR, "table.queue td.words a.cut")[:ROWS]:
        assert story.size["width"] >= 100, "a mark never squeezes the story out of its row"
    for cell in driver.find_elements(By.CSS_SELECTOR, "table.queue td"):
        overflow = driver.execute_script("return arguments[0].scrollWidth - arguments[0].clientWidth", cell)
        assert overflow <= 0 or cell.value_of_css_property("overflow-x") == "hidden"
    # The other reasons open without hover or script
    details = driver.find_element(By.CSS_SELECTOR, "td.why details")
    details.find_element(By.TAG_NAME, "summary").click()
    assert details.get_attribute("open") is not None
    driver.save_screenshot(str(ARTIFACTS / f"desk-queue-reasons-open-{lang}.png"))


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_case_page_marks_the_same_person_and_keeps_corrected_notes(desk: tuple[Any, Any, Any], lang: str) -> None:
    driver, running, state = desk
    state.lang = lang
    driver.get(running.address)
    marked = driver.find_element(By.XPATH, "//table[@class='queue']//span[@class='same']/ancestor::tr//td[1]/a")
    driver.get(marked.get_attribute("href"))
    related = driver.find_element(By.ID, "related")
    assert related.find_elements(By.TAG_NAME, "button"), "a way to link them as duplicates"
    driver.find_element(By.ID, "note").send_keys("звонить после 18:00")
    driver.find_element(By.ID, "save").click()
    WebDriverWait(driver, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#notes details summary"))
    driver.find_element(By.CSS_SELECTOR, "#notes details summary").click()
    box = driver.find_element(By.CSS_SELECTOR, "#notes details textarea")
    box.clear()
    box.send_keys("звонить после 20:00")
    box.find_element(By.XPATH, "ancestor::form").find_element(By.TAG_NAME, "button").click()
    WebDriverWait(driver, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#notes li.superseded"))
    notes = driver.find_element(By.ID, "notes")
    assert len(notes.find_elements(By.CSS_SELECTOR, "li.superseded")) == 1 and "20:00" in notes.text
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= driver.execute_script("return window.innerWidth")
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"desk-case-same-person-{lang}.png"))


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_queue_fits_the_same_screen_in_firefox_esr(
    triage: Triage, server: Server, tmp_path: Path, lang: str
) -> None:
    """Firefox ESR with Tor Browser's Safest preferences (no script even for the test: positions from WebDriver)."""
    from tests.firefox import start_firefox
    from triage.desk import DeskState, create_app
    from triage.desk.serve import start

    alice = triage.keygen("Alice")
    triage.ok("import", server.bundle(tmp_path / "b", [server.entry(r, [alice]) for r in requests()]))
    state = DeskState(TEST_CONFIG, Home(triage.home), load_policy(None), lang=lang, jobs=1)
    state.unlock_with(unlock(Home(triage.home), PASSPHRASE, min_kdf=TEST_CONFIG.kdf))
    running = start(create_app(state), state)
    driver = start_firefox(tmp_path / "profile", window=SCREEN)
    try:
        driver.get(running.address)
        table = driver.find_element(By.CSS_SELECTOR, "table.queue")
        page = driver.find_element(By.TAG_NAME, "html").rect
        assert table.rect["x"] + table.rect["width"] <= page["width"] + 1, (table.rect, page)
        rows = driver.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
        bottom = rows[ROWS - 1].rect["y"] + rows[ROWS - 1].rect["height"]
        assert bottom <= PAGE_HEIGHT, f"row {ROWS} ends at {bottom}px"
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"desk-queue-1366x768-firefox-{lang}.png"))
    finally:
        driver.quit()
        running.stop()
