"""One-time submission tokens: a request form is stored at most once (issue 19 item 2).

Back and Reload after the receipt page, or a second tap on a slow Tor connection, make the browser post the
same form again. Every form page therefore carries a fresh random token (``new_token``, 128 bits, never
stored); the submission that first stores an envelope with it also stores the token's keyed hash
(``token_digest``) in the same transaction, and every later post of the same token stores nothing and gets a
page saying the request was already sent and its receipt was shown once (the receipt is never stored, so it
cannot be shown again, and is not).

Where the memory lives: in the database, so it holds across gunicorn workers and across backends sharing one
PostgreSQL. What it reveals at rest: nothing. A row is a keyed BLAKE2b of a random value nobody else holds
(the key is derived from the instance secret) and a day when it may be forgotten; it names no envelope, no
receipt and no time finer than a day, and a seized database cannot test a token against it without the
instance secret. The unique key makes two concurrent posts of one token store one envelope.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
import secrets

_PERSON = b"intake-once"
# secrets.token_urlsafe(16): 22 characters of URL-safe base64 (128 bits). The page cache splices it into
# the page as it is (HTML escaping leaves these characters unchanged).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{22}")


def new_token() -> str:
    return secrets.token_urlsafe(16)


def is_token(value: object) -> bool:
    return isinstance(value, str) and TOKEN_SHAPE.fullmatch(value) is not None


def token_key(instance_secret: bytes) -> bytes:
    """The key token digests are made with: separate from the receipt and reply keys."""
    return hashlib.blake2b(b"", key=instance_secret, person=_PERSON, digest_size=32).digest()


def token_digest(token: str, key: bytes) -> bytes:
    return hashlib.blake2b(token.encode("ascii"), key=key, digest_size=32).digest()


def forget_after(day: datetime.date, csrf_hours: int) -> datetime.date:
    """The day after which a used token may be forgotten.

    A form's CSRF token lasts ``csrf_hours``; a page re-shown after an expired CSRF token keeps its one-time
    token, so the memory lasts one CSRF lifetime more, rounded up to whole days, plus the day itself.
    """
    return day + datetime.timedelta(days=1 + 2 * math.ceil(csrf_hours / 24))
