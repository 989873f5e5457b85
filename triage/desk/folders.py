"""The USB stick, as the desk sees it: a folder the caseworker names, the bundles in it, the return file.

Only the top level of the named folder is listed, only regular files that start like an export bundle,
and the return file is written there under a name that says what it is and when it was made.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from triage.i18n import Translator

BUNDLE_MAGIC = b"ITKB"  # crypto/bundle.py: an export bundle's first four bytes
MAX_LISTED = 200


@dataclass(frozen=True)
class BundleFile:
    name: str
    size: int
    modified: datetime.date


def usable_folder(text: str, t: Translator) -> tuple[Path | None, str]:
    """The folder as a path if it is an existing directory, else None and why, in the caseworker's words."""
    text = text.strip()
    if not text:
        return None, t.gettext("Type the folder of the USB stick, for example /media/amnesia/STICK.")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~name" of a user this system does not have
        return None, t.gettext("There is no folder there. Is the stick plugged in and opened?")
    if not path.is_absolute():
        return None, t.gettext("Give the whole path of the folder, starting with /.")
    if not path.is_dir():
        return None, t.gettext("There is no folder there. Is the stick plugged in and opened?")
    return path, ""


def bundle_files(folder: Path) -> list[BundleFile]:
    found = []
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError:
        return []
    for path in entries:
        try:
            if not path.is_file() or path.is_symlink():
                continue
            with path.open("rb") as handle:
                if handle.read(4) != BUNDLE_MAGIC:
                    continue
            stat = path.stat()
        except OSError:
            continue
        found.append(BundleFile(path.name, stat.st_size, datetime.date.fromtimestamp(stat.st_mtime)))
        if len(found) >= MAX_LISTED:
            break
    return found


def return_file_name(today: datetime.date, folder: Path | None = None) -> str:
    """ack-DAY.eva (the name docs/OPERATIONS.md §4 uses for the CLI's return file), or ack-DAY-2.eva … when the
    stick already holds one: a return file not applied yet (its replies already count as sent) is never replaced."""
    name = f"ack-{today.isoformat()}.eva"
    number = 1
    while folder is not None and (folder / name).exists():
        number += 1
        name = f"ack-{today.isoformat()}-{number}.eva"
    return name
