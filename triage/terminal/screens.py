"""The queue and the case: what the terminal desk shows, and the keys that act on it.

Every screen's words come from the caseworker's catalogue (English or Russian); the key help at the
bottom is drawn by the screen itself, in that language, because Textual's own footer would show
the bindings' internal names.
"""

from __future__ import annotations

from typing import ClassVar, cast

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

import crypto
from triage.answers_view import text_fields
from triage.attachment_command import files_panel
from triage.attachments import case_files
from triage.cases import Case
from triage.errors import TriageError, explain_in
from triage.i18n import Translator
from triage.labels import SHORT_LOCATION, reason_texts, status_text
from triage.render import case_view, level_text, queue_heading
from triage.terminal.app import TerminalDesk
from triage.text import first_line


def desk(screen: Screen[object]) -> TerminalDesk:
    return cast(TerminalDesk, screen.app)


def matches(case: Case, words: str) -> bool:
    """Every word typed in the search appears somewhere in the case's own text (case-insensitive)."""
    names = text_fields(case.asked.questionnaire, case.request)
    haystack = " ".join(str(case.request.get(f) or "") for f in names).casefold()
    haystack += " " + case.short_id
    return all(word in haystack for word in words.casefold().split())


def top_reason(case: Case, t: Translator) -> str:
    reasons = reason_texts(case.priority, t)
    return reasons[0].rsplit(" (", 1)[0] if reasons else "—"


class QueueScreen(Screen[object]):
    """Most urgent first: level, score, days waiting, status, where, people, name, the top reason."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "import_bundle", show=False),
        Binding("a", "return_file", show=False),
        Binding("slash", "search", show=False),
        Binding("escape", "leave_search", show=False),
        Binding("q", "quit_desk", show=False),
        Binding("ctrl+q", "quit_desk", show=False, priority=True),
    ]

    def compose(self) -> ComposeResult:
        t = desk(self).t
        yield Static(id="heading")
        yield Input(placeholder=t.gettext("Search the cases (in memory only): type words, then Enter"), id="search")
        yield DataTable(id="queue", cursor_type="row", zebra_stripes=True)
        yield Static(id="message")
        yield Static(Text(t.gettext(
            "Enter: open the case · /: search · i: import from the USB stick · a: write the return file · q: close"
        )), id="help")  # fmt: skip

    def on_mount(self) -> None:
        t = desk(self).t
        table = self.query_one(DataTable)
        for label in (t.gettext("ID"), t.gettext("Level"), t.gettext("Score"), t.gettext("Days"),
                      t.gettext("Status"), t.gettext("Where"), t.gettext("People"), t.gettext("Name"),
                      t.gettext("Why")):  # fmt: skip
            table.add_column(label)
        self.refresh_queue()
        table.focus()

    def on_screen_resume(self) -> None:
        self.refresh_queue()

    def refresh_queue(self) -> None:
        app = desk(self)
        t = app.t
        try:
            cases = app.cases()
        except (TriageError, crypto.CryptoError) as failure:
            self.show_message(explain_in(failure, t), error=True)
            return
        words = self.query_one("#search", Input).value
        shown = [c for c in cases if matches(c, words)] if words.strip() else cases
        heading = queue_heading(len(shown), cases, t)
        if words.strip():
            heading += " " + t.gettext("(%(num)s match the search)", num=len(shown))
        self.query_one("#heading", Static).update(Text(heading))
        table = self.query_one(DataTable)
        table.clear()
        for case in shown:
            location = case.request.get("location")
            table.add_row(
                Text(case.short_id), level_text(case.priority.level, t), Text(str(case.priority.score)),
                Text(str(case.days_waiting)), Text(status_text(case.record.status, t)),
                Text(t.gettext(SHORT_LOCATION[location]) if location in SHORT_LOCATION else "—"),
                Text(str(case.request.get("people", "—"))), Text(first_line(str(case.request.get("alias") or ""))),
                Text(top_reason(case, t)), key=case.entry_id.hex(),
            )  # fmt: skip

    def show_message(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#message", Static)
        message.set_class(error, "error")
        message.update(Text(text))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.push_screen(CaseScreen(event.row_key.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.refresh_queue()
        self.query_one(DataTable).focus()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_leave_search(self) -> None:
        self.query_one(DataTable).focus()

    def action_import_bundle(self) -> None:
        from triage.terminal.usb_screens import ImportScreen

        self.app.push_screen(ImportScreen())

    def action_return_file(self) -> None:
        from triage.terminal.usb_screens import ReturnScreen

        self.app.push_screen(ReturnScreen())

    def action_quit_desk(self) -> None:
        desk(self).close_desk()


class CaseScreen(Screen[object]):
    """One case as `triage show` draws it; keys to change its status, add a note, or reply."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "status", show=False),
        Binding("n", "note", show=False),
        Binding("r", "reply", show=False),
        Binding("t", "template", show=False),
        Binding("escape", "back", show=False),
        Binding("b", "back", show=False),
        Binding("ctrl+q", "quit_desk", show=False, priority=True),
    ]

    def __init__(self, entry_id: str) -> None:
        super().__init__()
        self.entry_id = entry_id
        self.case: Case | None = None

    def compose(self) -> ComposeResult:
        t = desk(self).t
        with VerticalScroll(id="case"):
            yield Static(id="body")
        yield Static(id="message")
        yield Static(Text(t.gettext(
            "s: status · n: add a note · r: write a reply · t: start from a ready-made reply · ↑↓: scroll · Esc: back"
        )), id="help")  # fmt: skip

    def on_mount(self) -> None:
        self.redraw()
        self.query_one("#case", VerticalScroll).focus()

    def redraw(self) -> None:
        app = desk(self)
        t = app.t
        try:
            case = app.session.show_case(self.entry_id, app.policy)
            readers = app.session.readers(case)
        except (TriageError, crypto.CryptoError) as failure:
            self.show_message(explain_in(failure, t), error=True)
            return
        self.case = case
        files = files_panel(case_files(app.session, case), t)  # the case's files (triage.attachments): facts only
        self.query_one("#body", Static).update(Group(case_view(case, t, readers), files))
        if case.record.unread:
            app.session.mark_read(case)  # drawn above with the new messages marked; seen from now on
            app.changed()

    def show_message(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#message", Static)
        message.set_class(error, "error")
        message.set_class(not error, "saved")
        message.update(Text(text))

    def action_status(self) -> None:
        from triage.terminal.dialogs import StatusDialog

        if self.case is not None:
            self.app.push_screen(StatusDialog(self.case.record.status), self._set_status)

    def _set_status(self, status: str | None) -> None:
        if status is None or self.case is None or status == self.case.record.status:
            return
        self._change(status=status)

    def action_note(self) -> None:
        from triage.terminal.dialogs import TextDialog

        t = desk(self).t
        self.app.push_screen(TextDialog(t.gettext("A note on this case (only caseworkers read it)")), self._add_note)

    def _add_note(self, text: str | None) -> None:
        if text:
            self._change(note=text)

    def _change(self, *, status: str | None = None, note: str | None = None) -> None:
        app = desk(self)
        try:
            app.session.set_case(self.entry_id, status=status, note=note)
        except (TriageError, crypto.CryptoError) as failure:
            self.show_message(explain_in(failure, app.t), error=True)
            return
        app.changed()
        self.redraw()
        self.show_message(app.t.gettext("Saved."))

    def action_reply(self, start: str = "") -> None:
        from triage.terminal.dialogs import TextDialog

        t = desk(self).t
        title = t.gettext("A reply to the person: it is sealed here and leaves with the next return file")
        self.app.push_screen(TextDialog(title, start), self._queue_reply)

    def action_template(self) -> None:
        from triage.terminal.dialogs import TemplateDialog

        if self.case is not None:
            self.app.push_screen(TemplateDialog(str(self.case.request.get("locale") or "ru")), self._from_template)

    def _from_template(self, text: str | None) -> None:
        if text:
            self.action_reply(text)

    def _queue_reply(self, text: str | None) -> None:
        app = desk(self)
        if not text:
            return
        try:
            _entry, queued = app.session.reply(self.entry_id, text)
        except (TriageError, crypto.CryptoError) as failure:
            self.show_message(explain_in(failure, app.t), error=True)
            return
        app.changed()
        self.redraw()
        self.show_message(app.t.ngettext(
            "Reply queued; %(num)d reply leaves with the next return file.",
            "Reply queued; %(num)d replies leave with the next return file.", queued))  # fmt: skip

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_quit_desk(self) -> None:
        desk(self).close_desk()


__all__ = ["CaseScreen", "QueueScreen", "matches"]
