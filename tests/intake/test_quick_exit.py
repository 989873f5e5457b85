"""Issue 12 item 1: after the quick exit, Back brings nothing typed back, in Chromium and in Firefox ESR with
Tor Browser's Safest preferences, both with JavaScript off.

A person types a story and a Telegram handle, chooses answers, presses the exit, lands on an ordinary site
(a stand-in served on another port), and presses Back. Whatever Back shows (the browser's back/forward
cache, a reload with form restoration, or our page fetched anew) must hold none of it. What each browser
showed is written to test-artifacts/quick-exit-back-<browser>.txt for the record.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import crypto
from intake.config import IntakeConfig
from intake.devserver import QuietHandler
from tests.chromium import start_chromium
from tests.firefox import start_firefox
from tests.intake.conftest import make_app

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
STORY = "Меня ищут родственники, я прячусь у подруги. quickexit-canary-story"
CONTACT = "@quickexit_canary_handle"
PHONE = (360, 740)
STARTERS: dict[str, Callable[..., Any]] = {"chromium": start_chromium, "firefox": start_firefox}


@Request.application  # type: ignore[arg-type]
def ordinary_site(request: Request) -> Response:
    return Response("<!doctype html><title>Погода</title><h1>Погода в Москве</h1><p>Ясно, +3</p>",
                    content_type="text/html; charset=utf-8")  # fmt: skip


def _serve(app: Any) -> tuple[Any, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def served(tmp_path: Path, identity: crypto.Identity) -> Iterator[tuple[str, str, Flask]]:
    weather, weather_thread = _serve(ordinary_site)
    exit_url = f"http://127.0.0.1:{weather.server_port}/pogoda"
    config = IntakeConfig(instance_dir=tmp_path / "instance", default_locale="ru", exit_url=exit_url)
    app = make_app(config, identity)
    server, thread = _serve(app)
    try:
        yield f"http://127.0.0.1:{server.server_port}", exit_url, app
    finally:
        for running, worker in ((server, thread), (weather, weather_thread)):
            running.shutdown()
            worker.join(timeout=10)
        app.extensions["intake"].storage.dispose()


@pytest.fixture(params=sorted(STARTERS))
def browser(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    driver = STARTERS[request.param](tmp_path / "profile", window=PHONE)
    try:
        yield request.param, driver
    finally:
        driver.quit()


def wait_for(driver: Any, condition: Callable[[Any], bool]) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 90).until(condition)


def settled(driver: Any) -> bool:
    """The page Back led to has loaded (a browser's own error page, such as Firefox's "Document Expired", counts)."""
    from selenium.common.exceptions import WebDriverException

    try:
        state = driver.execute_script("return [document.readyState, document.documentURI]")
    except WebDriverException:
        return False
    return bool(state[0] == "complete" or str(state[1]).startswith("about:"))


def _alive(element: Any) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.tag_name  # noqa: B018 - any call tells whether the page still holds it
    except StaleElementReferenceException:
        return False
    except WebDriverException as error:
        # Chromium, asked while the next page replaces this one: the element's document is gone
        if "does not belong to the document" in str(error):
            return False
        raise
    return True


def what_back_shows(driver: Any) -> dict[str, Any]:
    """Everything of the person's that the page Back landed on still holds, read through WebDriver."""
    from selenium.webdriver.common.by import By

    def values(css: str) -> list[str]:
        return [str(e.get_property("value") or "") for e in driver.find_elements(By.CSS_SELECTOR, css)]

    checked = [str(e.get_attribute("id")) for e in driver.find_elements(By.CSS_SELECTOR, "input:checked")]
    selected = [str(e.get_property("value")) for e in driver.find_elements(By.CSS_SELECTOR, "select option:checked")]
    return {"url": driver.current_url, "document": driver.execute_script("return document.documentURI")[:40],
            "title": driver.title, "story": values("#story"), "contact": values("#contact"),
            "checked": checked, "selected": selected,
            "canary_in_source": "quickexit-canary" in driver.page_source}  # fmt: skip


@pytest.mark.parametrize("sent", [False, True], ids=["typed", "sent-with-an-error"])
def test_back_after_the_quick_exit_brings_nothing_back(served: tuple[str, str, Flask], browser: tuple[str, Any],
                                                       sent: bool) -> None:  # fmt: skip
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, exit_url, _app = served
    name, driver = browser
    # Given a person who opened the form from the first page and filled it in, JavaScript off
    driver.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert driver.title == "off", "JavaScript is not off"
    driver.get(f"{base}/ru/")
    driver.get(f"{base}/ru/request")
    driver.find_element(By.ID, "danger-0").click()
    Select(driver.find_element(By.ID, "people")).select_by_value("2")
    driver.find_element(By.ID, "contact_method-1").click()
    driver.find_element(By.ID, "contact").send_keys(CONTACT)
    driver.find_element(By.ID, "story").send_keys(STORY)
    if sent:  # the page Back returns to is then the answer to a POST, answers and all (consent is missing)
        page = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(driver, lambda d: not _alive(page) and d.find_elements(By.ID, "problems"))
    typed = what_back_shows(driver)
    assert typed["story"] == [STORY] and typed["contact"] == [CONTACT], "the form was not filled in"
    # When they press the quick exit and land on the ordinary site
    driver.find_element(By.CSS_SELECTOR, "a.exit").click()
    wait_for(driver, lambda d: d.current_url.startswith(exit_url) and "Погода" in d.title)
    # And press Back
    try:
        driver.back()
    except WebDriverException as error:
        # Firefox's "Document Expired" page for a POST answer that is no longer cached: nothing shown
        if "e=notCached" not in str(error):
            raise
    wait_for(driver, lambda d: not d.current_url.startswith(exit_url))
    wait_for(driver, settled)
    shown = what_back_shows(driver)
    ARTIFACTS.mkdir(exist_ok=True)
    name = f"{name}-{'sent' if sent else 'typed'}"
    (ARTIFACTS / f"quick-exit-back-{name}.txt").write_text(json.dumps({"before_exit": typed, "after_back": shown},
                                                                      ensure_ascii=False, indent=1))  # fmt: skip
    driver.save_screenshot(str(ARTIFACTS / f"quick-exit-back-{name}.png"))
    # Then nothing typed or chosen came back
    assert shown["story"] in ([], [""]) and shown["contact"] in ([], [""]), shown
    assert shown["checked"] == [] and not shown["canary_in_source"], shown
    assert set(shown["selected"]) <= {""}, shown
