"""How large a questionnaire's payload can get, computed from its bounds, never guessed.

Two figures per questionnaire (docs/FORMAT.md §10.3):

Both include the largest manifest of attached files (``crypto.manifest.MANIFEST_WORST_BYTES``).

- ``worst_case``: every field at its bound and every character at its worst encoding (4 UTF-8 bytes, or
  2 for an escaped quote, backslash, tab, LF or CR): no accepted payload is ever larger.
- ``at_bounds``: every field at its bound, written in the widest script of the questionnaire's
  languages (``LANGUAGE_WIDTH``: 1 byte for English, 2 for Cyrillic, Greek, Arabic, Hebrew and Latin
  with diacritics, 3 for any other). This must fit the envelope's one bucket (``MAX_REQUEST_BYTES``):
  a person writing in their own language up to the bound the form shows is never refused for size.
  Past it (emoji take 4 bytes each) the form refuses with a message, so every payload it accepts still
  seals to one size (invariant 11).

``check_fits`` refuses a questionnaire whose ``at_bounds`` figure does not fit, naming the field whose
bound takes the most bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.manifest import MANIFEST_WORST_BYTES
from crypto.questionnaire import Field, Questionnaire, QuestionnaireError
from crypto.request_schema import MAX_REQUEST_BYTES, canonical_json

WORST_BYTES_PER_CHAR = 4
_TWO_BYTE_LANGUAGES = [  # Cyrillic, Greek, Arabic, Hebrew, Armenian, and Latin with diacritics
    "ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "tg", "uz", "az", "tr", "tk", "mn", "el", "ar", "fa", "ps",
    "ur", "ku", "he", "yi", "hy", "de", "fr", "es", "pt", "it", "pl", "cs", "sk", "sl", "hr", "ro", "hu", "nl",
    "sv", "da", "no", "fi", "et", "lv", "lt", "sq", "ca",
]  # fmt: skip
LANGUAGE_WIDTH = {"en": 1, **{language: 2 for language in _TWO_BYTE_LANGUAGES}}
DEFAULT_WIDTH = 3


def _envelope_keys(questionnaire: Questionnaire) -> int:
    """The payload's own keys around the answers, exactly, for this questionnaire's id, version and languages."""
    payload = {
        "schema": 3, "kind": "request", "locale": max(questionnaire.languages, key=len), "submitted_on": "2026-12-01",
        "reply_key": "A" * 44,
        "questionnaire": {"id": questionnaire.id, "version": questionnaire.version, "sha256": "0" * 64},
        "answers": {},
    }  # fmt: skip
    # Each answer adds "id":value and a comma between answers; field_bytes counts a comma per field,
    # one more than there are, so take that one back. The files sent with the answers (crypto.manifest) add
    # at most MANIFEST_WORST_BYTES, whatever the person wrote: both figures include it.
    return len(canonical_json(payload)) - 1 + MANIFEST_WORST_BYTES


# A file's manifest entry (the attachments' format): name, type, size, two hashes, a key, in JSON.
_MANIFEST_ENTRY = 2 + len('"name":"","type":"","size":,"sha256":"","blob_sha256":"","key":""') + 5 * 2 + 255 * 4 + \
    100 * 4 + 12 + 64 + 64 + 44


@dataclass(frozen=True)
class SizeReport:
    worst_case: int
    at_bounds: int
    bucket: int
    per_field_at_bounds: dict[str, int]

    @property
    def fits(self) -> bool:
        return self.at_bounds <= self.bucket


def width_of(languages: tuple[str, ...]) -> int:
    return max(LANGUAGE_WIDTH.get(language, DEFAULT_WIDTH) for language in languages)


def _text_bytes(chars: int, per_char: int) -> int:
    return 2 + chars * per_char  # the quotes, then each character


def field_bytes(f: Field, per_char: int) -> int:
    """The most bytes ``"id":value`` can take in the canonical payload, the comma after it included."""
    key = len(f.id) + 3 + 1
    null = [] if f.required else [4]  # an optional answer left out is written as null
    if f.kind == "one_of":
        value = max([*null, *(len(c.id) + 2 for c in f.choices)])
    elif f.kind == "any_of":
        value = 2 + sum(len(c.id) + 2 for c in f.choices) + max(0, len(f.choices) - 1)
    elif f.kind == "integer":
        value = max([*null, len(str(f.min)), len(str(f.max))])
    elif f.kind in ("short_text", "long_text"):
        assert f.max_chars is not None
        value = _text_bytes(f.max_chars, per_char)
    elif f.kind == "consent":
        value = 4
    else:
        assert f.max_files is not None
        value = 2 + f.max_files * (_MANIFEST_ENTRY + 1)
    return key + value


def size_report(questionnaire: Questionnaire, bucket: int = MAX_REQUEST_BYTES) -> SizeReport:
    keys = _envelope_keys(questionnaire)
    per_field = {f.id: field_bytes(f, width_of(questionnaire.languages)) for f in questionnaire.fields}
    worst = keys + sum(field_bytes(f, WORST_BYTES_PER_CHAR) for f in questionnaire.fields)
    return SizeReport(worst, keys + sum(per_field.values()), bucket, per_field)


def check_fits(questionnaire: Questionnaire, bucket: int = MAX_REQUEST_BYTES) -> SizeReport:
    """The size report; QuestionnaireError naming the field to shorten if the bounds do not fit the bucket."""
    report = size_report(questionnaire, bucket)
    if not report.fits:
        largest = max(report.per_field_at_bounds, key=lambda field_id: report.per_field_at_bounds[field_id])
        raise QuestionnaireError(
            f'field "{largest}": at their bounds the answers take {report.at_bounds:,} bytes in '
            f"{'/'.join(questionnaire.languages)}, more than the {bucket:,} an envelope holds; shorten this "
            f"field (its bound alone takes {report.per_field_at_bounds[largest]:,} bytes)"
        )
    return report
