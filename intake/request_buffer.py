"""Has a connection sent one whole HTTP/1.1 request yet? Decided before any worker thread is spent on it.

A Tor stream can stay open for minutes while sending nothing, or one byte at a time. gunicorn's threaded
worker gives a connection a thread as soon as it is readable and then blocks that thread reading the rest
of the request, so a handful of silent streams used to hold every thread of the intake. ``CircuitWorker``
instead reads what a connection sends in its event loop, with deadlines, and hands it to a thread only
when ``request_is_complete`` says the head and the body are all there. The thread then parses bytes that
are already in memory and never waits for the client.

This is a *framing* check, not a parser: gunicorn still parses and validates the request. Where the two
could disagree (an odd head), the worker's deadline reader still bounds every later read.
"""

from __future__ import annotations

from dataclasses import dataclass

HEAD_END = b"\r\n\r\n"


class RefusedRequest(ValueError):
    """The request can never become acceptable; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class FramingLimits:
    max_head_bytes: int  # request line and headers, CRLFs included
    max_body_bytes: int  # the app's own bound: a longer body is handed on at once, for the app's 413 page


@dataclass(frozen=True)
class HeadFacts:
    """What the event loop needs of a request head (gunicorn parses and checks the rest)."""

    method: bytes
    target: bytes
    content_length: int | None  # None: no Content-Length header
    transfer_encoding: bool  # a Transfer-Encoding header was sent (browsers never send one with a form)
    content_type: bytes | None
    cookie: bytes  # every Cookie header, joined with "; "


def read_head(head: bytes) -> HeadFacts:
    """The facts of a complete head (request line and header lines, CRLF separated).

    Raises ``RefusedRequest`` (400) for a Content-Length that is not one decimal number.
    """
    lines = head.split(b"\r\n")
    method, _, rest = lines[0].partition(b" ")
    target = rest.partition(b" ")[0]
    length: int | None = None
    chunked = False
    content_type: bytes | None = None
    cookies: list[bytes] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue  # gunicorn refuses a header line without a colon; no body is waited for
        name = name.strip().lower()
        if name == b"transfer-encoding":
            chunked = True
        elif name == b"content-length":
            text = value.strip()
            if not text or len(text) > 12 or not (text.isascii() and text.isdigit()):
                raise RefusedRequest(400, "content-length is not a decimal number")
            if length is not None and int(text) != length:
                raise RefusedRequest(400, "two different content-lengths")
            length = int(text)
        elif name == b"content-type" and content_type is None:
            content_type = value.strip()
        elif name == b"cookie":
            cookies.append(value.strip())
    return HeadFacts(method, target, length, chunked, content_type, b"; ".join(cookies))


def _content_length(head: bytes) -> int:
    """The body length a head announces (0 without one). Browsers never send chunked request bodies; a
    body without a length would hold a thread while it trickles in, so it is refused (400, not 501: nothing
    is wrong with the server)."""
    return body_length(read_head(head))


def body_length(facts: HeadFacts) -> int:
    """The body length of a text request (0 without one); a Transfer-Encoding is refused (400)."""
    if facts.transfer_encoding:
        raise RefusedRequest(400, "transfer-encoding in a request")
    return facts.content_length or 0


def head_end(data: bytes | bytearray, start: int, limits: FramingLimits, scanned: int = 0) -> int:
    """Where the head starting at ``start`` ends (just past its blank line), or -1 while it is incomplete.

    ``scanned``: how far an earlier call already looked, so a head arriving a byte at a time costs linear,
    not quadratic, time. Raises ``RefusedRequest`` (431) for a head longer than the limit.
    """
    end = data.find(HEAD_END, max(start, scanned - len(HEAD_END) + 1))
    if end < 0:
        if len(data) - start > limits.max_head_bytes:
            raise RefusedRequest(431, "request head too long")
        return -1
    if end + len(HEAD_END) - start > limits.max_head_bytes:
        raise RefusedRequest(431, "request head too long")
    return end + len(HEAD_END)


def request_end(data: bytes | bytearray, start: int, end_of_head: int, limits: FramingLimits) -> tuple[int, bool]:
    """For a complete head: where the request ends as far as the app reads it, and whether its body is
    longer than the app reads (the app answers 413 without reading it; the connection must then close)."""
    return body_end(read_head(bytes(data[start:end_of_head])), end_of_head, limits)


def body_end(facts: HeadFacts, end_of_head: int, limits: FramingLimits) -> tuple[int, bool]:
    """``request_end`` for a head already read."""
    length = body_length(facts)
    if length > limits.max_body_bytes:
        return end_of_head, True
    return end_of_head + length, False


def request_is_complete(data: bytes | bytearray, start: int, limits: FramingLimits) -> bool:
    """Whether ``data[start:]`` holds a whole request head and its whole body (or as much as the app reads).

    Raises ``RefusedRequest`` for a head that is too long or a body framing we never accept.
    """
    end_of_head = head_end(data, start, limits)
    return end_of_head >= 0 and len(data) >= request_end(data, start, end_of_head, limits)[0]


def body_is_oversized(data: bytes | bytearray, start: int, limits: FramingLimits) -> bool:
    """For a complete head: whether its body is longer than the app reads (so the connection must close)."""
    end_of_head = head_end(data, start, limits)
    return end_of_head >= 0 and request_end(data, start, end_of_head, limits)[1]
