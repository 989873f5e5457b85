"""The desk against the pages of another loopback port, and what a search leaves in the browser profile.

Real headless Chromium and Firefox ESR (JavaScript off, as the caseworker's browser may be). Two loopback
ports are one *site* to a browser, and browsers do not scope cookies by port; so a page served by any
other program on this laptop is where an attack on the desk comes from. That page here knows even the
desk's random prefix and a case's address (the worst case: both leaked), and tries what works without
script: images and a frame pointing at the desk, a meta refresh that reloads it every second, and a
meta refresh that navigates the whole tab to the desk.

Then the caseworker searches for a contact handle in Chromium, opens the case, closes the browser, and
every file of the profile is searched for the handle and the case's words; the one-time code that the
profile's history holds is tried against the desk.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")

from selenium.webdriver.common.by import By

from tests.chromium import start_chromium
from tests.firefox import start_firefox
from tests.triage.desk_setup import BROWSER_HEADERS, CANARY, desk_state, load_home
from tests.triage.helpers import PASSPHRASE, Server, Triage
from tests.triage.test_desk_browser import _after, _files_under, _holds
from triage.desk import create_app
from triage.desk.launch import LaunchFile
from triage.desk.serve import RunningDesk, start

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HANDLE = "canary_contact"  # the contact handle of one sample request (desk_setup.sample_requests)
CASE_WORDS = "Задержали в прошлом месяце"  # that request's story
WAIT = 90.0  # seconds: a loaded CI machine


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition``; a page being replaced while it looks (no body yet, a stale node) means: look again."""
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


class Attacker:
    """Another program's web server on this laptop: it serves the pages and records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.pages: dict[str, str] = {}  # set once the desk's addresses are known
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                body = outer.pages.get(self.path.split("?")[0], "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p.split("?")[0] == path)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _record_requests(app: Any) -> list[tuple[str, str | None, str | None, int]]:
    """(path, Sec-Fetch-Site, Sec-Fetch-Dest, status) of every request the desk answers."""
    seen: list[tuple[str, str | None, str | None, int]] = []
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        path, site, dest = environ.get("PATH_INFO", ""), environ.get("HTTP_SEC_FETCH_SITE"), environ.get(
            "HTTP_SEC_FETCH_DEST"
        )  # fmt: skip

        def respond(status: str, headers: Any, exc_info: Any = None) -> Any:
            seen.append((path, site, dest, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return inner(environ, respond)

    app.wsgi_app = recording
    return seen


@pytest.fixture
def home(tmp_path: Path, passphrase_file: Path) -> Any:
    return load_home(Triage(tmp_path / "home", passphrase_file), Server(), tmp_path)


BROWSERS = {
    "chromium": lambda profile: start_chromium(profile, window=(1366, 900)),
    "firefox": lambda profile: start_firefox(profile, window=(1366, 900)),
}


@pytest.fixture(params=sorted(BROWSERS))
def browser(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    driver = BROWSERS[request.param](tmp_path / f"profile-{request.param}")
    try:
        yield driver
    finally:
        driver.quit()


def _open_through_the_launch_file(driver: Any, running: RunningDesk) -> LaunchFile:
    """As `triage desk` does: a 0600 file whose meta refresh carries the one-time address."""
    launch = LaunchFile(running.address)
    running.state.on_code_used = launch.remove
    driver.get(launch.uri)
    _until(lambda: "Нас ищут" in driver.find_element(By.TAG_NAME, "body").text, "the queue after the launch file")
    assert not launch.path.exists() and running.state.secret == ""  # the code is spent, the file gone
    return launch


def test_a_page_on_another_port_gets_nothing_and_does_not_delay_the_lock(browser: Any, home: Any) -> None:
    # Given the desk, opened by the caseworker through its launch file, locking after 60 s without use
    clock = Clock()
    state = desk_state(home.home, clock=clock, idle_seconds=60)
    app = create_app(state)
    seen = _record_requests(app)
    running = start(app, state)
    case_address = f"{running.base}/case/{state.cases.token(home.entries[3].entry_id.hex())}"
    attacker = Attacker()
    try:
        _open_through_the_launch_file(browser, running)
        cookie = state.session  # what the browser's cookie holds (geckodriver lists no private-window cookies)
        used_at = state.last_seen

        # When a page on another loopback port that knows the desk's addresses keeps pointing at the desk
        probes = [f"{running.base}/", case_address, f"{running.origin}/", f"{running.base}/usb"]
        attacker_page = (
            '<!doctype html><meta http-equiv="refresh" content="1"><title>elsewhere</title>'
            + "".join(f'<img src="{url}" alt="">' for url in probes)
            + f'<iframe src="{running.base}/"></iframe><link rel="prefetch" href="{running.base}/">'
        )
        navigate_page = f'<!doctype html><meta http-equiv="refresh" content="0; url={case_address}"><title>go</title>'
        attacker.pages = {"/": attacker_page, "/go": navigate_page}
        clock.now += 30
        mark = len(seen)
        browser.get(f"{attacker.origin}/")
        _until(lambda: attacker.hits("/") >= 3, "the attacker page to reload itself three times")
        _until(lambda: len(seen[mark:]) >= 6, "the other page's requests at the desk")
        # Then every one of those requests was refused, and none counted as use
        from_elsewhere = seen[mark:]
        assert from_elsewhere and all(status in (403, 404, 428) for *_, status in from_elsewhere), from_elsewhere
        assert state.last_seen == used_at

        # When the page navigates the whole tab to a case of the desk
        browser.get(f"{attacker.origin}/go")
        _until(lambda: browser.current_url.startswith(running.base), "the tab to arrive at the desk")
        _until(lambda: "Refused" in browser.find_element(By.TAG_NAME, "body").text, "the desk's refusal")
        # Then it gets the refusal, no word of the case, and the desk's idle time still runs
        assert CASE_WORDS not in browser.page_source and CANARY not in browser.page_source
        assert state.last_seen == used_at
        # And the other port's server never received the desk's cookie, the prefix or a word of a case
        for path, headers in attacker.requests:
            assert cookie not in str(headers) and "triage_desk" not in headers.get("cookie", ""), (path, headers)
            assert state.prefix not in headers.get("referer", "")

        # And a plain HTTP client holding the cookie gets nothing: not without the prefix, not without a
        # browser's Fetch Metadata, not as another site's request
        attempts = [
            (f"{running.origin}/", {}),
            (f"{running.base}/", {}),
            (f"{running.base}/", {**BROWSER_HEADERS, "Sec-Fetch-Site": "same-site"}),
            (case_address, {**BROWSER_HEADERS, "Sec-Fetch-Site": "cross-site"}),
            (case_address, {**BROWSER_HEADERS, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "image"}),
        ]
        for address, headers in attempts:
            request = urllib.request.Request(address, headers={**headers, "Cookie": f"triage_desk={cookie}"})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            body = refused.value.read().decode()
            assert refused.value.code in (403, 404, 428) and CASE_WORDS not in body and "Нас ищут" not in body
        assert state.last_seen == used_at

        # When the caseworker comes back after the idle time (counted from their own last request)
        clock.now = used_at + 61
        browser.get(f"{running.base}/")
        # Then the desk has locked, whatever the other page did meanwhile
        assert browser.current_url.endswith("/unlock") and state.locked
        assert "Нас ищут" not in browser.page_source
        # And the passphrase opens it again (a form POST of the desk's own page, in this browser too)
        browser.find_element(By.ID, "passphrase").send_keys(PASSPHRASE)
        _after(browser, browser.find_element(By.ID, "unlock"), text="Нас ищут")
        assert not state.locked
    finally:
        running.stop()
        attacker.stop()


def test_a_search_leaves_no_word_in_the_profile_and_the_code_in_history_opens_nothing(
    tmp_path: Path, home: Any
) -> None:
    profile = tmp_path / "profile"
    driver = start_chromium(profile, window=(1366, 900))
    state = desk_state(home.home)
    running = start(create_app(state), state)
    try:
        try:
            # Given the desk opened through its launch file
            _open_through_the_launch_file(driver, running)
            # When the caseworker searches for a contact handle and opens the case it finds
            driver.find_element(By.CSS_SELECTOR, "input[name=q]").send_keys(HANDLE)
            _after(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button"), text="matches the filter")
            assert CASE_WORDS in driver.page_source and "Нас ищут" not in driver.page_source  # it did filter
            assert HANDLE not in driver.current_url and "q=" not in driver.current_url
            _after(driver, driver.find_element(By.CSS_SELECTOR, "table.queue td.words a"), text="Why this level")
            assert HANDLE in driver.page_source and HANDLE not in driver.current_url
            # and a level link of the queue
            driver.get(f"{running.base}/")
            _after(driver, driver.find_element(By.CSS_SELECTOR, ".counts a"), text="the filter")
            assert "level=" not in driver.current_url
        finally:
            driver.quit()  # Chromium writes History, Sessions and the rest of the profile as it closes

        # Then no file of the profile holds the handle or a word of the case
        files = list(_files_under(profile))
        assert any(p.name == "History" for p in files), sorted(p.name for p in files)
        for needle in (HANDLE, CASE_WORDS, CANARY):
            assert [str(p) for p in files if _holds(p, needle)] == [], needle
        # And the one-time code that history holds opens nothing
        history = (profile / "Default" / "History").read_bytes()
        codes = set(re.findall(rb"/open\?key=([A-Za-z0-9_-]{20,})", history))
        assert codes, "the history holds no desk address: the check below would prove nothing"
        for code in codes:
            address = f"{running.base}/open?key={code.decode()}"
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            request = urllib.request.Request(address, headers={**BROWSER_HEADERS, "Sec-Fetch-Site": "none"})
            with opener.open(request, timeout=30) as response:
                page = response.read().decode()
                assert "Set-Cookie" not in response.headers  # no session for it
            assert "The desk is locked" in page and "Нас ищут" not in page and CASE_WORDS not in page
    finally:
        running.stop()
