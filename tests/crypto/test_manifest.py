"""The file manifest (crypto.manifest, FORMAT.md §13.3): names made safe, entries checked, the worst case exact.

A manifest travels inside the one-size envelope; its worst-case size is part of every size computation, so
a request with five files at their widest seals to the size of a request with none.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto
from crypto import filestream
from crypto.envelope import FIXED_BUCKET, padded_size
from crypto.manifest import (
    MANIFEST_WORST_BYTES,
    MAX_FILES,
    MAX_NAME_CHARS,
    check_manifest,
    manifest_bytes,
    manifest_entry,
    sanitize_name,
    worst_manifest,
)
from crypto.request_schema import MAX_REQUEST_BYTES, canonical_json, largest_request_bytes
from tests.crypto.conftest import make_request

REPLY_KEY = crypto.derive_reply_keypair("1" * 30, b"s" * 32).public.to_b64()
DROPPED = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
BIDI_AND_FORMAT = "\u202e\u202d\u202a\u202b\u202c\u2066\u2067\u2068\u2069\u200b\u200e\u200f\ufeff\u00ad"


def _entry(data: bytes = b"%PDF-1.7 evidence", name: str = "summons.pdf", blob_id: bytes = b"\xab" * 16,
           claimed: str = "application/pdf") -> dict[str, Any]:  # fmt: skip
    _, sealed = filestream.seal_bytes(data)
    return manifest_entry(sealed, blob_id, name, claimed)


def _is_safe(name: str) -> bool:
    return (1 <= len(name) <= MAX_NAME_CHARS and "/" not in name and "\\" not in name
            and unicodedata.normalize("NFC", name) == name and name == name.strip()
            and not any(unicodedata.category(c) in DROPPED for c in name))  # fmt: skip


@given(st.text(max_size=400))
def test_a_sanitised_name_is_always_safe_and_sanitising_again_changes_nothing(name: str) -> None:
    clean = sanitize_name(name)
    assert _is_safe(clean)
    assert sanitize_name(clean) == clean


@pytest.mark.parametrize(
    ("given_name", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\Aslan\\Desktop\\паспорт.jpg", "паспорт.jpg"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("a\x00b\x1fc\x7fd", "ab cd"),  # \x1f counts as white space in Python
        ("", "file"),
        ("..", "file"),
        ("/", "file"),
        ("\u202e\u2066", "file"),
        ("  two   spaces\tand\ttabs  ", "two spaces and tabs"),
        ("e\u0301te\u0301.png", "\u00e9t\u00e9.png"),
    ],
)
def test_names_lose_paths_controls_and_bidi_characters(given_name: str, kept: str) -> None:
    assert sanitize_name(given_name) == kept


def test_every_bidi_and_format_character_is_dropped() -> None:
    assert sanitize_name("x" + BIDI_AND_FORMAT + "y") == "xy"


def test_a_valid_manifest_round_trips_and_opens_its_blob() -> None:
    blob, sealed = filestream.seal_bytes(b"the content")
    entry = manifest_entry(sealed, b"\x07" * 16, "photo.jpg", "image/jpeg")
    (checked,) = check_manifest([entry])
    assert checked.blob == b"\x07" * 16 and checked.key == sealed.key and checked.name == "photo.jpg"
    assert filestream.open_bytes(blob, checked.sealed()) == b"the content"


def test_a_blob_swapped_from_another_request_is_refused_by_the_manifest_hash() -> None:
    # Two requests, each with a file of the same size: the server swaps the blobs. Even with the right key
    # (a server that kept it could not have), the blob's SHA-256 in the manifest refuses the other blob.
    blob_a, sealed_a = filestream.seal_bytes(b"A" * 1000)
    blob_b, _ = filestream.seal_bytes(b"B" * 1000, key=sealed_a.key)
    (entry_a,) = check_manifest([manifest_entry(sealed_a, b"\x0a" * 16, "a.txt", "")])
    with pytest.raises(crypto.TamperedError):
        filestream.open_bytes(blob_b, entry_a.sealed())
    # With its own key (the real case) it does not even authenticate.
    _, sealed_c = filestream.seal_bytes(b"C" * 1000)
    blob_c, _ = filestream.seal_bytes(b"C" * 1000)
    with pytest.raises(crypto.TamperedError):
        filestream.open_bytes(blob_c, check_manifest([manifest_entry(sealed_c, b"\x0c" * 16, "c", "")])[0].sealed())
    assert filestream.open_bytes(blob_a, entry_a.sealed()) == b"A" * 1000


@pytest.mark.parametrize(
    "change",
    [
        lambda e: {**e, "blob": e["blob"].upper()},
        lambda e: {**e, "blob": e["blob"][:-2]},
        lambda e: {**e, "key": "0" * 63},
        lambda e: {**e, "name": ""},
        lambda e: {**e, "name": "a/b"},
        lambda e: {**e, "name": "x\u202e"},
        lambda e: {**e, "name": "x" * 121},
        lambda e: {**e, "name": 5},
        lambda e: {**e, "type": "image/jpeg\n"},
        lambda e: {**e, "type": "т"},
        lambda e: {**e, "type": "a" * 101},
        lambda e: {**e, "size": -1},
        lambda e: {**e, "size": True},
        lambda e: {**e, "size": e["size"] + 10**6},  # no longer the size its blob_size seals
        lambda e: {**e, "blob_size": e["blob_size"] + 1},
        lambda e: {**e, "sha256": "g" * 64},
        lambda e: {**e, "blob_sha256": "0" * 65},
        lambda e: {**e, "extra": 1},
        lambda e: {k: v for k, v in e.items() if k != "type"},
    ],
)
def test_every_malformed_entry_is_refused_with_a_sentence(change: Any) -> None:
    with pytest.raises(crypto.MalformedError) as caught:
        check_manifest([change(_entry())])
    assert str(caught.value).startswith("a ")


@pytest.mark.parametrize(
    "value", [[], None, {}, "x", [1], [_entry()] * 2, [_entry(blob_id=bytes([i]) * 16) for i in range(MAX_FILES + 1)]]
)
def test_a_manifest_is_a_list_of_one_to_five_distinct_entries(value: Any) -> None:
    with pytest.raises(crypto.MalformedError):
        check_manifest(value)


@given(st.lists(st.dictionaries(st.sampled_from(["blob", "key", "name", "type", "size", "sha256", "blob_size",
                                                 "blob_sha256", "x"]),
                                st.none() | st.booleans() | st.integers() | st.text(max_size=130)), max_size=6)
       | st.none() | st.integers() | st.text())  # fmt: skip
def test_check_manifest_only_raises_malformed(value: Any) -> None:
    try:
        entries = check_manifest(value)
    except crypto.MalformedError:
        return
    assert 1 <= len(entries) <= MAX_FILES


def test_the_worst_case_is_exactly_the_largest_valid_manifest() -> None:
    worst = worst_manifest()
    assert len(check_manifest(worst)) == MAX_FILES
    assert manifest_bytes(worst) == MANIFEST_WORST_BYTES
    with_files = canonical_json({"a": 1, "files": worst})
    assert len(with_files) - len(canonical_json({"a": 1})) == MANIFEST_WORST_BYTES


@given(st.lists(st.tuples(st.text(max_size=200), st.text(max_size=120), st.integers(0, filestream.MAX_FILE_BYTES)),
                min_size=1, max_size=MAX_FILES))  # fmt: skip
def test_no_valid_manifest_is_larger_than_the_worst_case(files: list[tuple[str, str, int]]) -> None:
    value = []
    for i, (name, claimed, size) in enumerate(files):
        facts = filestream.SealedFile(b"k" * 32, size, "f" * 64, filestream.blob_size(size), "e" * 64)
        value.append(manifest_entry(facts, i.to_bytes(16, "big"), name, claimed))
    assert len(check_manifest(value)) == len(files)
    assert manifest_bytes(value) <= MANIFEST_WORST_BYTES


def test_the_largest_schema_2_request_in_russian_with_five_files_fits_the_one_bucket() -> None:
    # Invariant 11 with files: the form's bounds in Cyrillic (2 bytes a character) plus the worst manifest fit,
    # so no request the form accepts is refused for its files or sealed to another size.
    assert largest_request_bytes(2) <= MAX_REQUEST_BYTES
    texts = {"story": "ж" * 10000, "health": "ж" * 1000, "contact": "ж" * 200, "safe_times": "ж" * 200,
             "alias": "ж" * 100}  # fmt: skip
    largest = make_request(schema=2, kind="request", reply_key=REPLY_KEY, files=worst_manifest(), **texts)
    data = crypto.encode_request(largest)
    assert len(data) <= largest_request_bytes(2)
    assert padded_size(len(data)) == FIXED_BUCKET
    decoded = crypto.decode_request(data)
    assert decoded["files"] == worst_manifest()
    assert (
        padded_size(len(crypto.encode_request(make_request(schema=2, kind="request", reply_key=REPLY_KEY))))
        == FIXED_BUCKET
    )


def test_schema_1_carries_no_files_and_a_bad_manifest_refuses_the_request() -> None:
    with pytest.raises(crypto.RequestInvalidError):
        crypto.encode_request(make_request(files=[_entry()]))
    with pytest.raises(crypto.MalformedError):
        crypto.encode_request(make_request(schema=2, kind="request", reply_key=REPLY_KEY, files=[]))


def test_a_followup_may_carry_files_and_still_seals_to_the_request_size() -> None:
    followup = {"schema": 2, "kind": "followup", "locale": "ru", "submitted_on": "2026-12-01",
                "reply_key": REPLY_KEY, "message": "ж" * 4000, "files": worst_manifest()}  # fmt: skip
    data = crypto.encode_followup(followup)
    assert crypto.decode_payload(data)["files"] == worst_manifest()
    assert padded_size(len(data)) == FIXED_BUCKET
    without = crypto.encode_followup({k: v for k, v in followup.items() if k != "files"})
    assert "files" not in crypto.decode_payload(without)
    assert json.loads(data)["files"][0]["name"] == worst_manifest()[0]["name"]
