"""Every failure a caseworker can meet has its own clear sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

import crypto
from tests.realparts import need_module
from tests.triage.helpers import Triage, assert_one_sentence
from triage.errors import explain


def all_subclasses(cls: type[Exception]) -> list[type[Exception]]:
    found: list[type[Exception]] = []
    subclasses: list[type[Exception]] = cls.__subclasses__()
    for sub in subclasses:
        found += [sub, *all_subclasses(sub)]
    return found


@pytest.mark.parametrize("kind", [crypto.CryptoError, *all_subclasses(crypto.CryptoError)], ids=lambda k: k.__name__)
def test_every_crypto_error_has_a_sentence_saying_what_to_do(kind: type) -> None:
    if kind is crypto.UnknownSignerError:
        error: BaseException = kind("secret detail", None)
    elif kind is crypto.RequestInvalidError:
        error = kind("story", "too_long")
    elif kind is crypto.RequestTooLargeError:
        error = kind(99999, 32768)
    else:
        error = kind("secret detail")
    sentence = explain(error)
    assert "unexpected" not in sentence
    assert sentence.endswith(".") and "\n" not in sentence
    if not issubclass(kind, crypto.MalformedError):
        assert "secret detail" not in sentence


@pytest.mark.parametrize("content", [b"", b"not a bundle at all", b"ITKB\x09" + bytes(200)])
def test_a_file_that_is_not_a_bundle(triage: Triage, tmp_path: Path, content: bytes) -> None:
    triage.keygen("Alice")
    path = tmp_path / "x.bundle"
    path.write_bytes(content)
    result = triage.run("import", path)
    assert_one_sentence(result)
    assert "Traceback" not in result.output


def test_triage_switches_off_core_dumps(triage: Triage) -> None:
    resource = need_module("resource")
    triage.run("--help")
    triage.run("info")
    assert resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)
