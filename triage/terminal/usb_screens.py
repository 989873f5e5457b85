"""The USB stick: import a bundle the operator exported, and write the signed return file.

The first import asks for the server fingerprint the operator reads aloud *before* anything about the
bundle's own key is shown, then compares: the value to type is never printed above the field. A change
in who can read new requests stops the import until the caseworker ticks the box that accepts it.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, Input, Static

import crypto
from triage.errors import TriageError, explain_in
from triage.importer import RecipientsChangedError
from triage.questionnaires import QuestionnaireChangedError, accept_on_desk
from triage.summary import print_import_summary
from triage.terminal.app import TerminalDesk


def _desk(screen: Screen[object]) -> TerminalDesk:
    return cast(TerminalDesk, screen.app)


def newest(folder: Path | None, pattern: str) -> str:
    """The newest file matching ``pattern`` in the USB folder, as a starting value for the path field."""
    if folder is None or not folder.is_dir():
        return ""
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
    return str(found[0]) if found else str(folder) + "/"


def _summary_text(summary: object, t: object) -> str:
    """The same summary `triage import` prints, caught as text for the screen."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_import_summary(summary, as_json=False, t=t)  # type: ignore[arg-type]
    return out.getvalue().rstrip()


class _UsbScreen(Screen[object]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "go", show=False, priority=True),
        Binding("escape", "back", show=False),
    ]

    def show(self, text: str, *, error: bool = False) -> None:
        result = self.query_one("#message", Static)
        result.set_class(error, "error")
        result.set_class(not error, "saved")
        result.update(Text(text))

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_go()

    def action_go(self) -> None:
        raise NotImplementedError


class ImportScreen(_UsbScreen):
    """A bundle from the stick into the case store, all or nothing."""

    def compose(self) -> ComposeResult:
        app = _desk(self)
        t = app.t
        first = app.session.store.pinned_server() is None
        with VerticalScroll():
            yield Static(Text(t.gettext("Import a bundle from the USB stick")), id="heading")
            yield Static(Text(t.gettext("The bundle file:")))
            yield Input(newest(app.usb, "*.bundle"), id="path")
            if first:
                yield Static(Text(t.gettext(
                    "This is the first import into this home: ask the operator to read you the server "
                    "fingerprint (from `intake init` or `intake export`) and type it here. It is compared with "
                    "the bundle's key; nothing is imported if they differ.")))  # fmt: skip
                yield Input(placeholder="1a2b-3c4d-…", id="fingerprint")
            yield Checkbox(t.gettext("I checked the change in who can read new requests and accept it"),
                           id="accept", classes="hidden")  # fmt: skip
            yield Checkbox(t.gettext("I checked the questions shown above and accept them"),
                           id="accept-questionnaire", classes="hidden")  # fmt: skip
            yield Static(id="message")
        yield Static(Text(t.gettext("Enter or Ctrl+S: import · Esc: back")), id="help")

    def on_mount(self) -> None:
        self.query_one("#accept", Checkbox).display = False
        self.query_one("#accept-questionnaire", Checkbox).display = False
        self.waiting: list[str] = []  # the questionnaire versions the last stop showed (full hashes)
        self.query_one("#path", Input).focus()

    def action_go(self) -> None:
        app = _desk(self)
        t = app.t
        path = Path(self.query_one("#path", Input).value.strip())
        typed = self.query(Input).filter("#fingerprint")
        fingerprint = typed.first().value.strip() if typed else None
        if typed and not fingerprint:
            self.show(t.gettext("Type the fingerprint the operator reads to you first."), error=True)
            return
        accept = self.query_one("#accept", Checkbox)
        if not path.is_file():
            self.show(t.gettext("There is no file %(path)s.", path=path), error=True)
            return
        questions = self.query_one("#accept-questionnaire", Checkbox)
        try:
            accept_on_desk(app.session.store, self.waiting if questions.value else [])
            summary = app.session.import_bundle(path, expected_fingerprint=fingerprint, accept_recipients=accept.value)
        except RecipientsChangedError as failure:
            accept.display = True
            self.show(explain_in(failure, t), error=True)
            return
        except QuestionnaireChangedError as stop:  # invariant 20: shown, then accepted only on purpose
            self.waiting = [version.questionnaire.sha256 for version in stop.versions]
            questions.value, questions.display = False, True
            self.show(explain_in(stop, t), error=True)
            return
        except (TriageError, crypto.CryptoError, OSError) as failure:
            text = explain_in(failure, t) if not isinstance(failure, OSError) else t.gettext(
                "The file could not be read: %(reason)s.", reason=failure.strerror or type(failure).__name__)
            self.show(text, error=True)
            return
        app.changed()
        self.show(_summary_text(summary, t))


class ReturnScreen(_UsbScreen):
    """The signed return file: an acknowledgement of everything imported, and every queued reply."""

    def compose(self) -> ComposeResult:
        app = _desk(self)
        t = app.t
        day = app.session.today().isoformat()
        start = str(app.usb / f"return-{day}.ack") if app.usb is not None else f"return-{day}.ack"
        with VerticalScroll():
            yield Static(Text(t.gettext("Write the return file to the USB stick")), id="heading")
            yield Static(Text(t.gettext("The file to write (an existing file is never replaced):")))
            yield Input(start, id="path")
            yield Static(id="message")
        yield Static(Text(t.gettext("Enter or Ctrl+S: write · Esc: back")), id="help")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def action_go(self) -> None:
        app = _desk(self)
        t = app.t
        out = Path(self.query_one("#path", Input).value.strip())
        try:
            written = app.session.write_ack(out)
        except (TriageError, crypto.CryptoError) as failure:
            self.show(explain_in(failure, t), error=True)
            return
        except OSError as failure:
            self.show(t.gettext("The file could not be written: %(reason)s.",
                                reason=failure.strerror or type(failure).__name__), error=True)  # fmt: skip
            return
        app.changed()
        self.show(t.gettext("Wrote %(path)s: ", path=written.path)
                  + t.ngettext("acknowledges %(num)d envelope", "acknowledges %(num)d envelopes", written.entries)
                  + ", " + t.ngettext("carries %(num)d reply", "carries %(num)d replies", written.replies) + ", "
                  + t.gettext("signed by %(name)s.", name=written.signer) + "\n"
                  + t.gettext("Carry it to the server; the operator runs `intake apply-ack %(name)s`.",
                              name=written.path.name))  # fmt: skip


__all__ = ["ImportScreen", "ReturnScreen"]
