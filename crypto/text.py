"""The one definition of white space every format uses: Unicode's White_Space property, exactly.

Python's ``str.isspace()`` and ``str.strip()`` also treat U+001C-U+001F as white space; other languages'
trims differ again. FORMAT.md §1 names this set, so a name like ``"\\x1cAlice"`` means the same thing
(refused: a control character) to every implementation.
"""

from __future__ import annotations

# Unicode 15 PropList.txt, White_Space=yes: 25 code points.
WHITE_SPACE = "".join(
    chr(c)
    for c in (
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
        0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    )
)  # fmt: skip


def trim(text: str) -> str:
    """``text`` without White_Space at either end."""
    return text.strip(WHITE_SPACE)


def is_blank(text: str) -> bool:
    """True if ``text`` is empty or only White_Space."""
    return not trim(text)
