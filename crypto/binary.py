"""Reading and writing the fixed-width fields of our binary formats.

Every parse failure goes through ``Reader`` and comes out as ``MalformedError``: callers never see an
IndexError, a struct.error or a UnicodeDecodeError from hostile bytes.
"""

from __future__ import annotations

import datetime
import struct

from crypto.errors import MalformedError

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
U64_MAX = (1 << 64) - 1


def u8(value: int) -> bytes:
    return bytes((value,))


def u16(value: int) -> bytes:
    return _U16.pack(value)


def u32(value: int) -> bytes:
    return _U32.pack(value)


def u64(value: int) -> bytes:
    return _U64.pack(value)


def encode_day(day: datetime.date) -> bytes:
    """A calendar day as the big-endian u32 YYYYMMDD: readable in a hex dump, no finer than a day."""
    return u32(day.year * 10000 + day.month * 100 + day.day)


def decode_day(value: int) -> datetime.date:
    try:
        return datetime.date(value // 10000, value // 100 % 100, value % 100)
    except ValueError:
        raise MalformedError(f"{value} is not a calendar day (YYYYMMDD)") from None


class Reader:
    """A cursor over bytes that raises MalformedError, naming ``what`` it reads, on any shortfall."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.remaining:
            raise MalformedError(f"{self.what} is truncated")
        chunk = self._data[self._pos : self._pos + n].tobytes()
        self._pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = _U16.unpack(self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = _U32.unpack(self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = _U64.unpack(self.take(8))[0]
        return value

    def day(self) -> datetime.date:
        return decode_day(self.u32())

    def utf8(self, n: int) -> str:
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedError(f"{self.what} holds text that is not UTF-8") from None

    def expect(self, constant: bytes, name: str) -> None:
        if self.take(len(constant)) != constant:
            raise MalformedError(f"{self.what} does not start with the {name}")

    def end(self) -> None:
        if self.remaining:
            raise MalformedError(f"{self.what} has {self.remaining} unexpected trailing bytes")
