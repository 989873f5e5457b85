"""The terminal desk's application: one unlocked session, the queue in memory, the idle lock.

The screens (``triage.terminal.screens``) only draw and read keys; every change goes through the
``Session`` (``triage.operations``) the command opened, exactly as the command line's and the browser
desk's do. The decrypted queue lives in this object and nowhere else; it is dropped after every change
and when the desk closes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.app import App

from triage.cases import Case
from triage.i18n import Translator
from triage.operations import Session
from triage.policy import Policy

LOCKED = "locked"
CLOSED = "closed"

CSS = """
Screen { layout: vertical; }
#heading { height: auto; padding: 0 1; text-style: bold; }
#help { height: auto; padding: 0 1; background: $panel; }
#message { height: auto; padding: 0 1; }
.error { color: $error; text-style: bold; }
.saved { color: $success; }
DataTable { height: 1fr; }
#case { height: 1fr; padding: 0 1; }
#search { height: 3; }
TextArea { height: 1fr; }
ModalScreen { align: center middle; }
#dialog { width: 90%; height: 80%; border: round $accent; padding: 0 1; background: $surface; }
#picker { height: 1fr; }
Input { margin: 0 0 1 0; }
"""


class TerminalDesk(App[str]):
    """The desk in the terminal; ``run()`` returns LOCKED (idle) or CLOSED (the caseworker quit)."""

    CSS = CSS
    TITLE = "triage"
    ENABLE_COMMAND_PALETTE = False  # its fuzzy search would offer internal action names, in English

    def __init__(
        self,
        session: Session,
        policy: Policy,
        t: Translator,
        *,
        usb: Path | None = None,
        idle_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.session = session
        self.policy = policy
        self.t = t
        self.usb = usb
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.last_seen = clock()
        self._cases: list[Case] | None = None

    # -- the queue in memory ----------------------------------------------------------------------

    def cases(self) -> list[Case]:
        """Every readable case, most urgent first; opened once and kept until a change or the lock."""
        if self._cases is None:
            self._cases = self.session.list_cases(self.policy).cases
        return self._cases

    def changed(self) -> None:
        """Something was written: open the queue afresh next time it is drawn."""
        self._cases = None

    # -- the idle lock ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        from triage.terminal.screens import QueueScreen

        self.push_screen(QueueScreen())
        self.set_interval(1.0, self.lock_if_idle)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown | events.Paste):
            self.last_seen = self.clock()
        await super().on_event(event)

    def lock_if_idle(self) -> None:
        if self.clock() - self.last_seen >= self.idle_seconds:
            self._cases = None
            self.exit(LOCKED)

    def close_desk(self) -> None:
        self._cases = None
        self.exit(CLOSED)
