"""Receipts: 30 digits (>= 90 bits), forgiving input, stored only as a keyed hash."""

from __future__ import annotations

import math
import secrets

from hypothesis import given
from hypothesis import strategies as st

from intake.receipts import DIGITS, new_receipt, normalize_receipt, receipt_lookup_key


def test_receipt_has_at_least_90_bits_and_is_grouped() -> None:
    assert DIGITS * math.log2(10) >= 90
    receipt = new_receipt()
    groups = receipt.split(" ")
    assert [len(g) for g in groups] == [10] * 3 and all(g.isdigit() for g in groups)
    assert len({new_receipt() for _ in range(200)}) == 200


@given(st.lists(st.sampled_from([" ", "-", "–", ".", "/", "\t", "  ", "_"]), min_size=29, max_size=29))
def test_separators_do_not_matter(separators: list[str]) -> None:
    digits = new_receipt().replace(" ", "")
    typed = "".join(d + s for d, s in zip(digits, [*separators, ""], strict=True))
    assert normalize_receipt(typed) == digits


def test_other_digit_scripts_count_but_letters_do_not() -> None:
    digits = "0123456789" * 3
    assert normalize_receipt("".join(chr(0x0660 + int(d)) for d in digits)) == digits  # Arabic-Indic digits
    assert normalize_receipt(digits[:-1] + "O") is None
    assert normalize_receipt(digits[:-1]) is None
    assert normalize_receipt(digits + "1") is None


@given(st.text(max_size=200))
def test_normalize_never_raises(text: str) -> None:
    result = normalize_receipt(text)
    assert result is None or (len(result) == DIGITS and result.isascii() and result.isdigit())


def test_lookup_key_is_keyed() -> None:
    receipt = new_receipt().replace(" ", "")
    one, two = secrets.token_bytes(32), secrets.token_bytes(32)
    assert receipt_lookup_key(receipt, one) == receipt_lookup_key(receipt, one)
    assert receipt_lookup_key(receipt, one) != receipt_lookup_key(receipt, two)
    assert receipt.encode() not in receipt_lookup_key(receipt, one)
