"""Which complete request a saturated worker serves first (issue 21 item 3).

When every thread of a worker is busy, the requests it has read wait for one. A person who already has the
form and sends it should not wait behind a flood of new visitors asking for pages: a POST that carries a
valid CSRF token goes first. The check is the app's own stateless one (``intake.csrf.check_token``: the
token's minute is live and its keyed hash matches this visitor's cookie), made on bytes already in memory,
with no database and no Flask; the app checks it again (with the Referer check over HTTPS, and everything
else). What it does not tell is whether the rest of the form is valid, or whether the token was used
before: a flooder who fetched a form can post valid tokens too, so priority is never absolute.
``RunQueue`` serves at most ``RATIO`` such POSTs in a row while other requests wait, then one of those.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar
from urllib.parse import unquote_to_bytes

from werkzeug.http import parse_cookie

from intake import csrf
from intake.multipart import MalformedUpload, boundary_of

T = TypeVar("T")
_TOKEN_FIELD = re.compile(rb"(?:^|&)csrf_token=([^&]{1,200})")
URLENCODED = b"application/x-www-form-urlencoded"
MULTIPART = b"multipart/form-data"
# The first part of a multipart body as a browser sends our form (its hidden CSRF field comes first): the
# boundary line, the field's one header, its value (printable ASCII, as every token is), the next boundary.
_FIRST_PART = re.compile(rb'--([^\r\n]{1,70})\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                         rb"([!-~]{1,200})\r\n--\1(?:\r\n|--)")  # fmt: skip


def posted_token(body: bytes, content_type: bytes | None) -> str | None:
    """The first ``csrf_token`` of an urlencoded body (as werkzeug's ``form.get`` finds it), or of a multipart
    body whose first part it is (as intake.multipart reads it: the form posts multipart since it has a file
    input), or None."""
    if content_type is None:
        return None
    mimetype = content_type.partition(b";")[0].strip().lower()
    if mimetype == MULTIPART:
        return _multipart_token(body, content_type)
    if mimetype != URLENCODED:
        return None
    found = _TOKEN_FIELD.search(body)
    if found is None:
        return None
    try:
        return unquote_to_bytes(found.group(1).replace(b"+", b" ")).decode("ascii")
    except UnicodeDecodeError:
        return None


def _multipart_token(body: bytes, content_type: bytes) -> str | None:
    """The value of the first part when it is the ``csrf_token`` field under the Content-Type's boundary; None
    for any other body (the app still reads it all; it only waits its turn here)."""
    found = _FIRST_PART.match(body)
    if found is None:
        return None
    try:
        boundary = boundary_of(content_type.decode("latin-1"))
    except MalformedUpload:
        return None
    return found.group(2).decode("ascii") if found.group(1) == boundary else None


def carries_valid_token(method: bytes, cookie_header: bytes, content_type: bytes | None, body: bytes,
                        check: Callable[[str, str], bool], cookie_name: str = "intake_session") -> bool:  # fmt: skip
    """Whether a complete request is a POST with a live CSRF token for its visitor's cookie.

    ``check(cookie, token)``: the app's token check (``token_checker``), True when it passes.
    """
    if method != b"POST":
        return False
    token = posted_token(body, content_type)
    if token is None:
        return False
    cookie = parse_cookie(cookie_header.decode("latin-1")).get(cookie_name)
    return csrf.is_cookie(cookie) and check(str(cookie), token)


def token_checker(key: bytes, limit_minutes: int, now_minute: Callable[[], int] = csrf.now_minute,
                  ) -> Callable[[str, str], bool]:  # fmt: skip
    def check(cookie: str, token: str) -> bool:
        try:
            csrf.check_token(key, cookie, token, now_minute(), limit_minutes)
        except csrf.TokenError:
            return False
        return True

    return check


class RunQueue(Generic[T]):
    """Requests waiting for a thread: the ones marked ``first`` go first, at most ``ratio`` in a row while
    others wait, so neither kind can starve the other."""

    RATIO = 4

    def __init__(self, ratio: int = RATIO) -> None:
        self.ratio = ratio
        self._first: deque[T] = deque()
        self._rest: deque[T] = deque()
        self._streak = 0

    def __len__(self) -> int:
        return len(self._first) + len(self._rest)

    def push(self, item: T, first: bool) -> None:
        (self._first if first else self._rest).append(item)

    def pop(self) -> T | None:
        if self._first and (self._streak < self.ratio or not self._rest):
            self._streak += 1
            return self._first.popleft()
        self._streak = 0
        return self._rest.popleft() if self._rest else None
