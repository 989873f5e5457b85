"""The upload rules of the circuit worker, without a server: which heads are uploads, which are refused
before reading, the rate window's arithmetic against a brute-force count, the reader's cuts, and the order
in which waiting requests get a thread (intake/upload_stream.py, intake/priority.py)."""

from __future__ import annotations

import socket
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake import csrf
from intake.priority import RunQueue, carries_valid_token, posted_token, token_checker
from intake.request_buffer import RefusedRequest, read_head
from intake.upload_stream import (
    RateReader,
    RateWindow,
    UploadRules,
    UploadTooLarge,
    UploadTooSlow,
    UploadTruncated,
    is_upload,
    upload_refusal,
)

LANGS = ("en", "ru")
MULTIPART = b"multipart/form-data; boundary=abc"


@pytest.mark.parametrize(
    ("method", "target", "kind", "expected"),
    [
        (b"POST", b"/en/request", MULTIPART, True),
        (b"POST", b"/ru/status/message", b"Multipart/Form-Data;boundary=x", True),
        (b"POST", b"/ru/request?x=1", MULTIPART, True),  # a query string does not change the endpoint
        (b"POST", b"/en/urgent", MULTIPART, False),  # the short path takes no files
        (b"POST", b"/en/status", MULTIPART, False),
        (b"POST", b"/de/request", MULTIPART, False),  # not a language of this server
        (b"POST", b"/en/request", b"application/x-www-form-urlencoded", False),
        (b"POST", b"/en/request", None, False),
        (b"GET", b"/en/request", MULTIPART, False),
        (b"POST", b"//en/request", MULTIPART, False),
        (b"POST", b"/en/request/", MULTIPART, False),
    ],
)
def test_which_heads_are_uploads(method: bytes, target: bytes, kind: bytes | None, expected: bool) -> None:
    assert is_upload(method, target, kind, LANGS) is expected


@given(st.binary(max_size=10), st.binary(max_size=40), st.one_of(st.none(), st.binary(max_size=60)))
def test_any_head_is_an_upload_or_not_without_an_error(method: bytes, target: bytes, kind: bytes | None) -> None:
    answer = is_upload(method, target, kind, LANGS)
    # Only the two endpoints, with a multipart body, by POST
    assert not answer or (method == b"POST" and kind is not None and b"multipart/form-data" in kind.lower())


@given(st.one_of(st.none(), st.integers(0, 10**12)), st.booleans(), st.integers(1, 10**9))
def test_an_upload_needs_a_length_within_the_cap(length: int | None, chunked: bool, cap: int) -> None:
    refusal = upload_refusal(length, chunked, UploadRules(max_bytes=cap))
    if chunked or length is None:
        assert refusal is not None and refusal[0] == 411
    elif length > cap:
        assert refusal is not None and refusal[0] == 413
    else:
        assert refusal is None


header_names = st.sampled_from(["Content-Length", "content-length", "Content-Type", "Cookie", "Transfer-Encoding",
                                "X-Other", "Host"])  # fmt: skip
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)


@given(st.lists(st.tuples(header_names, header_values), max_size=8))
def test_read_head_gives_the_facts_or_a_typed_refusal(headers: list[tuple[str, str]]) -> None:
    head = ("POST /en/request HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)).encode()
    try:
        facts = read_head(head.rstrip(b"\r\n"))
    except RefusedRequest as refused:
        assert refused.status == 400 and str(refused) in {"content-length is not a decimal number",
                                                          "two different content-lengths"}  # fmt: skip
        return
    lengths = {v.strip() for k, v in headers if k.lower() == "content-length"}
    assert facts.method == b"POST" and facts.target == b"/en/request"
    assert facts.content_length == (int(lengths.pop()) if lengths else None)
    assert facts.transfer_encoding == any(k.lower() == "transfer-encoding" for k, _ in headers)
    types = [v.strip() for k, v in headers if k == "Content-Type"]
    assert facts.content_type == (types[0].encode() if types else None)


# --- the rate window against a brute-force count ---------------------------------------------------------

WINDOW, RATE = 30, 4096
SLOT = Fraction(WINDOW, RateWindow.SLOTS)
# Times in 1/64 s steps (exact in binary floating point), bytes in small amounts: every case is exact.
arrivals = st.lists(st.tuples(st.integers(0, 64 * 200), st.integers(1, 300_000)), max_size=40)


def exact_count(events: list[tuple[Fraction, int]], moment: Fraction) -> int:
    return sum(n for t, n in events if t <= moment)


@given(arrivals, st.integers(0, 64 * 100))
def test_the_window_cuts_only_when_the_exact_window_held_too_little(steps: list[tuple[int, int]],
                                                                    later: int) -> None:  # fmt: skip
    # Given bytes arriving at known times, and a moment after the last of them
    events = sorted((Fraction(t, 64), n) for t, n in steps)
    window = RateWindow(RATE, WINDOW, 0.0)
    for t, n in events:
        window.record(n, float(t))
    last = events[-1][0] if events else Fraction(0)
    moment = last + Fraction(later, 64)
    total = sum(n for _, n in events)
    held = total - exact_count(events, moment - WINDOW) if moment >= WINDOW else None
    need = RATE * WINDOW
    if window.deadline() <= moment:
        # Then a cut at that moment is justified: the exact window ending then held too little
        assert held is not None and held < need
    elif moment >= WINDOW:
        # Otherwise the window ending then, widened by one slot, held enough (the check is at most one slot
        # more lenient than the exact one)
        assert total - exact_count(events, moment - WINDOW - SLOT) >= need


def test_the_first_window_needs_as_much_as_any_other() -> None:
    window = RateWindow(RATE, WINDOW, 100.0)
    window.record(RATE * WINDOW - 1, 100.0)
    assert window.deadline() == 130.0
    window.record(1, 101.0)
    assert window.deadline() > 130.0


def test_the_window_keeps_bounded_state_however_the_bytes_come() -> None:
    window = RateWindow(RATE, WINDOW, 0.0)
    for i in range(100_000):  # a fast stream: 100,000 reads over 100 s
        window.record(1000, i / 1000)
    assert len(window._marks) <= RateWindow.SLOTS + 2


# --- the reader ------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_reader_cuts_a_silent_stream_but_never_for_bytes_already_waiting() -> None:
    ours, client = socket.socketpair()
    try:
        clock = Clock()
        reader = RateReader(ours, UploadRules(min_rate=RATE, window=WINDOW, max_bytes=10**6), clock=clock)
        # Given a whole window without a byte: bytes waiting in the socket are still read
        client.sendall(b"x" * 100)
        clock.now += WINDOW + 1
        assert reader.recv(65536) == b"x" * 100
        # When nothing is waiting past the deadline, the read is cut, and stays cut
        with pytest.raises(UploadTooSlow):
            reader.recv(65536)
        assert isinstance(reader.cut, UploadTooSlow)
        client.sendall(b"late")
        with pytest.raises(UploadTooSlow):
            reader.recv(65536)
    finally:
        ours.close()
        client.close()


def test_the_reader_cuts_past_the_cap_and_reads_at_most_64_kib_at_a_time() -> None:
    ours, client = socket.socketpair()
    try:
        reader = RateReader(ours, UploadRules(max_bytes=200_000), already=40_000)
        client.sendall(b"y" * 200_000)
        assert len(reader.recv(1024 * 1024)) <= 64 * 1024
        with pytest.raises(UploadTooLarge):
            while True:
                reader.recv(1024 * 1024)
    finally:
        ours.close()
        client.close()


# --- which waiting request goes first ----------------------------------------------------------------------

KEY = csrf.csrf_key(b"k" * 32)


def test_a_live_token_for_the_visitors_cookie_goes_first() -> None:
    cookie = csrf.new_cookie()
    minute = 29_000_000
    check = token_checker(KEY, 360, now_minute=lambda: minute)
    token = csrf.make_token(KEY, cookie, minute)
    form = b"application/x-www-form-urlencoded"
    head_cookie = f"lang=en; intake_session={cookie}".encode()
    assert carries_valid_token(b"POST", head_cookie, form, f"a=1&csrf_token={token}&b=2".encode(), check)
    # Not: another visitor's cookie, a forged or stale token, a GET, another body type, no token at all
    assert not carries_valid_token(b"POST", f"intake_session={csrf.new_cookie()}".encode(), form,
                                   f"csrf_token={token}".encode(), check)  # fmt: skip
    forged = token[:-1] + ("B" if token.endswith("A") else "A")  # its last character changed (1 in 64 ended in A)
    assert not carries_valid_token(b"POST", head_cookie, form, f"csrf_token={forged}".encode(), check)
    stale = token_checker(KEY, 360, now_minute=lambda: minute + 361)
    assert not carries_valid_token(b"POST", head_cookie, form, f"csrf_token={token}".encode(), stale)
    assert not carries_valid_token(b"GET", head_cookie, form, f"csrf_token={token}".encode(), check)
    assert not carries_valid_token(b"POST", head_cookie, b"text/plain", f"csrf_token={token}".encode(), check)
    assert not carries_valid_token(b"POST", head_cookie, form, b"story=help", check)


@given(st.binary(max_size=300), st.one_of(st.none(), st.binary(max_size=40)))
def test_any_body_gives_a_token_or_none(body: bytes, kind: bytes | None) -> None:
    token = posted_token(body, kind)
    assert token is None or (isinstance(token, str) and token.isascii())
    check = token_checker(KEY, 360)
    assert carries_valid_token(b"POST", body[:50], kind, body, check) in (True, False)


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 6))
def test_the_run_queue_serves_first_ones_first_and_starves_nobody(kinds: list[bool], ratio: int) -> None:
    queue: RunQueue[tuple[int, bool]] = RunQueue(ratio)
    for n, first in enumerate(kinds):
        queue.push((n, first), first)
    served = []
    while (item := queue.pop()) is not None:
        served.append(item)
    assert sorted(served) == sorted(enumerate(kinds))  # everything, once
    firsts = [n for n, first in served if first]
    rests = [n for n, first in served if not first]
    assert firsts == sorted(firsts) and rests == sorted(rests)  # each kind in arrival order
    # never more than ``ratio`` first ones in a row while others wait
    streak = 0
    for position, (_, first) in enumerate(served):
        streak = streak + 1 if first else 0
        if any(not f for _, f in served[position + 1 :]):
            assert streak <= ratio


def test_the_reader_refuses_a_body_that_ends_before_its_length() -> None:
    ours, client = socket.socketpair()
    try:
        reader = RateReader(ours, UploadRules(), already=10, length=100)
        client.sendall(b"z" * 50)
        client.close()
        assert reader.recv(65536) == b"z" * 50
        with pytest.raises(UploadTruncated):
            reader.recv(65536)
    finally:
        ours.close()
