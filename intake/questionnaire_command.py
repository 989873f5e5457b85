"""`intake questionnaire check FILE`: validate a questionnaire, print its sizes and a preview per language.

An organisation writes its own questions in one TOML file (docs/FORMAT.md §10); this is how an operator
checks one before using it: the same loader the server and triage use, the largest payload its bounds
allow against the one envelope size, and the form as plain text in every language, so a reviewer who
reads only one of them can still check their part.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from crypto.questionnaire import MAX_FILE_BYTES, Field, Questionnaire, QuestionnaireError, load_questionnaire
from crypto.questionnaire_size import check_fits
from intake.files import FileRefused, open_regular

MARKS = {"one_of": "( )", "any_of": "[ ]", "consent": "[ ]"}


def read_questionnaire_file(path: Path) -> bytes:
    """A regular file of at most MAX_FILE_BYTES (``intake.files``: never a device, a FIFO or a folder)."""
    try:
        with open_regular(path, "a questionnaire") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_FILE_BYTES:
                raise QuestionnaireError(f"{path}: is larger than {MAX_FILE_BYTES // 1024} KiB")
            return handle.read(MAX_FILE_BYTES + 1)
    except FileRefused as refused:
        raise QuestionnaireError(str(refused).rstrip(".")) from None


def _bounds(f: Field) -> str:
    if f.kind == "integer":
        return f"[{f.min}–{f.max}]"
    if f.kind in ("short_text", "long_text"):
        return f"[up to {f.max_chars:,} characters]"
    if f.kind == "file":
        return f"[up to {f.max_files} files]"
    return ""


def preview(q: Questionnaire, language: str) -> list[str]:
    """The form as plain text in one language: sections, questions (* required), choices, bounds, help."""
    lines = [f"== {language}: {q.title[language]}".rstrip(": ")]
    for section in q.sections:
        lines.append("")
        lines.append(f"-- {section.title[language]}")
        for f in (f for f in q.fields if f.section == section.id):
            parts = [MARKS.get(f.kind, ""), f.label[language] + (" *" if f.required else ""), _bounds(f),
                     "(also on the short path)" if f.id in q.urgent else ""]  # fmt: skip
            lines.append(" ".join(part for part in parts if part))
            lines.extend(f"      {MARKS[f.kind]} {c.label[language]}" for c in f.choices)
            if f.help:
                lines.append(f"      ({f.help[language]})")
    return lines


@click.group("questionnaire")
def questionnaire_group() -> None:
    """The questions of the form, as data (docs/FORMAT.md §10)."""


@questionnaire_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Check FILE: refuse it with one sentence naming the place, or print its sizes and a preview.

    The sizes: the largest payload any answers can make (every character 4 bytes), and the payload with
    every answer at its bound in the widest script of the questionnaire's languages, which must fit the
    one envelope size (32,768 bytes) so that every request seals to one size.
    """
    try:
        q = load_questionnaire(read_questionnaire_file(file), source=str(file))
        report = check_fits(q)
    except QuestionnaireError as error:
        raise click.ClickException(f"This questionnaire cannot be used: {error}.") from None
    click.echo(f"{q.id}, version {q.version}: {len(q.fields)} fields in {len(q.sections)} sections, "
               f"languages {', '.join(q.languages)}")  # fmt: skip
    click.echo(f"SHA-256 (of its canonical form): {q.sha256}")
    click.echo(f"At its bounds: {report.at_bounds:,} bytes of the {report.bucket:,} an envelope holds; "
               f"worst case (4-byte characters): {report.worst_case:,} bytes, refused past {report.bucket:,} "
               "with a message")  # fmt: skip
    if q.urgent:
        click.echo(f"Short path for danger now: {', '.join(q.urgent)}")
    for language in q.languages:
        click.echo("")
        for line in preview(q, language):
            click.echo(line)
