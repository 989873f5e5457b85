"""One passphrase rule in code and docs; keygen suggests words, asks again on a weak passphrase, and reads a
piped passphrase without Python's GetPassWarning."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from tests.triage.helpers import PASSPHRASE, Triage
from triage import passphrase
from triage.passphrase import RULE, WeakPassphraseError, check_passphrase, suggest, word_list, words_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("language", passphrase.LANGUAGES)
def test_word_lists_are_512_distinct_words_easy_to_write(language: str) -> None:
    words = word_list(language)
    assert len(words) == 512 == len(set(words))
    letters = r"[a-z]{3,8}" if language == "en" else r"[а-яй]{3,8}"
    assert all(re.fullmatch(letters, w) for w in words), [w for w in words if not re.fullmatch(letters, w)]


@pytest.mark.parametrize("language", passphrase.LANGUAGES)
def test_a_suggestion_meets_the_rule_and_says_its_strength(language: str) -> None:
    offer = suggest(language)
    check_passphrase(offer.text)
    assert offer.bits == 72  # 8 words × log2(512)
    assert set(offer.text.split()) <= set(word_list(language))


def test_the_rule_in_the_docs_is_the_rule_in_the_code() -> None:
    operations = re.sub(r"\s+", " ", (ROOT / "docs" / "OPERATIONS.md").read_text())
    assert RULE in operations


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Passw0rd!Passw0rd!", False),
        ("correct horse battery staple", False),
        ("a b c d e f g h", False),
        ("one one one one one one", False),
        ("amber birch cedar delta ember fjord", True),
        ("amber-birch-cedar-delta-ember-fjord", True),
        ("якорь малина сова трамвай пирог облако", True),
    ],
)
def test_the_rule(text: str, ok: bool) -> None:
    if ok:
        check_passphrase(text)
    else:
        with pytest.raises(WeakPassphraseError, match="at least 6 different words"):
            check_passphrase(text)


@given(st.text(max_size=300))
def test_any_text_is_accepted_or_refused_with_the_rule(text: str) -> None:
    try:
        check_passphrase(text)
    except WeakPassphraseError as error:
        assert len(words_in(text)) < 6 and RULE in str(error)
    else:
        assert len(words_in(text)) >= 6


@given(st.lists(st.sampled_from(word_list("ru") + word_list("en")), min_size=6, max_size=10, unique=True),
       st.sampled_from([" ", "-", ".", "  ", "_", "1"]))  # fmt: skip
def test_six_different_list_words_always_pass(words: list[str], separator: str) -> None:
    check_passphrase(separator.join(words))


def test_keygen_suggests_words_and_asks_again_on_a_weak_passphrase(triage: Triage) -> None:
    # Given a person who first types a weak passphrase, then a strong one twice
    result = triage.run("keygen", "--name", "Alice", "--words", "ru", passphrase=False,
                        input=f"Passw0rd!\n{PASSPHRASE}\n{PASSPHRASE}\n")  # fmt: skip
    # Then keygen offered Russian words with their strength, refused the weak one, and asked again
    assert result.exit_code == 0, result.output
    suggestion = re.search(r"^    (\S.*)$", result.output, re.MULTILINE)
    assert suggestion and set(suggestion.group(1).split()) <= set(word_list("ru"))
    assert "72 bits" in result.output and "Try again" in result.output
    assert PASSPHRASE not in result.output and "Passw0rd" not in result.output
    crypto.unlock_identity((triage.home / "Alice.key").read_bytes(), PASSPHRASE, min_kdf=crypto.KDF_FOR_TESTS_ONLY)


def test_keygen_gives_up_cleanly_after_weak_passphrases(triage: Triage) -> None:
    result = triage.run("keygen", "--name", "Alice", passphrase=False, input="short\n" * 10)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no key was made" in result.output and not (triage.home / "Alice.key").exists()


@pytest.mark.slow
def test_a_piped_passphrase_gives_no_getpass_warning(tmp_path: Path) -> None:
    # Given no terminal at all (a new session: getpass cannot open /dev/tty) and the passphrase on a pipe
    done = subprocess.run(
        [sys.executable, "-m", "triage.cli", "--home", tmp_path / "home", "keygen", "--name", "Alice"],
        input=f"{PASSPHRASE}\n{PASSPHRASE}\n", capture_output=True, text=True, timeout=120, start_new_session=True,
        cwd=ROOT,
    )  # fmt: skip
    # Then the key is made, with no Python warning and no echo of the passphrase
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "GetPassWarning" not in done.stderr
    assert PASSPHRASE not in done.stdout + done.stderr
    crypto.unlock_identity((tmp_path / "home" / "Alice.key").read_bytes(), PASSPHRASE)
