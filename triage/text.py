"""Text from strangers, made safe to show: no invisible formatting, no overprinting, one line when asked."""

from __future__ import annotations

import functools
import re
import unicodedata

# Format (bidi overrides, zero-width), control, private-use, and the line/paragraph separators U+2028/9,
# which some terminals and viewers break lines at while others do not.
_DISGUISING = frozenset({"Cf", "Cc", "Co", "Zl", "Zp"})
DISGUISING = _DISGUISING  # the same set, for modules that filter rather than mark (the desk's search box)


def clean(value: str) -> str:
    """Text safe to print on a terminal or a page: bidi, zero-width and control characters become visible
    ``<U+XXXX>`` marks, and carriage returns become new lines (no overprinting)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        f"<U+{ord(ch):04X}>" if unicodedata.category(ch) in _DISGUISING and ch not in "\n\t" else ch
        for ch in value
    )


def first_line(text: str, limit: int | None = None) -> str:
    """The first non-empty line, cleaned; cut to ``limit`` characters with "…" if given."""
    line = clean(text.strip().split("\n", 1)[0].strip())
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"


@functools.cache
def _disguising_pattern() -> re.Pattern[str]:
    # Cf, Zl and Zp all lie below U+30000 or in the tags block; private use (Co) is three known ranges.
    found = [c for r in (range(0x30000), range(0xE0000, 0xE0080)) for c in r
             if unicodedata.category(chr(c)) in _DISGUISING and chr(c) not in "\n\t"]  # fmt: skip
    # Written as ~25 ranges, not ~2,200 single characters: the same set, and sub() runs about 10x faster
    # (it runs over every case of `triage list --json`).
    spans: list[list[int]] = []
    for c in found:
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    ranges = "".join(re.escape(chr(a)) + ("" if a == b else "-" + re.escape(chr(b))) for a, b in spans)
    return re.compile(f"[{ranges}\U000f0000-\U000ffffd\U00100000-\U0010fffd]")


def escape_disguising(text: str) -> str:
    """JSON text with every disguising character written as a \\u escape: the same JSON value, inert on a terminal."""
    # str.isprintable() is False for every disguising category (Cc, Cf, Co, Zl, Zp; also for a few harmless
    # ones such as no-break spaces): a C-speed pass that lets most cases skip the regex.
    if text.isprintable():
        return text
    return _disguising_pattern().sub(_escape_match, text)


def _escape_match(match: re.Match[str]) -> str:
    return "".join(f"\\u{u:04x}" for u in _utf16(match.group()))


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
