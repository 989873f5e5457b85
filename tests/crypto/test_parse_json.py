"""crypto.parse_json (FORMAT.md §3 steps 1-2) with its one shared decoder: the same refusals at any depth, the
same values as the standard parser for anything it accepts, and no result changed by another thread's parse."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import MalformedError
from crypto.request_schema import parse_json

KEYS = st.text(max_size=8)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.text(max_size=40)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=6)


@settings(max_examples=300, deadline=None)
@given(OBJECTS)
def test_what_it_accepts_reads_as_the_standard_parser_reads_it(value: dict[str, Any]) -> None:
    data = json.dumps(value, ensure_ascii=False).encode("utf-8")  # never an integer -0 (refused: below)
    assert parse_json(data) == json.loads(data)


@settings(max_examples=200, deadline=None)
@given(OBJECTS, KEYS, VALUES, VALUES, st.integers(min_value=0, max_value=3))
def test_a_repeated_key_is_refused_at_any_depth(value: dict[str, Any], key: str, first: Any, second: Any,
                                                depth: int) -> None:  # fmt: skip
    repeated = "{" + json.dumps(key) + ":" + json.dumps(first) + "," + json.dumps(key) + ":" + json.dumps(second) + "}"
    text = repeated
    for _ in range(depth):
        text = '{"a":[' + text + "]}"
    with pytest.raises(MalformedError):
        parse_json(text.encode("utf-8"))


@pytest.mark.parametrize("text", [
    '{"a":NaN}', '{"a":Infinity}', '{"a":-Infinity}', '{"a":[1,{"b":NaN}]}', '{"a":-0}', '{"a":[-0]}',
    '[1]', '"a"', "1", "null", '{"a":1', "", '{"a":1}x', "\ufeff{}",
])  # fmt: skip
def test_what_is_not_one_plain_json_object_is_refused(text: str) -> None:
    with pytest.raises(MalformedError):
        parse_json(text.encode("utf-8"))


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(MalformedError, match="UTF-8"):
        parse_json(b'{"a":"\xff"}')


def test_threads_parsing_at_once_each_get_their_own_result() -> None:
    # Each payload has its own keys, so a key interned for one parse and read by another would show.
    payloads = [json.dumps({f"k{i}_{j}": [j, {f"n{i}": "x" * j}] for j in range(30)}).encode() for i in range(64)]
    expected = [json.loads(p) for p in payloads]
    wrong: list[int] = []
    start = threading.Barrier(4)

    def parse(offset: int) -> None:
        start.wait()
        for _ in range(50):
            for i in range(offset, len(payloads), 4):
                if parse_json(payloads[i]) != expected[i]:
                    wrong.append(i)

    threads = [threading.Thread(target=parse, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
