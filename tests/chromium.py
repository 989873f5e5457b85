"""Start the real headless Chromium with JavaScript off, as every browser test needs it.

``start_chromium(profile, window=(360, 740), performance_log=True)``: a fresh profile folder, scripts
blocked by the profile's content settings (what Tor Browser's Safest level does), no background
networking, optionally a phone-sized window and the DevTools network log (``driver.get_log("performance")``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.realparts import need_program

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage")  # fmt: skip
JAVASCRIPT_OFF = {"profile.managed_default_content_settings.javascript": 2}


def start_chromium(profile: Path, *, window: tuple[int, int] | None = None, performance_log: bool = False) -> Any:
    chromium = need_program("chromium", "apt-get install -y chromium")
    driver_path = need_program("chromedriver", "apt-get install -y chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if window is not None:
        options.add_argument(f"--window-size={window[0]},{window[1]}")
    options.add_experimental_option("prefs", JAVASCRIPT_OFF)
    if performance_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    return driver
