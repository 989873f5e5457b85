"""Passphrases: the one strength rule, a suggested passphrase a person can write on paper, and reading one.

The rule (docs/OPERATIONS.md, section 2, says the same): **at least six different words of three or more
letters each**, in any language, separated by spaces, hyphens or anything else that is not a letter.
Chosen at random, six words from a 7,776-word diceware list give 77 bits and the eight words
``suggest`` draws from its 512-word list give 72 bits; argon2id (256 MiB) then makes every guess slow.
A rule about characters (the old "8 characters") let "Passw0rd" through; a rule about words cannot be
met by one word with digits, and it is the advice a caseworker can follow and check by eye.

Reading from a pipe never goes through ``getpass``: without a terminal it warns (GetPassWarning) and may
echo, so a line is read from standard input instead.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
import sys
from dataclasses import dataclass
from importlib import resources

import click

from triage.errors import HomeError

MIN_WORDS = 6
MIN_WORD_LETTERS = 3
SUGGESTED_WORDS = 8
LANGUAGES = ("en", "ru")
NEW_PASSPHRASE_ROUNDS = 5

RULE = f"at least {MIN_WORDS} different words of {MIN_WORD_LETTERS} or more letters each"


class WeakPassphraseError(HomeError):
    """The passphrase does not meet RULE; the message says how far it is."""


@dataclass(frozen=True)
class Suggestion:
    text: str
    bits: int


def word_list(language: str) -> list[str]:
    """The shipped list for ``language`` ("en" or "ru"): 512 distinct lowercase words."""
    if language not in LANGUAGES:
        raise HomeError(f"Suggested words exist in {', '.join(LANGUAGES)}, not {language!r}.")
    text = resources.files("triage").joinpath(f"words_{language}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def suggest(language: str = "en", words: int = SUGGESTED_WORDS) -> Suggestion:
    """Words drawn with ``secrets``; ``bits`` is what an attacker who knows the list must still guess."""
    choices = word_list(language)
    picked = [secrets.choice(choices) for _ in range(words)]
    return Suggestion(" ".join(picked), math.floor(words * math.log2(len(choices))))


def words_in(passphrase: str) -> list[str]:
    """The distinct words (runs of letters, any alphabet) of RULE's length, case-folded."""
    found: list[str] = []
    for word in re.findall(r"[^\W\d_]+", passphrase):
        folded = word.casefold()
        if len(folded) >= MIN_WORD_LETTERS and folded not in found:
            found.append(folded)
    return found


def check_passphrase(passphrase: str) -> None:
    """Raise ``WeakPassphraseError`` unless ``passphrase`` meets RULE."""
    count = len(words_in(passphrase))
    if count < MIN_WORDS:
        raise WeakPassphraseError(
            f"This passphrase has {count} word(s) that count; choose {RULE} (for example the suggested one)."
        )


def read_secret(prompt: str) -> str:
    """One passphrase from a person at a terminal (not echoed), or one line from a pipe."""
    if sys.stdin is not None and sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True, err=True))
    click.echo(f"{prompt} (reading from standard input): ", err=True, nl=False)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    click.echo("", err=True)
    if not line:
        raise HomeError("No passphrase was given (standard input ended); for scripts use --passphrase-file FILE.")
    return line.rstrip("\r\n")


def ask_new_passphrase(language: str = "en") -> str:
    """Offer a suggestion, then ask until a passphrase meets RULE and is typed the same twice."""
    offer = suggest(language)
    click.echo(
        f"A passphrase you can use (write it on paper, keep the paper apart from the laptop):\n\n"
        f"    {offer.text}\n\n"
        f"({SUGGESTED_WORDS} random words, {offer.bits} bits.) Type it, or your own: {RULE}.",
        err=True,
    )
    for _ in range(NEW_PASSPHRASE_ROUNDS):
        first = read_secret("New passphrase")
        try:
            check_passphrase(first)
        except WeakPassphraseError as weak:
            click.echo(f"{weak} Try again.", err=True)
            continue
        again = read_secret("Repeat the passphrase")
        if hmac.compare_digest(first.encode("utf-8"), again.encode("utf-8")):
            return first
        click.echo("The two passphrases differ; start again.", err=True)
    raise HomeError("No passphrase was chosen, so no key was made; run `triage keygen` again when ready.")
