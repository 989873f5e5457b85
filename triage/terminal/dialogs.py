"""Small windows over a case: free text (a note or a reply), a status, a ready-made reply.

Text typed here stays in this process's memory until the operation seals or stores it; nothing goes
through argv, a file or the clipboard.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static, TextArea
from textual.widgets.option_list import Option

from triage.errors import TriageError, explain_in
from triage.labels import status_text
from triage.store import STATUSES
from triage.templates import load_templates
from triage.terminal.app import TerminalDesk


def _desk(screen: ModalScreen[Any]) -> TerminalDesk:
    return cast(TerminalDesk, screen.app)


class TextDialog(ModalScreen[str | None]):
    """A text area; Ctrl+S hands the text back (trimmed), Esc hands back nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", show=False, priority=True),
        Binding("escape", "cancel", show=False),
    ]

    def __init__(self, title: str, start: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.start = start

    def compose(self) -> ComposeResult:
        t = _desk(self).t
        with Vertical(id="dialog"):
            yield Static(Text(self.title_text))
            yield TextArea(self.start, id="text", soft_wrap=True, show_line_numbers=False)
            yield Static(Text(t.gettext("Ctrl+S: save · Esc: cancel, nothing is kept")), id="help")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        text = self.query_one(TextArea).text.replace("\r\n", "\n").strip()
        self.dismiss(text or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class StatusDialog(ModalScreen[str | None]):
    """The statuses in the caseworker's language; Enter picks one."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", show=False)]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        t = _desk(self).t
        with Vertical(id="dialog"):
            yield Static(Text(t.gettext("The new status of the case")))
            yield OptionList(*[Option(Text(status_text(s, t)), id=s) for s in STATUSES], id="picker")
            yield Static(Text(t.gettext("Enter: choose · Esc: cancel")), id="help")

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        picker.highlighted = STATUSES.index(self.current) if self.current in STATUSES else 0
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TemplateDialog(ModalScreen[str | None]):
    """The ready-made replies in the person's language first; Enter opens the chosen one for editing."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", show=False)]

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language

    def compose(self) -> ComposeResult:
        app = _desk(self)
        t = app.t
        try:
            templates = load_templates(app.session.home.path)
            problem = ""
        except TriageError as failure:
            templates, problem = [], explain_in(failure, t)
        templates.sort(key=lambda template: template.language != self.language)
        self.texts = {f"{n}": template.text for n, template in enumerate(templates)}
        with Vertical(id="dialog"):
            yield Static(Text(problem or t.gettext("Ready-made replies: each opens for editing before it is queued")))
            options = [Option(Text(f"[{tpl.language}] {tpl.title}"), id=f"{n}") for n, tpl in enumerate(templates)]
            yield OptionList(*options, id="picker")
            yield Static(Text(t.gettext("Enter: choose · Esc: cancel")), id="help")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.texts.get(event.option.id or ""))

    def action_cancel(self) -> None:
        self.dismiss(None)
