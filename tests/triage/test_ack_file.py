"""`triage ack --out` never overwrites a file (a USB stick's, above all) unless told to."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import crypto
from tests.triage.helpers import Server, Triage, assert_one_sentence, make_request
from triage.errors import HomeError
from triage.home import write_private


def test_ack_refuses_an_existing_file_unless_told(triage: Triage, server: Server, tmp_path: Path) -> None:
    # Given an imported bundle and a file already at the --out path
    alice = triage.keygen("Alice")
    triage.ok("import", server.bundle(tmp_path / "b.evb", [server.entry(make_request(), [alice])]))
    out = tmp_path / "ack.eva"
    out.write_bytes(b"yesterday's acknowledgement")
    # When ack is asked to write there, it refuses and leaves the file as it was
    assert_one_sentence(triage.run("ack", "--out", out), "already exists", "--overwrite")
    assert out.read_bytes() == b"yesterday's acknowledgement"
    # Then with --overwrite it replaces it with a signed acknowledgement
    triage.ok("ack", "--out", out, "--overwrite")
    ack = crypto.read_ack(out.read_bytes(), server=server.key.public, caseworkers=[alice])
    assert len(ack.entries) == 1
    # And a new name needs no flag
    triage.ok("ack", "--out", tmp_path / "fresh.eva")


def test_write_private_without_hard_links_still_refuses_an_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FAT and exFAT (USB sticks) refuse hard links with EPERM; the fallback must still never clobber.
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "ack.eva"
    write_private(target, b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(HomeError, match="already exists"):
        write_private(target, b"second")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["ack.eva"]


def test_the_desk_never_replaces_a_return_file_on_the_stick(tmp_path: Path) -> None:
    import datetime

    from triage.desk.folders import return_file_name

    day = datetime.date(2026, 11, 27)
    assert return_file_name(day, tmp_path) == "ack-2026-11-27.eva"
    (tmp_path / "ack-2026-11-27.eva").write_bytes(b"first, not applied yet")
    assert return_file_name(day, tmp_path) == "ack-2026-11-27-2.eva"
    (tmp_path / "ack-2026-11-27-2.eva").write_bytes(b"second")
    assert return_file_name(day, tmp_path) == "ack-2026-11-27-3.eva"
