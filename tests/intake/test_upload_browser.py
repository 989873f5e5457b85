"""Files through the real form in headless Chromium and Firefox ESR (Tor Browser's Safest preferences) with
JavaScript off (issue 24): the browser's own multipart body, an empty second file input, the receipt listing
what arrived, and the blob opening to the file's bytes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import crypto
from crypto import filestream
from tests.chromium import start_chromium
from tests.firefox import start_firefox
from tests.intake.test_browser import served  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("start", [start_chromium, start_firefox])
def test_a_photo_goes_through_the_form_with_javascript_off(served: tuple[str, Flask],  # noqa: F811
                                                           identity: crypto.Identity, tmp_path: Path,
                                                           start: Any) -> None:  # fmt: skip
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, app = served
    photo = tmp_path / "фото паспорта.jpg"
    content = b"\xff\xd8\xff\xe0" + os.urandom(300_000)
    photo.write_bytes(content)
    driver = start(tmp_path / "profile")
    try:
        driver.get(base + "/ru/request")
        find = driver.find_element
        find(By.ID, "danger-0").click()
        Select(find(By.ID, "people")).select_by_value("1")
        find(By.ID, "contact_method-1").click()
        find(By.ID, "contact").send_keys("@someone")
        find(By.ID, "story").send_keys("Паспорт забрали, вот фото.")
        find(By.ID, "files").send_keys(str(photo))
        find(By.ID, "consent").click()
        page = find(By.TAG_NAME, "html")
        find(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 90, ignored_exceptions=[WebDriverException]).until(
            expected_conditions.staleness_of(page))
        WebDriverWait(driver, 90, ignored_exceptions=[WebDriverException]).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
        assert len(find(By.ID, "receipt").text.replace(" ", "")) == 30
        assert "фото паспорта.jpg" in find(By.ID, "files-sent").text
    finally:
        driver.quit()
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    [entry] = crypto.check_manifest(crypto.open_envelope(envelope, identity)["files"])
    assert entry.name == "фото паспорта.jpg" and entry.type == "image/jpeg"
    [blob] = list(app.extensions["intake"].storage.export_blobs())
    assert filestream.open_bytes(b"".join(blob.chunks()), entry.sealed()) == content
