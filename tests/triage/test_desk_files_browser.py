"""The safe view in real headless Chromium and Firefox ESR (JavaScript off), through the real desk server.

A request with a JPEG whose EXIF says where it was taken and a PDF, sealed as they arrive and imported
(tests/triage/file_cases.py). The caseworker opens the desk, the case, follows the "Safe view" link, and
sees the GPS warning and the photo rebuilt from its pixels: the picture the browser draws is read back from
a screenshot of the <img> (the photo is red). The PDF's pages (blue) are drawn the same way. Then a decompression
bomb's safe view gives its sentence and the desk still answers.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")

from PIL import Image
from selenium.webdriver.common.by import By

from tests.chromium import start_chromium
from tests.firefox import start_firefox
from tests.triage.desk_setup import desk_state
from tests.triage.file_cases import document_pdf, file_home, photo_with_gps, seal
from tests.triage.helpers import Triage
from tests.triage.test_desk_browser import _files_under, _holds
from tests.triage.test_desk_files import png_claiming
from triage.desk import create_app
from triage.desk.serve import RunningDesk, start
from triage.home import Home

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT = 90.0
BROWSERS: dict[str, Callable[[Path], Any]] = {
    "chromium": lambda profile: start_chromium(profile, window=(1366, 900)),
    "firefox": lambda profile: start_firefox(profile, window=(1366, 900)),
}


def _until(condition: Callable[[], bool], what: str) -> None:
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + WAIT
    while True:
        try:
            if condition():
                return
        except WebDriverException:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(params=sorted(BROWSERS))
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    browser = BROWSERS[request.param](tmp_path / f"profile-{request.param}")
    try:
        yield browser
    finally:
        browser.quit()


def _middle(element: Any) -> tuple[int, int, int]:
    """The colour the browser drew in the middle of ``element`` (of the part on screen)."""
    drawn = Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB")
    red, green, blue = drawn.getpixel((drawn.width // 2, drawn.height // 2))  # type: ignore[misc]
    return red, green, blue


def test_the_safe_view_shows_the_rebuilt_photo_and_the_gps_warning(driver: Any, triage: Triage,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    # Given a request with a photo that says where it was taken and a decompression bomb, a follow-up with a PDF
    # and a text file holding a canary
    started = time.time()
    photo = photo_with_gps((400, 300)) + CANARY.encode()  # after the JPEG's end: decoders ignore it, a disk keeps it
    bomb = png_claiming(100_000, 100_000)
    files = [seal("фото повестки.jpg", "image/jpeg", photo), seal("bomb.png", "image/png", bomb)]
    later = [seal("справка.pdf", "application/pdf", document_pdf(2, (30, 60, 200))),
             seal("notes.txt", "text/plain", f"{CANARY}\n".encode())]  # fmt: skip
    home = file_home(triage, tmp_path, files, later)
    state = desk_state(Home(triage.home))
    running: RunningDesk = start(create_app(state), state)
    try:
        driver.get(running.address)
        _until(lambda: "Queue" in driver.title or driver.find_elements(By.CSS_SELECTOR, "table"), "the queue")
        case_hex = next(h for h in _case_ids(home) if h.startswith(home.case_id))
        driver.get(f"{running.base}/case/{state.cases.token(case_hex)}")
        _until(lambda: bool(driver.find_elements(By.ID, "files")), "the case page's files")
        # When the caseworker follows the first file's "Safe view" link
        driver.find_elements(By.LINK_TEXT, "Safe view")[0].click()
        _until(lambda: bool(driver.find_elements(By.ID, "gps-warning")), "the safe view")
        # Then the GPS warning comes first and names the place
        warning = driver.find_element(By.ID, "gps-warning")
        assert "43.31, 45.69" in warning.text and "at risk" in warning.text
        assert "Samsung SM-A515F" in driver.find_element(By.ID, "metadata").text
        # And the browser draws the photo rebuilt from its pixels (red), served by the desk
        (picture,) = driver.find_elements(By.CSS_SELECTOR, "#pages img")
        assert "/picture/" in picture.get_attribute("src") and "фото" not in picture.get_attribute("src")
        _until(lambda: _middle(picture)[0] > 150, "the rebuilt photo drawn")
        red, green, blue = _middle(picture)
        assert red > 150 and green < 90 and blue < 90
        # The follow-up's PDF's pages are drawn too
        driver.back()
        _until(lambda: bool(driver.find_elements(By.ID, "files")), "the case page again")
        driver.find_elements(By.LINK_TEXT, "Safe view")[2].click()
        _until(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#pages img")) == 2, "the PDF's two pages")
        page = driver.find_elements(By.CSS_SELECTOR, "#pages img")[0]
        _until(lambda: _middle(page)[2] > 150 and _middle(page)[0] < 90, "a blue PDF page drawn")
        assert "Иван Петров" in driver.find_element(By.ID, "metadata").text
        # A decompression bomb gives a sentence, and the desk goes on
        driver.back()
        _until(lambda: bool(driver.find_elements(By.ID, "files")), "the case page again")
        driver.find_elements(By.LINK_TEXT, "Safe view")[1].click()
        _until(lambda: bool(driver.find_elements(By.ID, "refused")), "the refusal")
        assert "decompression bomb" in driver.find_element(By.ID, "refused").text
        # A text file shows its facts only: its words never reach the page
        driver.back()
        _until(lambda: bool(driver.find_elements(By.ID, "files")), "the case page again")
        driver.find_elements(By.LINK_TEXT, "Safe view")[3].click()
        _until(lambda: bool(driver.find_elements(By.ID, "refused")), "the text file's facts")
        assert CANARY not in driver.page_source
        driver.get(f"{running.base}/")
        _until(lambda: bool(driver.find_elements(By.CSS_SELECTOR, "table")), "the queue after a bomb")
    finally:
        running.stop()
    # No plaintext of any file was written: not in the home (blobs stay sealed), the browser profile, or any file
    # of the temporary folders made or changed since the test began.
    driver.quit()
    written = [p for p in _files_under(tmp_path) if _holds(p, CANARY)]
    for folder in {Path(tempfile.gettempdir()), Path("/dev/shm")}:
        written += [p for p in _files_under(folder) if _recent(p, started) and _holds(p, CANARY)]
    assert written == []


CANARY = "CANARY-files-5e2d-Канарейка-в-файле"


def _recent(path: Path, since: float) -> bool:
    try:
        stat = path.stat()
    except OSError:
        return False
    return stat.st_mtime >= since - 1 and stat.st_size < 64 * 1024 * 1024


def _case_ids(home: Any) -> list[str]:
    from tests.triage.helpers import PASSPHRASE, TEST_CONFIG
    from triage.operations import Session, unlock

    desk_home = Home(home.triage.home)
    identity = unlock(desk_home, PASSPHRASE, min_kdf=TEST_CONFIG.kdf)
    with Session.open(TEST_CONFIG, desk_home, identity) as session:
        return [stored.entry_id.hex() for stored in session.store.cases()]
