"""The shipped questionnaire draws today's pages: the form and the short path, empty and with errors, byte for byte.

tests/intake/golden/ holds the pages the hard-coded form gave before issue 23 (tests/intake/golden_pages.py
captured them): the GET of each page and two POSTs that show every kind of error, in English and Russian.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.intake.golden_pages import pages_of

GOLDEN = Path(__file__).with_name("golden")


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return pages_of()


@pytest.mark.parametrize("name", sorted(p.stem for p in GOLDEN.glob("*.html")))
def test_the_shipped_questionnaire_gives_todays_page(pages: dict[str, str], name: str) -> None:
    assert pages[name] == (GOLDEN / f"{name}.html").read_bytes().decode("utf-8")


def test_every_golden_page_is_checked() -> None:
    assert len(list(GOLDEN.glob("*.html"))) == 12
