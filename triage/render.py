"""How cases look: a coloured table, one case laid out for reading, CSV and JSON for other tools.

Request text comes from strangers. It is always handed to rich as ``Text`` (never markup), and
characters that can disguise text on a terminal (bidi overrides, zero-width characters, carriage
returns) are made visible; CSV cells that a spreadsheet would run as a formula are defused.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, BinaryIO

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from crypto import request_schema as schema
from triage.cases import Case

LEVEL_STYLE = {"emergency": "bold white on red", "urgent": "bold yellow", "normal": "green"}
LABELS = {
    "danger": "Danger",
    "threat_from": "Threat from",
    "detention": "Detention",
    "location": "Location",
    "people": "People who must move",
    "children": "Of them, children",
    "documents": "Documents",
    "health": "Medical needs",
    "contact_method": "Contact method",
    "contact": "Contact",
    "safe_times": "Safe times to contact",
    "alias": "Call them",
    "locale": "Language of the form",
    "submitted_on": "Submitted on",
}
CSV_FIELDS = [f for f in schema.REQUEST_FIELDS if f != "consent"]


def clean(value: str) -> str:
    """Text safe to print on a terminal: no invisible formatting, no carriage-return overprinting."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        f"<U+{ord(ch):04X}>" if unicodedata.category(ch) in _DISGUISING and ch not in "\n\t" else ch
        for ch in value
    )


# Format (bidi overrides, zero-width), control, private-use, and the line/paragraph separators U+2028/9,
# which some terminals and viewers break lines at while others do not.
_DISGUISING = frozenset({"Cf", "Cc", "Co", "Zl", "Zp"})


@functools.cache
def _disguising_pattern() -> re.Pattern[str]:
    # Cf, Zl and Zp all lie below U+30000 or in the tags block; private use (Co) is three known ranges.
    found = [chr(c) for r in (range(0x30000), range(0xE0000, 0xE0080)) for c in r
             if unicodedata.category(chr(c)) in _DISGUISING and chr(c) not in "\n\t"]  # fmt: skip
    ranges = "".join(re.escape(ch) for ch in found) + "\U000f0000-\U000ffffd\U00100000-\U0010fffd"
    return re.compile(f"[{ranges}]")


def _escape_disguising(text: str) -> str:
    """JSON text with every disguising character written as a \\u escape: the same JSON value, inert on a terminal."""
    if text.isascii() and "\x7f" not in text:
        return text
    return _disguising_pattern().sub(lambda m: "".join(f"\\u{u:04x}" for u in _utf16(m.group())), text)


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def field_text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v).replace("_", " ") for v in value)
    if isinstance(value, str) and value in _CHOICE_WORDS:
        return value.replace("_", " ")
    return clean(str(value))


_CHOICE_WORDS = {
    *schema.DANGER, *schema.THREAT_FROM, *schema.DETENTION, *schema.LOCATION, *schema.DOCUMENTS, *schema.CONTACT_METHOD,
}  # fmt: skip


def level_text(level: str) -> Text:
    return Text(level, style=LEVEL_STYLE.get(level, ""))


def cases_table(cases: Iterable[Case], *, title: str) -> Table:
    table = Table(title=title, header_style="bold", expand=False, show_lines=False)
    for name, justify in (("ID", "left"), ("Level", "left"), ("Score", "right"), ("Days", "right"),
                          ("Status", "left"), ("People", "right"), ("Reasons", "left")):  # fmt: skip
        table.add_column(name, justify=justify, no_wrap=name in ("ID", "Level"))  # type: ignore[arg-type]
    for case in cases:
        table.add_row(
            Text(case.short_id),
            level_text(case.priority.level),
            Text(str(case.priority.score)),
            Text(str(case.days_waiting)),
            Text(case.record.status.replace("_", " ")),
            Text(str(case.request["people"])),
            Text("; ".join(case.priority.reasons)),
        )
    return table


def case_view(case: Case, readers: str | None = None) -> Group:
    header = Text.assemble(
        ("Case ", "bold"), (case.entry_id.hex(), "bold"), "\n",
        "Level ", level_text(case.priority.level), f"   score {case.priority.score}",
        f"   waiting {case.days_waiting} days   status {case.record.status.replace('_', ' ')}",
        f"\nSerial {case.serial}, imported on {case.imported_on.isoformat()}",
    )  # fmt: skip
    reasons = Text("\n".join(f"• {r}" for r in case.priority.reasons) or "No rule matched.")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    for key in (*schema.REQUEST_FIELDS, "locale", "submitted_on"):
        if key in ("story", "consent"):
            continue
        facts.add_row(Text(LABELS[key]), Text(field_text(case.request.get(key))))
    parts: list[Any] = [
        Panel(header, title="Priority", title_align="left"),
        Panel(reasons, title="Why", title_align="left"),
        Panel(facts, title="Request", title_align="left"),
        Panel(Text(clean(case.request["story"])), title="Their words", title_align="left"),
    ]
    if case.record.notes or case.record.history:
        lines = [f"{n['on']}  {clean(n['by'])}: {clean(n['text'])}" for n in case.record.notes]
        lines += [f"{h['on']}  {clean(h['by'])} set status {h['status']}" for h in case.record.history]
        parts.append(Panel(Text("\n".join(lines)), title="Notes and history", title_align="left"))
    parts.append(Panel(Text(thread_text(case)), title="Conversation", title_align="left"))
    if readers is not None:
        parts.append(Panel(Text(readers), title="Who could read this request", title_align="left"))
    return Group(*parts)


_OUT_STATES = {"queued": "queued, leaves with the next `triage ack`", "sent": "sent"}


def thread_text(case: Case) -> str:
    """The conversation, oldest first: who wrote what, on which day; new messages marked."""
    if not case.request.get("reply_key"):
        return "This request was sent before replies were possible: no reply can reach the person through the service."
    if not case.record.thread:
        return "No messages yet. Write one with `triage reply " + case.short_id + "`."
    lines = []
    for message in case.record.thread:
        if message.get("dir") == "in":
            mark = " NEW" if message.get("state") == "unread" else ""
            lines.append(f"{message['on']}  the person{mark}:\n  {clean(message['text'])}")
        else:
            state = _OUT_STATES.get(message.get("state", ""), "")
            lines.append(f"{message['on']}  {clean(message.get('by', ''))} ({state}):\n  {clean(message['text'])}")
    return "\n".join(lines)


def _csv_cell(value: Any) -> str:
    text = value if isinstance(value, str) else ", ".join(value) if isinstance(value, list) else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text  # a spreadsheet must show this text, not run it as a formula
    return text


def write_csv(cases: Iterable[Case], out: BinaryIO) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["id", "level", "score", "status", "days_waiting", "reasons", "submitted_on", *CSV_FIELDS])
    for case in cases:
        r = case.request
        writer.writerow(
            [case.entry_id.hex(), case.priority.level, case.priority.score, case.record.status, case.days_waiting,
             _csv_cell("; ".join(case.priority.reasons)), r["submitted_on"],
             *(_csv_cell("" if r.get(f) is None else r.get(f)) for f in CSV_FIELDS)]
        )  # fmt: skip
        if buffer.tell() > 1 << 20:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode("utf-8"))


def case_json(case: Case) -> bytes:
    # json.dumps already escapes C0 controls; bidi controls, U+2028/9 and the like are escaped here (only
    # inside strings can they occur, and there an escape is the same value).
    return _escape_disguising(json.dumps(case.summary(), ensure_ascii=False, separators=(",", ":"))).encode("utf-8")


def write_json(encoded: Iterable[bytes], out: BinaryIO) -> None:
    out.write(b"[")
    first = True
    for item in encoded:
        out.write(b"\n" if first else b",\n")
        out.write(item)
        first = False
    out.write(b"\n]\n")


def console_for(stream: Any = None, *, stderr: bool = False) -> Console:
    return Console(file=stream, stderr=stderr, highlight=False, soft_wrap=False)
