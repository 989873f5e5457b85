"""The caseworker's editor (issue 18 item 10, issue 22 item 3): what was typed stays in memory and is gone after.

The editor runs in a private folder in memory that is its HOME, XDG_*_HOME and TMPDIR; vi/vim/nvim also run
without viminfo, swap, undo or backup files. Without a memory-backed folder, or with an editor that cannot be
kept inside one, the editor never starts and the prompt is used.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import pytest

from tests.realparts import need, need_program
from triage import freetext

CANARY = "VIM-CANARY-3e8f1d"


def _memory_parent() -> Path:
    folder = freetext.memory_folder({})
    need("a memory-backed folder (/dev/shm)", folder is not None, "mount a tmpfs on /dev/shm")
    assert folder is not None
    return folder


def _hits(root: Path, needle: bytes) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                found.append(path)
        except OSError:
            continue
    return found


def _fake_editor(folder: Path, name: str, record: Path) -> Path:
    """An "editor" called ``name`` that records its argv and environment and appends a line to the file."""
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv, 'home': os.environ.get('HOME'), 'tmpdir': os.environ.get('TMPDIR'),"
        f" 'xdg': [os.environ.get(n) for n in {list(freetext.XDG_HOMES)!r}]}}, open({str(record)!r}, 'w'))\n"
        "open(sys.argv[-1], 'a').write('NOTE-EDITOR-CANARY\\n')\n"
    )  # fmt: skip
    script.chmod(0o700)
    return script


def test_free_text_comes_from_an_editor_in_memory_and_the_file_is_gone_after(tmp_path: Path) -> None:
    memory = _memory_parent()
    # Given a vi-named "editor" that records how it was started
    record = tmp_path / "record.json"
    editor = _fake_editor(tmp_path, "vi", record)
    env = {"EDITOR": str(editor), "HOME": str(tmp_path / "home"), "VIMINIT": "set undofile"}
    # When the text is read interactively
    text = freetext.read_text("note", limit=100, environ=env, interactive=True)
    # Then the editor's words come back; the file, its HOME, XDG homes and TMPDIR lay in one private folder in
    # memory, which is gone; and vi got its no-state flags
    assert text == "NOTE-EDITOR-CANARY"
    seen = json.loads(record.read_text())
    used = Path(seen["argv"][-1])
    private = used.parent
    assert private.parent == memory and not private.exists()
    assert seen["home"] == seen["tmpdir"] == str(private)
    assert all(xdg and Path(xdg).parent == private for xdg in seen["xdg"])
    assert seen["argv"][1:5] == ["-i", "NONE", "-n", "--cmd"] and "noundofile" in seen["argv"][5]


def test_without_a_memory_folder_the_editor_never_starts_and_the_prompt_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no memory-backed folder anywhere (XDG_RUNTIME_DIR on disk, /dev/shm not a tmpfs)
    monkeypatch.setattr(freetext, "_is_tmpfs", lambda path: False)
    record = tmp_path / "record.json"
    editor = _fake_editor(tmp_path, "vim", record)
    monkeypatch.setattr(sys, "stdin", io.StringIO("typed at the prompt\n"))
    env = {"EDITOR": str(editor), "XDG_RUNTIME_DIR": str(tmp_path)}
    # When the text is read interactively
    text = freetext.read_text("note", limit=100, environ=env, interactive=True)
    # Then the prompt was used and the editor never started (no file of it on the disk)
    assert text == "typed at the prompt"
    assert not record.exists()
    assert not list(tmp_path.glob(".triage-*"))


@pytest.mark.parametrize("editor", ["emacsclient", "code --wait", "gedit", "kate"])
def test_an_editor_that_cannot_be_kept_in_memory_is_not_started(
    editor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an editor that hands the file to a program already running (its state in the real home)
    record = tmp_path / "record.json"
    program, *rest = editor.split()
    script = _fake_editor(tmp_path, program, record)
    monkeypatch.setattr(sys, "stdin", io.StringIO("typed at the prompt\n"))
    env = {"EDITOR": " ".join([str(script), *rest]), "XDG_RUNTIME_DIR": str(_memory_parent())}
    # Then the prompt is used instead
    assert freetext.read_text("note", limit=100, environ=env, interactive=True) == "typed at the prompt"
    assert not record.exists()


def _read_until(fd: int, wanted: bytes, screen: bytearray, bound: float) -> bool:
    deadline = time.monotonic() + bound
    while wanted not in screen:
        if time.monotonic() > deadline:
            return False
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return wanted in screen
            if not chunk:
                return wanted in screen
            screen.extend(chunk)
    return True


def test_real_vim_in_a_terminal_leaves_no_word_of_the_reply_under_home(tmp_path: Path) -> None:
    vim = need_program("vim", "apt-get install vim")
    memory = _memory_parent()
    # Given a caseworker's home whose vimrc asks for every kind of state vim can keep
    home = tmp_path / "home"
    (home / "undo").mkdir(parents=True)
    (home / ".vimrc").write_text(
        "set undofile undodir=~/undo viminfo='100,<500,s100,h,n~/.viminfo backup backupdir=~ swapfile directory=~\n"
    )
    runtime = Path(tempfile.mkdtemp(dir=memory, prefix="xdg-runtime-"))
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = tmp_path / "text.out"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TERM": "xterm", "EDITOR": vim,
        "XDG_RUNTIME_DIR": str(runtime), "TMPDIR": str(temp), "LANG": "C.UTF-8",
    }  # fmt: skip
    code = (
        "import sys\nfrom triage import freetext\n"
        "text = freetext.read_text('reply', limit=1000, interactive=True)\n"
        f"open({str(out)!r}, 'w').write(text)\n"
    )
    # When the caseworker writes a reply in vim in a real terminal
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=follower, stdout=follower, stderr=follower, env=env,
        cwd=Path(__file__).resolve().parents[2], start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    screen = bytearray()
    try:
        assert _read_until(leader, b"Write the reply below", screen, 120), screen[-2000:]
        os.write(leader, f"Go{CANARY} first line\r{CANARY} second line\x1b".encode())
        os.write(leader, b":w\r")
        os.write(leader, f"o{CANARY} third\x1b:wq\r".encode())
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline:
            _read_until(leader, b"\0never\0", screen, 0.5)
        assert child.poll() == 0, screen[-2000:]
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        os.close(leader)
    try:
        # Then the reply came back, and no byte of it is under the caseworker's home, the temp folder or the
        # memory folder the editor used (gone, with its viminfo, undo, swap and backup files)
        assert out.read_text().count(CANARY) == 3
        needle = CANARY.encode()
        assert _hits(home, needle) == []
        assert _hits(temp, needle) == []
        assert _hits(runtime, needle) == [] and list(runtime.iterdir()) == []
        assert not (home / ".viminfo").exists()
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def test_the_prompt_and_its_refusals_speak_the_caseworkers_language(monkeypatch: pytest.MonkeyPatch) -> None:
    from triage.errors import TriageError, explain_in
    from triage.i18n import translator

    asked: list[str] = []
    monkeypatch.setattr(freetext.click, "prompt", lambda text, **_: asked.append(text) or "  ")
    ru = translator("ru")
    with pytest.raises(TriageError) as empty:
        freetext.read_text("reply", limit=100, environ={}, interactive=True, t=ru)
    assert asked == ["Введите ответ (одной строкой; в конце Enter)"]
    assert explain_in(empty.value, ru) == "Ответ пустой; ничего не сохранено."
    with pytest.raises(TriageError) as long:
        freetext.read_text("note", limit=3, stdin=io.StringIO("четыре"), t=ru)
    assert explain_in(long.value, ru) == "В заметке 6 знаков, а помещается не больше 3. Ничего не сохранено."
