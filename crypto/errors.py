"""One error family. Callers act on the subclass; the message is safe to show and never holds secrets.

CryptoError
├── MalformedError            the bytes are not of the format (every parse failure ends here)
│   ├── RequestInvalidError   a request field breaks schema v1 (.field, .reason)
│   └── RequestTooLargeError  the encoded request exceeds MAX_REQUEST_BYTES
├── UnsupportedVersionError   a newer or unknown format version: upgrade, do not guess
├── WrongPassphraseError      the key file did not open: ask again
├── WeakKdfError              the key file's argon2id cost is below the floor the caller demands
├── NotRecipientError         this identity is not among the envelope's recipients: try the next
├── TamperedError             authentication or signature failed: stop, do not use the data
├── UnknownSignerError        a valid signature by a key we were not told to trust (.signer)
└── WrongServerError          an acknowledgement made for another server
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every error this package raises."""


class MalformedError(CryptoError):
    """The input is not a well-formed instance of the expected format."""


class RequestInvalidError(MalformedError):
    """A request does not satisfy schema v1. ``field`` names the field, ``reason`` is a short code."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"request field {field!r} is invalid: {reason}")
        self.field = field
        self.reason = reason


class RequestTooLargeError(MalformedError):
    """The encoded request does not fit the fixed padding bucket."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the encoded request is {size} bytes; at most {limit} fit")
        self.size = size
        self.limit = limit


class UnsupportedVersionError(CryptoError):
    """The data declares a format version this code does not implement."""


class WrongPassphraseError(CryptoError):
    """The passphrase does not open this key file (or the file was altered)."""


class WeakKdfError(CryptoError):
    """A private key file asks for less argon2id work than the reader's floor: it may have been replaced.

    Nothing is derived from such a file. A real key made by this tool always meets the production floor;
    only tests make cheaper files, and they pass their cheaper floor explicitly.
    """

    def __init__(self, message: str, passes: int = 0, memory_kib: int = 0) -> None:
        super().__init__(message)
        self.passes, self.memory_kib = passes, memory_kib


class NotRecipientError(CryptoError):
    """None of the envelope's recipient stanzas opens with this identity."""


class TamperedError(CryptoError):
    """Authentication failed: the data was changed, truncated or forged."""


class UnknownSignerError(CryptoError):
    """The signature is valid, but the signer is not the key the caller trusts."""

    def __init__(self, message: str, signer: object) -> None:
        super().__init__(message)
        self.signer = signer


class WrongServerError(CryptoError):
    """An acknowledgement names a different server than the one applying it."""
