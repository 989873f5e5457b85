"""Text from strangers, made safe to show: no invisible formatting, no overprinting, one line when asked."""

from __future__ import annotations

import unicodedata

# Format (bidi overrides, zero-width), control, private-use, and the line/paragraph separators U+2028/9,
# which some terminals and viewers break lines at while others do not.
DISGUISING = frozenset({"Cf", "Cc", "Co", "Zl", "Zp"})


def clean(value: str) -> str:
    """Text safe to print on a terminal or a page: bidi, zero-width and control characters become visible
    ``<U+XXXX>`` marks, and carriage returns become new lines (no overprinting)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        f"<U+{ord(ch):04X}>" if unicodedata.category(ch) in DISGUISING and ch not in "\n\t" else ch for ch in value
    )


def first_line(text: str, limit: int | None = None) -> str:
    """The first non-empty line, cleaned; cut to ``limit`` characters with "…" if given."""
    line = clean(text.strip().split("\n", 1)[0].strip())
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"
