"""What the desk keeps in memory for the safe view: random tokens for files and for their rebuilt pictures.

A file's address holds a random token standing for (case, file number), never either; a picture's address
a token standing for one rebuilt PNG page. The last few safe views are kept (bounded), so a page and its
pictures load without decoding the file again; the lock forgets all of it.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

MAX_VIEWS = 4  # safe views kept at once (each at most the safe view's page cap of pictures)


@dataclass
class Shown:
    """One file's safe view as the desk shows it: what the decoder said, and a token per rebuilt page."""

    view: Any  # triage.safeview.SafeView, its pages replaced by tokens
    pictures: list[tuple[str, int, int]] = field(default_factory=list)  # (token, width, height)


class FileViews:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, tuple[str, int]] = {}
        self._file_tokens: dict[tuple[str, int], str] = {}
        self._shown: OrderedDict[str, Shown] = OrderedDict()
        self._pictures: dict[str, bytes] = {}

    def file_token(self, case_hex: str, number: int) -> str:
        with self._lock:
            key = (case_hex, number)
            if key not in self._file_tokens:
                made = secrets.token_urlsafe(12)
                self._file_tokens[key], self._files[made] = made, key
            return self._file_tokens[key]

    def file(self, token: str) -> tuple[str, int] | None:
        with self._lock:
            return self._files.get(token)

    def shown(self, token: str) -> Shown | None:
        with self._lock:
            found = self._shown.get(token)
            if found is not None:
                self._shown.move_to_end(token)
            return found

    def keep(self, token: str, view: Any, pages: list[tuple[bytes, int, int]]) -> Shown:
        """Remember a safe view's pictures under fresh tokens; the oldest view beyond ``MAX_VIEWS`` is dropped."""
        with self._lock:
            shown = Shown(view)
            for png, width, height in pages:
                made = secrets.token_urlsafe(12)
                self._pictures[made] = png
                shown.pictures.append((made, width, height))
            old = self._shown.pop(token, None)
            if old is not None:
                self._forget(old)
            self._shown[token] = shown
            while len(self._shown) > MAX_VIEWS:
                _token, dropped = self._shown.popitem(last=False)
                self._forget(dropped)
            return shown

    def _forget(self, shown: Shown) -> None:
        for made, _w, _h in shown.pictures:
            self._pictures.pop(made, None)

    def picture(self, token: str) -> bytes | None:
        with self._lock:
            return self._pictures.get(token)

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._file_tokens.clear()
            self._shown.clear()
            self._pictures.clear()
