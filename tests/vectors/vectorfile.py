"""Reading the known-answer files of docs/FORMAT.md §9: a `key: value` header, a blank line, raw bytes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Vector:
    name: str
    header: dict[str, str]
    body: bytes

    @property
    def kind(self) -> str:
        return self.header["kind"]

    @property
    def expect(self) -> str:
        return self.header["expect"]


def load(path: Path) -> Vector:
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    assert sep, f"{path.name}: no blank line after the header"
    header = {}
    for line in head.decode("utf-8").splitlines():
        key, _, value = line.partition(": ")
        header[key] = value
    return Vector(path.stem, header, body)


def all_vectors() -> list[Vector]:
    return [load(p) for p in sorted(HERE.glob("*.vec"))]
