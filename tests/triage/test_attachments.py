"""A case's files on the laptop (issue 24): `triage show` lists them, `triage attachment` saves them.

Cases are built as they arrive (tests/triage/file_cases.py): a real JPEG with GPS EXIF and a real PDF sealed
with crypto.filestream, their manifest inside the sealed request, a follow-up with a file of its own.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from crypto.manifest import sanitize_name
from tests.realparts import need_program
from tests.triage.file_cases import FileHome, document_pdf, file_home, photo_with_gps, seal
from tests.triage.helpers import Triage, assert_one_sentence
from triage.attachments import detect, free_path, safe_file_name
from triage.cli import main


def flat(output: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


@pytest.fixture
def home(triage: Triage, tmp_path: Path) -> FileHome:
    request_files = [seal("фото повестки.jpg", "image/jpeg", photo_with_gps()),
                     seal("справка.pdf", "application/pdf", document_pdf(2))]  # fmt: skip
    return file_home(triage, tmp_path, request_files, [seal("screenshot.png", "image/jpeg", _png())])


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), (0, 90, 200)).save(out, format="PNG")
    return out.getvalue()


def test_show_lists_every_file_with_its_types_size_and_hash(home: FileHome) -> None:
    shown = flat(home.triage.ok("show", home.case_id).output)
    for number, sent in enumerate(home.files, start=1):
        assert f"{number}. {sent.name}" in shown
        assert hashlib.sha256(sent.data).hexdigest() in shown
    assert "content: JPEG photo" in shown and "content: PDF document" in shown
    # The third file claims to be a JPEG; its bytes are a PNG: the list says so.
    assert "claimed: image/jpeg; content: PNG picture" in shown
    assert "with a message of 2026-11-22" in shown


def test_a_listing_names_the_files_but_never_their_keys(home: FileHome) -> None:
    import json

    listed = home.triage.ok("list", "--json").output
    [case] = json.loads(listed)
    assert [f["sha256"] for f in case["request"]["files"]] == [f.entry["sha256"] for f in home.files[:2]]
    assert all("key" not in f for f in case["request"]["files"])
    for sent in home.files:
        assert sent.entry["key"] not in listed  # the key that opens the sealed blob stays in the store
    assert all(sent.entry["key"] not in home.triage.ok("list", "--csv").output for sent in home.files)


def test_show_says_when_a_file_is_not_on_this_laptop(triage: Triage, tmp_path: Path) -> None:
    home = file_home(triage, tmp_path, [seal("фото.jpg", "image/jpeg", photo_with_gps())], store_blobs=False)
    assert "not on this laptop" in flat(home.triage.ok("show", home.case_id).output)
    out = tmp_path / "out"
    out.mkdir()
    assert_one_sentence(home.triage.run("attachment", home.case_id, "1", "--out", out), "not on this laptop")


def test_the_original_is_saved_exactly_with_its_hash_and_a_warning(home: FileHome, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = home.triage.ok("attachment", home.case_id, "1", "--out", out)
    sent = home.files[0]
    saved = out / "фото повестки.jpg"
    assert saved.read_bytes() == sent.data
    assert hashlib.sha256(sent.data).hexdigest() in result.output
    assert "never connected to a network" in result.output
    assert saved.stat().st_mode & 0o077 == 0  # readable by the caseworker only
    # Never over another file: a second save gets a new name, the first stays as it was.
    home.triage.ok("attachment", home.case_id, "1", "--out", out)
    assert (out / "фото повестки (2).jpg").read_bytes() == sent.data
    assert sorted(p.name for p in out.iterdir()) == ["фото повестки (2).jpg", "фото повестки.jpg"]  # no partial file


def test_a_clean_copy_of_a_photo_has_no_gps_and_the_same_picture(home: FileHome, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    home.triage.ok("attachment", home.case_id, "1", "--out", out, "--clean")
    (copy,) = out.iterdir()
    assert ".cleaned." in copy.name
    picture = Image.open(copy)
    assert not picture.getexif().get_ifd(0x8825) and not dict(picture.getexif())
    assert b"SM-A515F" not in copy.read_bytes() and b"Samsung" not in copy.read_bytes()
    red, green, _ = picture.convert("RGB").getpixel((320, 240))
    assert red > 150 and green < 80


def test_a_clean_copy_of_a_pdf_keeps_its_pages_without_its_author(home: FileHome, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    home.triage.ok("attachment", home.case_id, "2", "--out", out, "--clean")
    (copy,) = out.iterdir()
    data = copy.read_bytes()
    assert data.startswith(b"%PDF-")
    assert "Иван".encode("utf-16-be") not in data and "Иван".encode() not in data and b"Povestka" not in data
    import pypdfium2

    pdf = pypdfium2.PdfDocument(data)
    assert len(pdf) == 2 and not pdf.get_metadata_dict().get("Author")


def test_mat2_cleans_where_it_is_installed(home: FileHome, tmp_path: Path) -> None:
    need_program("mat2", "apt-get install -y mat2")
    out = tmp_path / "out"
    out.mkdir()
    result = home.triage.ok("attachment", home.case_id, "1", "--out", out, "--clean")
    assert "mat2" in result.output
    (copy,) = out.iterdir()
    assert not Image.open(copy).getexif().get_ifd(0x8825)
    assert [p.name for p in out.iterdir()] == [copy.name]  # mat2's private folder is gone


@pytest.mark.parametrize(("args", "words"), [
    (["9"], "there is no file 9"),
    (["0"], "0"),
])  # fmt: skip
def test_a_wrong_number_is_one_sentence(home: FileHome, tmp_path: Path, args: list[str], words: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = home.triage.run("attachment", home.case_id, *args, "--out", out)
    assert result.exit_code != 0 and "Traceback" not in result.output and words in result.output


def test_a_missing_folder_and_a_damaged_blob_are_one_sentence(home: FileHome, tmp_path: Path) -> None:
    assert_one_sentence(home.triage.run("attachment", home.case_id, "1", "--out", tmp_path / "nowhere"), "no folder")
    path = home.blobs.path(bytes.fromhex(home.files[1].entry["blob"]))
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 1
    path.write_bytes(bytes(blob))
    out = tmp_path / "out"
    out.mkdir()
    assert_one_sentence(home.triage.run("attachment", home.case_id, "2", "--out", out), "damaged")
    assert list(out.iterdir()) == []  # all or nothing: no partial plaintext left behind


def test_a_file_that_cannot_be_cleaned_says_so(triage: Triage, tmp_path: Path) -> None:
    home = file_home(triage, tmp_path, [seal("notes.txt", "text/plain", "секрет\n".encode())])
    out = tmp_path / "out"
    out.mkdir()
    if shutil.which("mat2"):
        home.triage.ok("attachment", home.case_id, "1", "--out", out, "--clean")
    else:
        assert_one_sentence(home.triage.run("attachment", home.case_id, "1", "--out", out, "--clean"),
                            "cannot be cleaned")  # fmt: skip
        assert list(out.iterdir()) == []


def test_attachment_help_is_in_russian() -> None:
    output = CliRunner().invoke(main, ["--lang", "ru", "attachment", "--help"], env={"COLUMNS": "100"}).output
    assert "Сохранить файл N обращения ID" in output and "копию без метаданных" in output
    english = CliRunner().invoke(main, ["--lang", "en", "attachment", "--help"]).output
    assert "Save file N of case ID" in english


def test_the_russian_words_of_a_save(home: FileHome, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = home.triage.ok("--lang", "ru", "attachment", home.case_id, "1", "--out", out)
    assert "Сохранено:" in result.output and "никогда не подключается к сети" in result.output


@pytest.mark.parametrize(("head", "kind"), [
    (photo_with_gps()[:64], "image/jpeg"), (b"%PDF-1.4\n", "application/pdf"),
    (b"PK\x03\x04\x14\x00\x00\x00[Content_Types].xml", "application/x-office"), (b"PK\x03\x04rest", "application/zip"),
    ("Привет, это текст\n".encode(), "text/plain"), (b"\x00\x01\x02\x03", "application/octet-stream"),
    (b"\x00\x00\x00\x18ftypheic", "image/heic"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
])  # fmt: skip
def test_the_type_comes_from_the_content(head: bytes, kind: str) -> None:
    assert detect(head) == kind


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_name_becomes_a_safe_file_name(name: str) -> None:
    safe = safe_file_name(sanitize_name(name))
    assert safe and len(safe.encode("utf-8")) <= 200
    assert not any(ch in safe for ch in '<>:"/\\|?*\x00') and not any(ord(ch) < 32 for ch in safe)
    assert not safe.startswith((".", "-")) and not safe.endswith((".", " "))
    assert safe.split(".")[0].lower() not in {"con", "nul", "prn", "aux", "com1", "lpt1"}
    assert os.path.basename(safe) == safe and safe not in (".", "..")


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "_.._etc_passwd"), ("CON.txt", "_CON.txt"), (".bashrc", "bashrc"), ("a:b?.jpg", "a_b_.jpg"),
    ("-rf", "rf"), ("photo.jpg.", "photo.jpg"), ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
])  # fmt: skip
def test_names_that_would_hurt_the_laptop_are_made_safe(name: str, safe: str) -> None:
    assert safe_file_name(name) == safe  # whatever the manifest's own sanitising let through


def test_a_free_name_never_names_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"1")
    (tmp_path / "a (2).jpg").write_bytes(b"2")
    assert free_path(tmp_path, "a.jpg").name == "a (3).jpg"
    assert free_path(tmp_path, "b").name == "b"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_any_first_bytes_give_one_known_type(head: bytes) -> None:
    from triage.attachments import TYPE_WORDS

    found = detect(head)
    assert found in TYPE_WORDS or found in ("audio/ogg", "audio/mpeg", "video/mp4", "text/rtf", "application/gzip",
                                            "application/x-7z-compressed", "application/vnd.rar")  # fmt: skip


def test_without_the_documents_part_a_clean_copy_is_one_sentence(home: FileHome, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import triage.cleaning

    monkeypatch.setattr(triage.cleaning, "have_documents", lambda: False)
    monkeypatch.setattr(triage.cleaning, "mat2_program", lambda: None)
    monkeypatch.setattr(triage.cleaning.save_clean, "__kwdefaults__", {"mat2": lambda: None})
    out = tmp_path / "out"
    out.mkdir()
    assert_one_sentence(home.triage.run("attachment", home.case_id, "1", "--out", out, "--clean"), "not installed")
    assert "1. фото повестки.jpg" in flat(home.triage.ok("show", home.case_id).output)  # listing needs none of it


def test_a_hostile_file_gives_a_sentence_and_no_clean_copy(triage: Triage, tmp_path: Path) -> None:
    from tests.triage.test_desk_files import hostile_files

    home = file_home(triage, tmp_path, hostile_files())
    out = tmp_path / "out"
    out.mkdir()
    for number, words in ((1, "decompression bomb"), (2, "damaged or is not what"), (3, "decompression bomb")):
        result = home.triage.run("attachment", home.case_id, str(number), "--out", out, "--clean")
        if shutil.which("mat2") and result.exit_code == 0:
            continue  # mat2 cleaned it without decoding its pixels
        assert_one_sentence(result, words)
    if not shutil.which("mat2"):
        assert list(out.iterdir()) == []  # no copy, no partial file
