"""The terminal desk (`triage terminal`, for Tails) over a real home: queue, case, changes, USB, lock.

Driven headless through Textual's own test harness (real widgets, real key presses, the real session
and store); tests/triage/test_terminal_pty.py runs the real command in a real terminal.
"""

from __future__ import annotations

import asyncio
import io
import stat
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

import crypto
from tests.realparts import need
from tests.triage.desk_setup import CANARY, load_home
from tests.triage.helpers import PASSPHRASE, TEST_CONFIG, Server, Triage, make_request
from triage import threads
from triage.home import Home
from triage.i18n import translator
from triage.operations import Session, unlock
from triage.policy import load_policy

try:
    from textual.widgets import DataTable, Input, Static, TextArea

    from triage.terminal import TerminalDesk
    from triage.terminal.app import CLOSED, LOCKED
    from triage.terminal.screens import CaseScreen, QueueScreen
except ImportError:  # pragma: no cover - the laptop kit and CI always have Textual
    need("textual", False, "pip install textual (a core dependency of triage)")
    raise

SIZE = (100, 30)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(home: Path, lang: str, body: Callable[[Any, TerminalDesk], Coroutine[Any, Any, None]], **options: Any) -> Any:
    """Open the session as `triage terminal` does, run the desk headless, and hand the pilot to ``body``."""
    identity = unlock(Home(home), PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)
    with Session.open(TEST_CONFIG, Home(home), identity) as session:
        desk = TerminalDesk(session, load_policy(None), translator(lang), **options)

        async def main() -> None:
            async with desk.run_test(size=SIZE) as pilot:
                await pilot.pause()
                await body(pilot, desk)

        asyncio.run(main())
        return desk.return_value


def rows(desk: TerminalDesk) -> list[list[str]]:
    table = desk.screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(n)] for n in range(table.row_count)]


def screen_text(desk: TerminalDesk) -> str:
    """Every text widget of the screen as plain text, the way rich lays it out 100 columns wide."""
    console = Console(width=SIZE[0], record=True, file=io.StringIO())
    for widget in desk.screen.query(Static):
        content = widget.content
        console.print(Text(content) if isinstance(content, str) else content)
    return console.export_text()


RECEIPT = "123456789012345678901234567890"
REPLY_SECRET = bytes(range(32))


@pytest.fixture
def loaded(tmp_path: Path) -> Any:
    """The desk's five sample cases, and a sixth, the most urgent, that can be replied to (schema 2)."""
    triage = Triage(tmp_path / "home", _passphrase(tmp_path))
    home = load_home(triage, Server(), tmp_path)
    reply_key = crypto.derive_reply_keypair(RECEIPT, REPLY_SECRET).public.to_b64()
    urgent = make_request(schema=2, kind="request", reply_key=reply_key, danger="immediate", detention="recent",
                          threat_from=["authorities"], story="Меня ищут, нужна помощь сегодня.")  # fmt: skip
    entry = home.server.entry(urgent, [home.alice])
    triage.ok("import", home.server.bundle(tmp_path / "usb" / "export-2.bundle", [entry]))
    return home


def _passphrase(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    return path


def test_the_queue_shows_every_case_most_urgent_first_with_its_top_reason(loaded: Any) -> None:
    identity = unlock(loaded.home, PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)
    with Session.open(TEST_CONFIG, loaded.home, identity) as session:
        expected = [c.short_id for c in session.list_cases(load_policy(None)).cases]
    seen: dict[str, Any] = {}

    async def body(pilot: Any, desk: TerminalDesk) -> None:
        assert isinstance(desk.screen, QueueScreen)
        seen["rows"] = rows(desk)

    run(loaded.triage.home, "en", body)
    assert [row[0] for row in seen["rows"]] == expected
    first = seen["rows"][0]
    assert first[1] == "emergency"
    assert first[-1] not in ("", "—")  # the top reason is there


def test_search_filters_in_memory_and_opening_a_case_shows_it_and_its_status_changes(loaded: Any) -> None:
    seen: dict[str, Any] = {}

    async def body(pilot: Any, desk: TerminalDesk) -> None:
        await pilot.press("slash")
        await pilot.press(*"@canary_contact")
        await pilot.press("enter")
        await pilot.pause()
        seen["rows"] = rows(desk)
        await pilot.press("enter")  # the one row left: open it
        await pilot.pause()
        assert isinstance(desk.screen, CaseScreen)
        seen["case"] = screen_text(desk)
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("down", "enter")  # the status after "new"
        await pilot.pause()
        seen["after"] = screen_text(desk)

    run(loaded.triage.home, "en", body)
    assert len(seen["rows"]) == 1
    assert CANARY in seen["case"]
    identity = unlock(loaded.home, PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)
    with Session.open(TEST_CONFIG, loaded.home, identity) as session:
        changed = [c for c in session.list_cases(load_policy(None)).cases if c.record.status != "new"]
    assert len(changed) == 1 and CANARY in changed[0].request["story"]
    assert "Saved." in seen["after"]


def test_a_note_and_a_reply_are_typed_in_the_screen_and_stored_by_the_operations(loaded: Any) -> None:
    async def body(pilot: Any, desk: TerminalDesk) -> None:
        await pilot.press("enter")  # the most urgent case
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        desk.screen.query_one(TextArea).insert("Позвонили, ждём ответа.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        desk.screen.query_one(TextArea).insert("Здравствуйте! Мы получили вашу заявку.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("escape")  # a reply cancelled: nothing queued
        await pilot.pause()

    run(loaded.triage.home, "ru", body)
    identity = unlock(loaded.home, PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)
    with Session.open(TEST_CONFIG, loaded.home, identity) as session:
        top = session.list_cases(load_policy(None)).cases[0]
        assert [n["text"] for n in top.record.notes] == ["Позвонили, ждём ответа."]
        assert len(threads.queued(session.store)) == 1


def test_import_from_the_stick_asks_for_the_fingerprint_first_and_the_return_file_is_written(tmp_path: Path) -> None:
    triage = Triage(tmp_path / "home", _passphrase(tmp_path))
    loaded = load_home(triage, Server(), tmp_path, import_now=False)
    usb = tmp_path / "usb"
    fingerprint = loaded.server.key.public.fingerprint
    seen: dict[str, Any] = {}

    async def body(pilot: Any, desk: TerminalDesk) -> None:
        await pilot.press("i")
        await pilot.pause()
        seen["before"] = screen_text(desk)
        path_field = desk.screen.query_one("#path", Input)
        assert path_field.value.endswith("export-1.bundle")  # the newest bundle on the stick, offered
        wrong = desk.screen.query_one("#fingerprint", Input)
        wrong.value = "0" * 32
        await pilot.press("ctrl+s")
        await pilot.pause()
        seen["refused"] = screen_text(desk)
        seen["count_after_refusal"] = desk.session.count_cases()
        wrong.value = fingerprint
        await pilot.press("ctrl+s")
        await pilot.pause()
        seen["imported"] = screen_text(desk)
        await pilot.press("escape")
        await pilot.pause()
        seen["rows"] = rows(desk)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        seen["written"] = screen_text(desk)

    run(triage.home, "en", body, usb=usb)
    assert fingerprint not in seen["before"]  # the value to type is never shown above the field
    assert seen["count_after_refusal"] == 0
    assert "new 5" in seen["imported"]
    assert len(seen["rows"]) == 5
    returned = list(usb.glob("return-*.ack"))
    assert len(returned) == 1 and "acknowledges 5 envelopes" in seen["written"]
    assert stat.S_IMODE(returned[0].stat().st_mode) == 0o600


def test_it_locks_itself_after_the_idle_time_and_q_closes_it(loaded: Any) -> None:
    clock = Clock()

    async def idle(pilot: Any, desk: TerminalDesk) -> None:
        await pilot.press("down")
        clock.now += 599
        desk.lock_if_idle()
        await pilot.pause()
        assert desk.is_running
        clock.now += 2
        desk.lock_if_idle()
        await pilot.pause()

    assert run(loaded.triage.home, "en", idle, idle_seconds=600.0, clock=clock) == LOCKED

    async def close(pilot: Any, desk: TerminalDesk) -> None:
        await pilot.press("q")
        await pilot.pause()

    assert run(loaded.triage.home, "en", close) == CLOSED


def test_a_key_press_keeps_it_open(loaded: Any) -> None:
    clock = Clock()

    async def busy(pilot: Any, desk: TerminalDesk) -> None:
        for _ in range(3):
            clock.now += 500
            await pilot.press("down")
            desk.lock_if_idle()
            await pilot.pause()
            assert desk.is_running
        await pilot.press("q")

    assert run(loaded.triage.home, "en", busy, idle_seconds=600.0, clock=clock) == CLOSED


def test_the_russian_desk_speaks_russian(loaded: Any) -> None:
    seen: dict[str, str] = {}

    async def body(pilot: Any, desk: TerminalDesk) -> None:
        seen["queue"] = screen_text(desk)
        await pilot.press("enter")
        await pilot.pause()
        seen["case"] = screen_text(desk)

    run(loaded.triage.home, "ru", body)
    ru = translator("ru")
    for english in ("Enter: open the case", "s: status · n: add a note"):
        assert english not in seen["queue"] + seen["case"]
    assert ru.gettext("Search the cases (in memory only): type words, then Enter") != (
        "Search the cases (in memory only): type words, then Enter")
