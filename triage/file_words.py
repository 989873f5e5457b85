"""The words every face uses about a case's files: what their metadata revealed, why one was not shown.

The metadata warnings come first in the caseworker's view of a file: a photo that says where it was
taken may put the person at risk if it leaks, so the GPS sentence is the first and the loudest.
"""

from __future__ import annotations

from triage.i18n import N_, Translator

# In the order shown: the most dangerous first.
FACT_WORDS = (
    ("gps", N_("This photo says where it was taken: %(value)s. The person may be at risk if it leaks: "
               "do not pass the original on; share a cleaned copy.")),
    ("device", N_("It names the device it was made on: %(value)s.")),
    ("taken", N_("It says when it was made: %(value)s.")),
    ("author", N_("It names an author: %(value)s.")),
    ("software", N_("It names the software that made it: %(value)s.")),
    ("title", N_("It carries a title: %(value)s.")),
    ("comment", N_("It carries a comment: %(value)s.")),
)  # fmt: skip
REFUSAL_WORDS = {
    "too_large": N_("This file is too large for the safe view."),
    "not_viewable": N_("The safe view shows only photos, pictures and PDF documents. This file's facts are above; "
                       "save it only to look at it on a machine that is never connected to a network."),
    "too_many_pixels": N_("This picture claims more pixels than the safe view decodes (it may be a decompression "
                          "bomb); it was not shown."),
    "unreadable": N_("This file is damaged or is not what its first bytes say; it was not shown."),
    "crashed": N_("The decoder stopped on this file (it may be crafted to attack it); nothing of it was shown, and "
                  "the desk goes on."),
    "too_slow": N_("Decoding this file took longer than the safe view allows (it may be crafted to exhaust the "
                   "laptop); it was not shown."),
}  # fmt: skip


def fact_warnings(facts: dict[str, str], t: Translator) -> list[tuple[str, str]]:
    """(fact key, sentence) for each thing the metadata said, the GPS position first."""
    return [(key, t.gettext(words, value=facts[key])) for key, words in FACT_WORDS if facts.get(key)]


def refusal_text(reason: str, t: Translator) -> str:
    return t.gettext(REFUSAL_WORDS.get(reason, REFUSAL_WORDS["crashed"]))


def size_text(size: int, t: Translator) -> str:
    if size < 1024:
        return t.ngettext("%(num)d byte", "%(num)d bytes", size)
    if size < 1024 * 1024:
        return t.gettext("%(size)s KiB", size=f"{size / 1024:.1f}")
    return t.gettext("%(size)s MiB", size=f"{size / 1024 / 1024:.1f}")
