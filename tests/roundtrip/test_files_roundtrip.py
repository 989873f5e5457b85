"""Evidence files along the whole path (issue 24's Tests paragraph), on SQLite and PostgreSQL.

In real Chromium and real Firefox ESR with JavaScript off, a person sends the full form with a JPEG whose EXIF says
where it was taken and gets a receipt that lists it; on the status page they send a follow-up with a PDF. Then
`intake export` (a version 5 bundle carrying both blobs) -> `triage import` (two files kept, still sealed) -> the
desk, through its real server in a browser: the case lists both files, the safe view shows the photo rebuilt from
its pixels with the GPS warning and the PDF's pages rebuilt -> `triage attachment` saves the original with its
SHA-256, and `--clean` a copy without GPS (mat2).

Then a canary written at several offsets of a 10 MiB file goes through the form, the export (split into parts, as
for a FAT32 stick) and the import, and is searched for afterwards on every disk it crossed: the instance folder
(SQLite file and WAL, or the PostgreSQL cluster's files after a checkpoint), /tmp, /dev/shm, the logs, the USB
stick's files (searched whole: a hit even inside a sealed part would count) and the laptop's home. 0 hits; only the
file the caseworker saved on purpose holds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module, need_program

need_module("flask")

from click.testing import CliRunner
from PIL import Image
from werkzeug.serving import make_server

from intake.app import create_app
from intake.cli import main as intake_main
from intake.config import IntakeConfig
from intake.devserver import QuietHandler
from tests.chromium import start_chromium
from tests.firefox import start_firefox
from tests.intake.helpers import receipt_of
from tests.intake.test_privacy import files_under
from tests.intake.uploading import form_parts, post
from tests.roundtrip.test_roundtrip import LAPTOP, laptop
from tests.triage.file_cases import DEVICE, document_pdf, photo_with_gps
from tests.triage.helpers import PASSPHRASE, Triage
from tests.triage.test_desk_files_browser import _middle

WAIT = 120.0  # seconds: a bound for a loaded machine, never a pause
PHOTO_NAME, PDF_NAME = "фото повестки.jpg", "справка.pdf"
GPS_TEXT = "43.31, 45.69"  # what photo_with_gps() says, as the safe view rounds it
PDF_AUTHOR = "Иван Петров"
BROWSERS: dict[str, Callable[..., Any]] = {"chromium": start_chromium, "firefox": start_firefox}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty URL is the embedded SQLite inside the instance folder; otherwise a fresh PostgreSQL database."""
    return "" if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


@dataclass
class Server:
    """The operator's side: `intake` commands through click's CliRunner, over the instance and database."""

    instance: Path
    database_url: str

    @property
    def config(self) -> IntakeConfig:
        return IntakeConfig(instance_dir=self.instance, default_locale="ru", database_url=self.database_url)

    def intake(self, *args: str | Path) -> str:
        env = {"INTAKE_DATABASE_URL": self.database_url} if self.database_url else {}
        result = CliRunner(env=env).invoke(intake_main, ["--instance", str(self.instance), *map(str, args)])
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
        return str(result.output)


def server_and_laptop(tmp_path: Path, database_url: str) -> tuple[Server, Triage]:
    """A server with one registered caseworker, Alice, whose laptop holds her key."""
    server = Server(tmp_path / "instance", database_url)
    server.intake("init")
    alice = laptop(tmp_path, "alice")
    alice.keygen("Alice")
    server.intake("recipients", "add", alice.home / "Alice.pub")
    return server, alice


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[tuple[str, Server, Triage]]:
    """The real intake app behind a real HTTP server on a loopback port the system picks."""
    server, alice = server_and_laptop(tmp_path, database_url)
    app = create_app(server.config)
    http = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}", server, alice
    finally:
        http.shutdown()
        thread.join(timeout=10)
        app.extensions["intake"].storage.dispose()


def _wait(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.2, ignored_exceptions=[WebDriverException]).until(
        condition, f"timed out waiting for {what}")  # fmt: skip


def _navigate(driver: Any, element: Any) -> None:
    """Click a link or button and wait until the next page has replaced this one and loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    _wait(driver, expected_conditions.staleness_of(page), "the next page")
    _wait(driver, lambda d: d.execute_script("return document.readyState") == "complete", "the page to load")


def person_sends_photo_then_pdf(driver: Any, base: str, photo: Path, pdf: Path) -> None:
    """The requester's journey, JavaScript off: the full form with the photo, then a follow-up with the PDF."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    find = driver.find_element
    driver.get(base + "/ru/request")
    find(By.ID, "danger-0").click()
    Select(find(By.ID, "people")).select_by_value("1")
    find(By.ID, "contact_method-1").click()
    find(By.ID, "contact").send_keys("@someone")
    find(By.ID, "story").send_keys("Пришла повестка, вот фото.")
    find(By.ID, "files").send_keys(str(photo))
    find(By.ID, "consent").click()
    _navigate(driver, find(By.CSS_SELECTOR, "button[type=submit]"))  # the form's own (language buttons follow)
    # The receipt page lists what arrived
    receipt = find(By.ID, "receipt").text
    assert len(receipt.replace(" ", "")) == 30
    assert PHOTO_NAME in find(By.ID, "files-sent").text
    # The status page, with the receipt: a follow-up with the PDF
    driver.get(base + "/ru/status")
    find(By.ID, "receipt").send_keys(receipt)
    _navigate(driver, find(By.CSS_SELECTOR, "button[type=submit]"))
    find(By.ID, "message").send_keys("Вот справка из больницы.")
    find(By.CSS_SELECTOR, "#message-form input[type=file]").send_keys(str(pdf))
    _navigate(driver, find(By.CSS_SELECTOR, "#message-form button[type=submit]"))
    assert find(By.ID, "sent").is_displayed()
    assert PDF_NAME in find(By.ID, "files-sent").text


def caseworker_sees_both_in_the_safe_view(driver: Any, alice: Triage, short_id: str, digests: list[str]) -> None:
    """The desk through its real server: the case lists both files; the safe view shows each rebuilt."""
    from selenium.webdriver.common.by import By

    from triage.desk import DeskState
    from triage.desk import create_app as desk_app
    from triage.desk.serve import start
    from triage.home import Home
    from triage.operations import unlock
    from triage.policy import load_policy

    home = Home(alice.home)
    state = DeskState(LAPTOP, home, load_policy(None), lang="en", jobs=1)
    state.unlock_with(unlock(home, PASSPHRASE, min_kdf=LAPTOP.kdf))
    running = start(desk_app(state), state)
    try:
        driver.get(running.address)
        _wait(driver, lambda d: d.find_elements(By.LINK_TEXT, short_id), "the queue with the case")
        _navigate(driver, driver.find_element(By.LINK_TEXT, short_id))
        files = _wait(driver, lambda d: d.find_element(By.ID, "files"), "the case page's files")
        assert PHOTO_NAME in files.text and PDF_NAME in files.text
        assert all(digest in files.text for digest in digests)
        assert len(driver.find_elements(By.LINK_TEXT, "Safe view")) == 2
        # The photo: the GPS warning first, naming the place; the device; the picture rebuilt from its pixels
        _navigate(driver, driver.find_elements(By.LINK_TEXT, "Safe view")[0])
        warning = _wait(driver, lambda d: d.find_element(By.ID, "gps-warning"), "the photo's GPS warning")
        assert GPS_TEXT in warning.text and "at risk" in warning.text
        assert DEVICE in driver.find_element(By.ID, "metadata").text
        (picture,) = driver.find_elements(By.CSS_SELECTOR, "#pages img")
        assert "/picture/" in picture.get_attribute("src") and "фото" not in picture.get_attribute("src")
        _wait(driver, lambda d: _middle(picture)[0] > 150, "the rebuilt photo drawn")
        red, green, blue = _middle(picture)
        assert red > 150 and green < 90 and blue < 90
        # The follow-up's PDF: both pages rebuilt (blue), its author in the metadata
        driver.back()
        _wait(driver, lambda d: d.find_elements(By.LINK_TEXT, "Safe view"), "the case page again")
        _navigate(driver, driver.find_elements(By.LINK_TEXT, "Safe view")[1])
        _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#pages img")) == 2, "the PDF's two pages")
        page = driver.find_elements(By.CSS_SELECTOR, "#pages img")[0]
        _wait(driver, lambda d: _middle(page)[2] > 150 and _middle(page)[0] < 90, "a blue PDF page drawn")
        assert PDF_AUTHOR in driver.find_element(By.ID, "metadata").text
    finally:
        running.stop()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("browser", sorted(BROWSERS))
def test_a_photo_and_a_pdf_from_the_browser_reach_the_safe_view_and_save_exactly(
    browser: str, served: tuple[str, Server, Triage], tmp_path: Path
) -> None:
    base, server, alice = served
    photo, pdf = photo_with_gps((400, 300)), document_pdf(2, (30, 60, 200))
    phone = tmp_path / "phone"
    phone.mkdir()
    (phone / PHOTO_NAME).write_bytes(photo)
    (phone / PDF_NAME).write_bytes(pdf)
    # Given a person who sends the form with the photo, then a follow-up with the PDF, from a browser
    person = BROWSERS[browser](tmp_path / "person-profile")
    try:
        person_sends_photo_then_pdf(person, base, phone / PHOTO_NAME, phone / PDF_NAME)
    finally:
        person.quit()
    # When the operator exports and the caseworker imports: both files kept, still sealed
    usb = tmp_path / "usb"
    usb.mkdir()
    server.intake("export", "--out", usb / "export-1.bundle")
    summary = json.loads(alice.ok("import", usb / "export-1.bundle", "--json").stdout)
    assert (summary["new"], summary["followups"], summary["files_new"]) == (1, 1, 2), summary
    [case] = json.loads(alice.ok("list", "--json").stdout)
    short_id = case["short_id"]
    shown = " ".join(re.sub(r"[│╭╮╰╯─]", " ", alice.ok("show", short_id).output).split())
    assert hashlib.sha256(photo).hexdigest() in shown and hashlib.sha256(pdf).hexdigest() in shown
    # Then the desk (in a caseworker's browser of the same kind) shows both in the safe view
    caseworker = BROWSERS[browser](tmp_path / "caseworker-profile", window=(1366, 900))
    try:
        digests = [hashlib.sha256(photo).hexdigest(), hashlib.sha256(pdf).hexdigest()]
        caseworker_sees_both_in_the_safe_view(caseworker, alice, short_id, digests)
    finally:
        caseworker.quit()
    # And `triage attachment` saves each original exactly, with its SHA-256
    out = tmp_path / "saved"
    out.mkdir()
    for number, name, sent in (("1", PHOTO_NAME, photo), ("2", PDF_NAME, pdf)):
        said = alice.ok("attachment", short_id, number, "--out", out).output
        assert (out / name).read_bytes() == sent
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() in " ".join(said.split())
    # And `--clean` gives a copy of the photo without GPS or device, with the same picture (mat2 does it)
    need_program("mat2", "apt-get install -y mat2")
    cleaned = tmp_path / "cleaned"
    cleaned.mkdir()
    said = alice.ok("attachment", short_id, "1", "--out", cleaned, "--clean").output
    assert "mat2" in said
    (copy,) = cleaned.iterdir()
    assert copy.read_bytes() != photo
    picture = Image.open(copy)
    assert not picture.getexif().get_ifd(0x8825) and b"SM-A515F" not in copy.read_bytes()
    red, green, _ = picture.convert("RGB").getpixel((200, 150))  # type: ignore[misc]
    assert red > 150 and green < 90


# The canary's places in the 10 MiB file: its start, across the first 64 KiB sealed chunk's edge, across the
# second's, the middle, and its very end.
MIB = 1024 * 1024
CANARY_OFFSETS = ("start", "across 64 KiB", "across 128 KiB", "middle", "end")


def canary_file(canary: bytes) -> bytes:
    content = bytearray(os.urandom(10 * MIB))
    half = len(canary) // 2
    for at in (0, 65536 - half, 131072 - half, 5 * MIB + 3, len(content) - len(canary)):
        content[at : at + len(canary)] = canary
    assert content.count(canary) == len(CANARY_OFFSETS)
    return bytes(content)


def _holding(needles: list[bytes], files: list[Path]) -> list[str]:
    found = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:  # another process's file, gone or not ours to read
            continue
        found += [f"{path}: {needle!r}" for needle in needles if needle in data]
    return found


@pytest.mark.slow
def test_a_canary_in_a_10_mib_file_is_on_no_disk_and_in_no_log_from_the_form_to_the_laptop(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    started = time.time() - 1
    canary = ("files-canary-" + secrets.token_hex(16)).encode()
    content = canary_file(canary)
    server, alice = server_and_laptop(tmp_path, database_url)
    app = create_app(server.config)
    # Given a request whose 10 MiB file carries the canary at five offsets, sent through the form
    client = app.test_client()
    receipt_of(post(client, "/ru/request", [*form_parts(client, "/ru/request"),
                                            ("files", ("evidence.jpg", "image/jpeg", content))]))  # fmt: skip
    needles = [canary, canary[::-1], canary.hex().encode(), canary.decode().encode("utf-16-le")]
    # (the server's folder is searched while the app still has its database open: the SQLite WAL is there)
    live = files_under(server.instance)
    assert database_url or any(p.name.endswith("-wal") for p in live)
    assert _holding(needles, live) == []
    app.extensions["intake"].storage.dispose()
    # When it is exported in parts (as for a FAT32 stick) and imported on the laptop
    usb = tmp_path / "usb"
    usb.mkdir()
    server.intake("export", "--out", usb / "export-1.bundle", "--part-size", str(4 * MIB))
    assert len(list(usb.iterdir())) >= 3  # the 10 MiB blob really crossed several parts
    summary = json.loads(alice.ok("import", usb / "export-1.bundle", "--json").stdout)
    assert (summary["new"], summary["files_new"]) == (1, 1), summary
    # Then the file opens for the caseworker exactly: the canary is really in it, five times
    [case] = json.loads(alice.ok("list", "--json").stdout)
    saved = tmp_path / "saved"
    saved.mkdir()
    alice.ok("attachment", case["short_id"], "1", "--out", saved)
    assert (saved / "evidence.jpg").read_bytes() == content
    # And it is nowhere else: the server's instance folder, the database's own files, the temp folders, the stick,
    # the laptop's home (its blobs stay sealed), nor in any log line
    where: list[Path] = [*files_under(server.instance), *files_under(usb), *files_under(alice.home)]
    if database_url:
        pg = request.getfixturevalue("pg_server")
        pg.execute("CHECKPOINT")  # the cluster's data files, not only its WAL, hold every committed row
        where += files_under(pg.socket_dir.parent)
    for system in (Path("/tmp"), Path("/dev/shm")):
        if system.is_dir():
            where += [p for p in files_under(system, since=started) if saved not in p.parents]
    assert _holding(needles, where) == []
    assert canary.decode() not in caplog.text and canary.hex() not in caplog.text
    # (and the search can fail: the one file the caseworker saved on purpose holds it)
    assert _holding([canary], [saved / "evidence.jpg"])
