"""The terminal desk's case screen lists the case's files (facts only: a terminal shows no picture)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need

try:
    from triage.terminal import TerminalDesk
    from triage.terminal.screens import CaseScreen
except ImportError:  # pragma: no cover - the laptop kit and CI always have Textual
    need("textual", False, "pip install textual (a core dependency of triage)")
    raise

from tests.triage.file_cases import document_pdf, file_home, photo_with_gps, seal
from tests.triage.helpers import Triage
from tests.triage.test_terminal_desk import run, screen_text


@pytest.mark.parametrize(("lang", "title"), [("en", "Files"), ("ru", "Файлы")])
def test_the_case_screen_lists_the_files(triage: Triage, tmp_path: Path, lang: str, title: str) -> None:
    files = [seal("фото.jpg", "image/jpeg", photo_with_gps()), seal("справка.pdf", "application/pdf", document_pdf())]
    home = file_home(triage, tmp_path, files)
    seen: dict[str, Any] = {}

    async def body(pilot: Any, desk: TerminalDesk) -> None:
        await pilot.press("enter")  # the one case
        await pilot.pause()
        assert isinstance(desk.screen, CaseScreen)
        seen["case"] = screen_text(desk)

    run(home.triage.home, lang, body)
    text = " ".join(seen["case"].replace("│", " ").split())
    assert title in text and "1. фото.jpg" in text and "2. справка.pdf" in text
    assert hashlib.sha256(files[0].data).hexdigest() in text.replace(" ", "")
