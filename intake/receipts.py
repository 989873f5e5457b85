"""Receipts: what a person writes down to check on their request later.

Why 30 digits in three groups of ten (``1234567890 1234567890 1234567890``, about 99.7 bits):
digits are the same in Russian and English, so nothing is lost to transliteration, and no letter can be
confused with another (Cyrillic ``о``/``с``/``р`` against Latin ``o``/``c``/``p``, ``0``/``O``, ``1``/``l``).
Phones show a numeric keypad for ``inputmode="numeric"``. Three groups of ten can be kept the way people
already keep numbers, as three phone numbers in their contacts (issue 19 item 3), and read back a group at a
time. Input is normalised by keeping decimal digits only (spaces, dashes and any other separators are
ignored; non-ASCII decimal digits count as their value), so a person never fails on formatting.
No check digit: a mistyped receipt gets the same answer as an unknown one, by design.

The server never stores a receipt, only ``receipt_lookup_key``: keyed BLAKE2b under the instance's
32-byte secret. Without that secret a stolen database cannot be searched for a receipt, and 10^30
receipts make guessing against a running server pointless (the status form is rate limited too).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata

DIGITS = 30
GROUP = 10
MAX_INPUT_CHARS = 120
SECRET_BYTES = 32
_PERSON = b"intake-receipt"


def new_receipt() -> str:
    """A fresh receipt, grouped for reading: '1234567890 1234567890 1234567890'."""
    number = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    return " ".join(number[i : i + GROUP] for i in range(0, DIGITS, GROUP))


def normalize_receipt(text: str) -> str | None:
    """The 30 digits of ``text``, or None when it cannot be a receipt (the caller answers 'not found')."""
    if not isinstance(text, str) or len(text) > MAX_INPUT_CHARS:
        return None
    digits = []
    for ch in text:
        value = unicodedata.decimal(ch, None)
        if value is not None:
            digits.append(str(value))
        elif unicodedata.category(ch).startswith("L"):
            return None  # a letter: not something we ever issued
    number = "".join(digits)
    return number if len(number) == DIGITS else None


def receipt_lookup_key(receipt: str, secret: bytes) -> bytes:
    """The keyed hash stored in place of a normalised receipt."""
    if len(secret) != SECRET_BYTES:
        raise ValueError("the receipt secret is 32 bytes")
    return hashlib.blake2b(receipt.encode("ascii"), key=secret, person=_PERSON, digest_size=32).digest()
