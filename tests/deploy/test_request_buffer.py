"""The event loop's framing check (intake/request_buffer.py): a request reaches a thread only when whole."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.request_buffer import (
    FramingLimits,
    RefusedRequest,
    body_is_oversized,
    head_end,
    request_end,
    request_is_complete,
)

LIMITS = FramingLimits(max_head_bytes=4096, max_body_bytes=1000)
FIXED_MESSAGES = {"request head too long", "transfer-encoding in a request", "content-length is not a decimal number",
                  "two different content-lengths"}  # fmt: skip


def post(body: bytes, extra: bytes = b"") -> bytes:
    return b"POST /ru/request HTTP/1.1\r\nHost: x\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body


@given(st.binary(max_size=900), st.data())
def test_a_request_is_complete_exactly_when_its_last_byte_is_in(body: bytes, data: st.DataObject) -> None:
    whole = post(body)
    cut = data.draw(st.integers(0, len(whole)))
    assert request_is_complete(whole[:cut], 0, LIMITS) is (cut == len(whole))
    # What follows a whole request (a pipelined one) does not change the answer
    assert request_is_complete(whole + b"GET / HTTP/1.1\r\n", 0, LIMITS)


@given(st.binary(max_size=6000), st.integers(0, 50))
def test_any_bytes_give_an_answer_or_a_typed_refusal(data: bytes, start: int) -> None:
    try:
        assert request_is_complete(data, start, LIMITS) in (True, False)
        body_is_oversized(data, start, LIMITS)
    except RefusedRequest as refused:
        assert refused.status in (400, 431)
        assert str(refused) in FIXED_MESSAGES  # never a word of the input


def test_the_request_starts_after_the_proxy_line() -> None:
    line = b"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 1 0\r\n"
    assert request_is_complete(line + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", len(line), LIMITS)
    assert not request_is_complete(line + b"GET / HTTP/1.1\r\nHost: x\r\n", len(line), LIMITS)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 5000, 431),  # a head that never ends
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),  # browsers never send it
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: \xd9\xa3\r\n\r\n", 400),  # a non-ASCII digit
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ],
)
def test_framing_that_is_never_accepted_is_refused(data: bytes, status: int) -> None:
    with pytest.raises(RefusedRequest) as refused:
        request_is_complete(data, 0, LIMITS)
    assert refused.value.status == status


def test_an_oversized_body_is_handed_on_at_once_for_the_apps_413() -> None:
    head = b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"
    assert request_is_complete(head, 0, LIMITS) and body_is_oversized(head, 0, LIMITS)
    assert not body_is_oversized(post(b"x" * 10), 0, LIMITS)


@given(st.binary(max_size=300), st.lists(st.integers(1, 40), min_size=1, max_size=60), st.integers(0, 3))
def test_reading_a_head_piece_by_piece_finds_the_same_end(noise: bytes, cuts: list[int], start: int) -> None:
    # The worker looks only at new bytes (scanned); that must find exactly what one look at everything finds
    data = noise[:start] + post(noise) + b"GET / HTTP/1.1\r\n"
    try:
        whole = head_end(data, start, LIMITS)
    except RefusedRequest:
        return
    received, scanned, found, position = b"", 0, -1, 0
    for cut in [*cuts, len(data)]:
        received += data[position : position + cut]
        position += cut
        found = head_end(received, start, LIMITS, scanned)
        scanned = len(received)
        if found >= 0 or position >= len(data):
            break
    assert found == whole
    if whole >= 0:
        end, oversized = request_end(data, start, whole, LIMITS)
        assert request_is_complete(data[:end], start, LIMITS) or oversized
