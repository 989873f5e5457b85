"""How cases look: a one-line-per-case table, one case laid out for reading, CSV and JSON for other tools.

The table and the case are in the caseworker's language (a ``Translator``), with the form's own words
for every answer; CSV and JSON keep the codes and the policy's words, for other tools.

Request text comes from strangers. It is always handed to rich as ``Text`` (never markup), and
characters that can disguise text on a terminal (bidi overrides, zero-width characters, carriage
returns) are made visible; CSV cells that a spreadsheet would run as a formula are defused.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, BinaryIO

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from triage import groups
from triage.answers_view import SHIPPED, story_field
from triage.cases import Case
from triage.i18n import Translator
from triage.labels import (
    LANGUAGE_OF_FORM,
    SHORT_LOCATION,
    answer_text,
    case_fields,
    field_label,
    field_short,
    level_word,
    ranked_reasons,
    status_text,
    words_warning,
)
from triage.policy import LEVELS
from triage.reply_words import asks_to_change_contact_or_plans, reply_label, reply_state, verify_warning
from triage.text import clean, escape_disguising, first_line
from triage.trail import audit_trail

LEVEL_STYLE = {"emergency": "bold white on red", "urgent": "bold yellow", "normal": "green"}
PAYLOAD_KEYS = ("schema", "kind", "locale", "submitted_on", "reply_key", "files")


def field_text(case: Case, name: str, value: Any, t: Translator) -> str:
    """An answer as the person saw it on the form, in the caseworker's language."""
    return clean(answer_text(case.asked, name, value, t)) or "—"


def level_text(level: str, t: Translator) -> Text:
    return Text(level_word(level, t), style=LEVEL_STYLE.get(level, ""))


def queue_heading(
    shown: int, cases: Sequence[Case], t: Translator, statuses: Sequence[str] = (), *, rows: int | None = None
) -> str:
    """The count at the top: how many cases, how many per level, and how many of them are on screen."""
    levels = Counter(case.priority.level for case in cases)
    per_level = ", ".join(f"{level_word(level, t)} {levels[level]}" for level in LEVELS if levels[level])
    line = t.ngettext("%(num)d case", "%(num)d cases", len(cases))
    if statuses:
        line += " (" + ", ".join(status_text(s, t) for s in statuses) + ")"
    if per_level:
        line += ": " + per_level
    if shown < (len(cases) if rows is None else rows):
        line += ". " + t.gettext("Showing the first %(shown)s; --limit N or --all for more.", shown=shown)
    return line


def fold_bursts(cases: Sequence[Case], *, each: bool = False) -> tuple[list[Case], dict[bytes, int], int]:
    """The rows of the table: a burst of near-identical requests as its most urgent member (``each``: all).

    Returns the rows, how many others each burst's row stands for, and how many bursts there are.
    """
    bursts = groups.relations(cases).bursts if not each else []
    hidden = {c.entry_id for burst in bursts for c in burst[1:]}
    sizes = {burst[0].entry_id: len(burst) - 1 for burst in bursts}
    return [c for c in cases if c.entry_id not in hidden], sizes, len(bursts)


def burst_line(bursts: int, t: Translator) -> str:
    return t.ngettext(
        "%(num)d burst of near-identical requests sent close together is shown as one row, marked [+N≈]; "
        "`triage list --each` gives each request its own row.",
        "%(num)d bursts of near-identical requests sent close together are each shown as one row, marked [+N≈]; "
        "`triage list --each` gives each request its own row.", bursts)  # fmt: skip


NARROW = 110  # below this many columns, the reasons keep their room and the minor columns go
MINOR_COLUMNS = ("score", "people", "where")  # dropped on a narrow terminal, in this order of need


def cases_table(
    cases: Iterable[Case], t: Translator, *, width: int = 200, burst_sizes: Mapping[bytes, int] | None = None
) -> Table:
    """One line per case, so a screen holds as many cases as it has lines; long text ends in "…".

    A column with nothing in it is left out, and on a terminal narrower than ``NARROW`` so are the score,
    the number of people and the place, so that the reasons (weightiest first) keep their room.
    ``burst_sizes`` marks a row that stands for a burst of near-identical requests (``triage.groups``).
    """
    names = {"id": t.gettext("ID"), "level": t.gettext("Level"), "score": t.gettext("Score"),
             "days": t.gettext("Days"), "status": t.gettext("Status"), "where": t.gettext("Where"),
             "people": t.gettext("People"), "assigned": t.gettext("Assigned"), "why": t.gettext("Why"),
             "words": t.gettext("Story")}  # fmt: skip
    rows = []
    for case in cases:
        location = case.request.get("location")
        others = (burst_sizes or {}).get(case.entry_id, 0)
        story = first_line(case.story)
        people = case.request.get("people")
        rows.append({
            "id": Text(case.short_id), "level": level_text(case.priority.level, t),
            "score": Text(str(case.priority.score)), "days": Text(str(case.days_waiting)),
            "status": Text(status_text(case.record.status, t)),
            "where": Text(t.gettext(SHORT_LOCATION[location]) if location in SHORT_LOCATION else ""),
            "people": Text("" if people is None else str(people)), "assigned": Text(clean(case.record.assignee)),
            "why": Text("; ".join(r.rsplit(" (", 1)[0] for r in ranked_reasons(case.priority, t))),
            "words": Text(f"[+{others}≈] {story}" if others else story),
        })  # fmt: skip
    keep = [key for key in names if key in ("id", "level", "why", "words") or any(r[key].plain for r in rows)]
    if width < NARROW:
        keep = [key for key in keep if key not in MINOR_COLUMNS]
    table = Table(box=None, header_style="bold", pad_edge=False, expand=True, show_edge=False)
    for key in keep:
        table.add_column(
            names[key], justify="right" if key in ("score", "days", "people") else "left", no_wrap=True,
            overflow="ellipsis", min_width={"id": 8, "why": 24 if width < NARROW else 30}.get(key),
            ratio={"why": 3, "words": 2}.get(key),
        )  # fmt: skip
    for row in rows:
        table.add_row(*(row[key] for key in keep))
    return table


def case_view(case: Case, t: Translator, readers: list[tuple[str | None, str]] | None = None) -> Group:
    header = Text.assemble(
        (t.gettext("Case") + " ", "bold"), (case.entry_id.hex(), "bold"), "\n",
        level_text(case.priority.level, t), "   ",
        t.ngettext("%(num)d point", "%(num)d points", case.priority.score), "   ",
        t.ngettext("waiting %(num)d day", "waiting %(num)d days", case.days_waiting), "   ",
        status_text(case.record.status, t),
        ("   " + t.gettext("assigned to %(name)s", name=clean(case.record.assignee))) if case.record.assignee else "",
        "\n", t.gettext("serial %(serial)s, imported on %(day)s", serial=case.serial, day=case.imported_on.isoformat()),
    )  # fmt: skip
    reasons = Text("\n".join(f"• {r}" for r in ranked_reasons(case.priority, t)) or t.gettext("No rule matched."))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=False, max_width=40)
    facts.add_column()
    for key in case_fields(case.asked, case.request):
        value = case.request.get(key)
        if value is None or value == "" or value == []:
            continue  # an unanswered question takes no line: the case fits a 30-line terminal more often
        facts.add_row(Text(field_label(case.asked, key, t)), Text(field_text(case, key, value, t)))
    locale = case.request.get("locale")
    facts.add_row(
        Text(t.gettext("Language of the form")),
        Text(t.gettext(LANGUAGE_OF_FORM[locale]) if locale in LANGUAGE_OF_FORM else clean(str(locale))),
    )
    facts.add_row(Text(t.gettext("Sent on")), Text(str(case.request.get("submitted_on"))))
    parts: list[Any] = [
        Panel(Group(header, Text(""), reasons), title=t.gettext("Why this level"), title_align="left"),
        Panel(facts, title=t.gettext("The request"), title_align="left"),
    ]
    warning = words_warning(case.asked, t)
    if warning:
        parts.insert(1, Panel(Text(warning), title=t.gettext("Words missing"), title_align="left", style="bold"))
    story = story_field(case.asked.questionnaire)
    if story is not None:
        parts.append(Panel(Text(clean(case.story)), title=field_short(case.asked, story, t), title_align="left"))
    if case.record.notes:
        notes = "\n".join(f"{n['on']}  {clean(n['by'])}: {clean(n['text'])}" for n in case.record.notes)
        parts.append(Panel(Text(notes), title=t.gettext("Notes"), title_align="left"))
    trail = audit_trail(case.record, t)
    if trail:
        lines = "\n".join(f"{entry.on}  {entry.text}" for entry in trail)
        parts.append(Panel(Text(lines), title=t.gettext("Who did what"), title_align="left"))
    parts.append(Panel(Text(thread_text(case, t)), title=t.gettext("Conversation"), title_align="left"))
    parts.append(Panel(Text(readers_text(readers, t)), title=t.gettext("Who could read this request"),
                       title_align="left"))  # fmt: skip
    return Group(*parts)


def readers_text(readers: list[tuple[str | None, str]] | None, t: Translator) -> str:
    if readers is None:
        return t.gettext("Not recorded: this request came in a bundle from an older server, which did not say.")
    unknown = t.gettext("a key no longer in the accepted set")
    return "\n".join(f"{clean(name) if name else unknown}  {fp}" for name, fp in readers)


def thread_text(case: Case, t: Translator) -> str:
    """The conversation, oldest first: who wrote what, on which day; new messages marked."""
    if not case.request.get("reply_key"):
        return t.gettext("This request was sent before replies were possible: no reply can reach the person "
                         "through the service.")  # fmt: skip
    if not case.record.thread:
        return t.gettext("No messages yet. Write one with `triage reply %(id)s`.", id=case.short_id)
    lines = []
    for message in case.record.thread:
        if message.get("dir") == "in":
            alias = clean(str(case.request.get("alias") or "")) or t.gettext("the person")
            who = alias + (", " + t.gettext("NEW") if message.get("state") == "unread" else "")
            lines.append(f"{message['on']}  {who}:\n  {clean(message['text'])}")
            if asks_to_change_contact_or_plans(message["text"]):
                lines.append(f"  ! {verify_warning(t)}")
        else:
            label = reply_label(message, t)
            state = f"{label}, {reply_state(message, t)}" if label else reply_state(message, t)
            lines.append(f"{message['on']}  {clean(message.get('by', ''))} ({state}):\n  {clean(message['text'])}")
    return "\n".join(lines)


def _csv_cell(value: Any) -> str:
    text = value if isinstance(value, str) else ", ".join(value) if isinstance(value, list) else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text  # a spreadsheet must show this text, not run it as a formula
    return text


def csv_fields(cases: Sequence[Case]) -> tuple[list[str], bool]:
    """The answer columns (field ids, the first questionnaire's order first, then any other's), and whether a
    ``questionnaire`` column is needed (some case was not made with the shipped form)."""
    columns: dict[str, None] = {}
    seen: set[Any] = set()
    others = False
    for case in cases:
        q = case.asked.questionnaire
        key = q.sha256 if q is not None else tuple(case.request)
        others = others or case.asked.questionnaire_id != SHIPPED or q is None
        if key in seen:
            continue
        seen.add(key)
        names = [f.id for f in q.fields if f.kind != "consent"] if q is not None else [
            k for k in case.request if k not in PAYLOAD_KEYS and case.request[k] is not True]  # fmt: skip
        columns.update(dict.fromkeys(names))
    return list(columns), others


def write_csv(cases: Sequence[Case], out: BinaryIO) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    fields, others = csv_fields(cases)
    extra = ["questionnaire"] if others else []
    writer.writerow(["id", "level", "score", "status", "days_waiting", "reasons", "submitted_on", *fields, *extra])
    for case in cases:
        r = case.request
        ref = case.asked.ref
        writer.writerow(
            [case.entry_id.hex(), case.priority.level, case.priority.score, case.record.status, case.days_waiting,
             _csv_cell("; ".join(case.priority.reasons)), r["submitted_on"],
             *(_csv_cell("" if r.get(f) is None else r.get(f)) for f in fields),
             *([f"{ref.get('id')} {ref.get('version')} {ref.get('sha256')}"] if others else [])]
        )  # fmt: skip
        if buffer.tell() > 1 << 20:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode("utf-8"))


def case_json(case: Case) -> bytes:
    # json.dumps already escapes C0 controls; bidi controls, U+2028/9 and the like are escaped here (only
    # inside strings can they occur, and there an escape is the same value).
    return escape_disguising(json.dumps(case.summary(), ensure_ascii=False, separators=(",", ":"))).encode("utf-8")


WRITE_CASES = 256  # cases joined into one write: 100,000 cases were 200,000 writes and some 45,000 syscalls


def write_json(encoded: Iterable[bytes | memoryview], out: BinaryIO) -> None:
    """The cases' encodings as one JSON array, each on its own line, written a few hundred cases at a time."""
    out.write(b"[")
    separator, batch = b"\n", []
    for item in encoded:
        batch.append(item)
        if len(batch) == WRITE_CASES:
            out.write(separator)
            out.write(b",\n".join(batch))
            separator, batch = b",\n", []
    if batch:
        out.write(separator)
        out.write(b",\n".join(batch))
    out.write(b"\n]\n")


def console_for(stream: Any = None, *, stderr: bool = False) -> Console:
    return Console(file=stream, stderr=stderr, highlight=False, soft_wrap=False)


__all__ = ["case_json", "case_view", "cases_table", "clean", "console_for", "queue_heading", "write_csv", "write_json"]
