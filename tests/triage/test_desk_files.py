"""The desk's files and safe view (issue 24, the laptop), through the real desk app and the real decoder box.

Cases are built as they arrive (tests/triage/file_cases.py): real files sealed with crypto.filestream, their
manifest inside the sealed request, the bundle imported through the CLI, the blobs in the blob store.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")

from PIL import Image

from tests.triage.desk_setup import desk_client, desk_state
from tests.triage.file_cases import DEVICE, FileHome, document_pdf, file_home, photo_with_gps, seal
from tests.triage.helpers import Triage
from triage.desk import create_app
from triage.home import Home

IMAGE_HEADERS = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels: a decompression bomb's first step."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def hostile_files() -> list[Any]:
    return [
        seal("bomb.png", "image/png", png_claiming(100_000, 100_000)),
        seal("broken.pdf", "application/pdf", b"%PDF-1.7\n" + b"\x00garbage" * 200),
        seal("huge.png", "image/png", png_claiming(9_000, 9_000)),
    ]


@pytest.fixture
def photo_home(triage: Triage, tmp_path: Path) -> FileHome:
    files = [seal("фото повестки.jpg", "image/jpeg", photo_with_gps()), seal("справка.pdf", "application/pdf",
             document_pdf(2))]  # fmt: skip
    return file_home(triage, tmp_path, files, [seal("note.txt", "text/plain", "Привет\n".encode())])


def client_for(home: FileHome, **options: Any) -> tuple[Any, Any]:
    state = desk_state(Home(home.triage.home), **options)
    client = desk_client(create_app(state))
    assert client.get(f"/open?key={state.secret}").status_code == 303  # the one-time code traded for a session
    return client, state


def links(page: str, kind: str) -> list[str]:
    return re.findall(rf'(?:href|src)="(/[^"]+/{kind}/[^"]+)"', page)


def test_the_case_page_lists_each_file_with_a_safe_view_link_that_names_nothing(photo_home: FileHome) -> None:
    client, state = client_for(photo_home)
    page = client.get(f"/case/{photo_home.case_id}").get_data(as_text=True)
    assert "фото повестки.jpg" in page and "справка.pdf" in page and "note.txt" in page
    for sent in photo_home.files:
        assert hashlib.sha256(sent.data).hexdigest() in page
    assert "JPEG photo" in page and "PDF document" in page and "plain text" in page
    hrefs = links(page, "file")
    assert len(hrefs) == 3
    for href in hrefs:
        assert photo_home.case_id not in href and "jpg" not in href and "pdf" not in href
        token = href.rsplit("/", 1)[1]
        assert state.files.file(token) is not None and len(token) >= 16


def test_a_photo_is_shown_rebuilt_with_the_gps_warning_first(photo_home: FileHome) -> None:
    client, _state = client_for(photo_home)
    page = client.get(f"/case/{photo_home.case_id}").get_data(as_text=True)
    response = client.get(links(page, "file")[0])
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="gps-warning"' in body and "43.31, 45.69" in body and "may be at risk" in body
    assert body.index("gps-warning") < body.index("What the file") < body.index("Rebuilt copy")
    assert DEVICE in body
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "img-src 'self'" in policy and "script" not in policy
    (src,) = links(body, "picture")
    picture = client.get(src, headers=IMAGE_HEADERS)
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    rebuilt = Image.open(io.BytesIO(picture.data))
    assert rebuilt.format == "PNG" and rebuilt.size == (640, 480) and not dict(rebuilt.getexif())
    assert b"Samsung" not in picture.data and b"SM-A515F" not in picture.data
    assert picture.data != photo_home.files[0].data  # the browser never receives the file as sent


def test_a_rebuilt_picture_is_served_only_to_an_image_on_a_desk_page(photo_home: FileHome) -> None:
    client, _state = client_for(photo_home)
    page = client.get(f"/case/{photo_home.case_id}").get_data(as_text=True)
    (src,) = links(client.get(links(page, "file")[0]).get_data(as_text=True), "picture")
    assert client.get(src).status_code == 403  # as a page of its own: not what the desk's <img> asks
    assert client.get(src, headers={**IMAGE_HEADERS, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    no_session = client.application.test_client()  # the same desk, a browser without its session cookie
    refused = no_session.get(src, headers=IMAGE_HEADERS)
    assert refused.status_code == 303 and refused.mimetype != "image/png"
    # Pages of the queue still allow no image at all.
    assert "img-src" not in client.get("/").headers["Content-Security-Policy"]


def test_a_pdf_is_shown_page_by_page_with_its_author(photo_home: FileHome) -> None:
    client, _state = client_for(photo_home)
    page = client.get(f"/case/{photo_home.case_id}").get_data(as_text=True)
    body = client.get(links(page, "file")[1]).get_data(as_text=True)
    assert len(links(body, "picture")) == 2
    assert "Иван Петров" in body and 'id="gps-warning"' not in body


def test_another_type_shows_only_its_facts(photo_home: FileHome) -> None:
    client, _state = client_for(photo_home)
    page = client.get(f"/case/{photo_home.case_id}").get_data(as_text=True)
    body = client.get(links(page, "file")[2]).get_data(as_text=True)
    assert "shows only photos, pictures and PDF" in body and not links(body, "picture")
    assert "img-src" not in client.get(links(page, "file")[2]).headers["Content-Security-Policy"]


def test_hostile_files_are_refused_with_a_sentence_and_the_desk_stays_up(triage: Triage, tmp_path: Path) -> None:
    home = file_home(triage, tmp_path, hostile_files())
    client, _state = client_for(home)
    page = client.get(f"/case/{home.case_id}").get_data(as_text=True)
    expected = ["decompression bomb", "damaged or is not what", "decompression bomb"]
    for href, words in zip(links(page, "file"), expected, strict=True):
        response = client.get(href)
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and 'id="refused"' in body and words in body
        assert not links(body, "picture")
    assert client.get("/").status_code == 200  # the desk goes on
    assert client.get(f"/case/{home.case_id}").status_code == 200


def test_a_damaged_blob_is_not_shown(triage: Triage, tmp_path: Path) -> None:
    home = file_home(triage, tmp_path, [seal("фото.jpg", "image/jpeg", photo_with_gps())])
    path = home.blobs.path(bytes.fromhex(home.files[0].entry["blob"]))
    blob = bytearray(path.read_bytes())
    blob[-40] ^= 1
    path.write_bytes(bytes(blob))
    client, _state = client_for(home)
    page = client.get(f"/case/{home.case_id}").get_data(as_text=True)
    body = client.get(links(page, "file")[0]).get_data(as_text=True)
    assert "damaged or is not the one its request names" in body and not links(body, "picture")


def test_the_desk_saves_the_original_and_a_clean_copy_into_the_usb_folder(photo_home: FileHome, tmp_path: Path) -> None:
    usb = tmp_path / "stick"
    usb.mkdir()
    client, state = client_for(photo_home, usb_folder=usb)
    page = client.get(f"/case/{photo_home.case_id}").get_data(as_text=True)
    href = links(page, "file")[0]
    assert 'id="save-clean"' in client.get(href).get_data(as_text=True)
    original = client.post(href + "/save", data={"csrf": state.csrf, "how": "original"})
    assert original.status_code == 200
    sent = photo_home.files[0]
    digest = hashlib.sha256(sent.data).hexdigest()
    assert digest in original.get_data(as_text=True)
    assert (usb / "фото повестки.jpg").read_bytes() == sent.data
    again = client.post(href + "/save", data={"csrf": state.csrf, "how": "original"})
    assert again.status_code == 200 and (usb / "фото повестки (2).jpg").read_bytes() == sent.data
    cleaned = client.post(href + "/save", data={"csrf": state.csrf, "how": "clean"})
    assert cleaned.status_code == 200
    (copy,) = [p for p in usb.iterdir() if ".cleaned." in p.name]
    assert not Image.open(copy).getexif().get_ifd(0x8825)
    assert client.post(href + "/save", data={"how": "original"}).status_code == 403  # CSRF as for every POST


def test_without_a_known_folder_the_desk_says_where_to_go_first(photo_home: FileHome) -> None:
    client, state = client_for(photo_home)
    page = client.get(f"/case/{photo_home.case_id}").get_data(as_text=True)
    href = links(page, "file")[0]
    assert "open the USB stick page first" in client.get(href).get_data(as_text=True)
    assert client.post(href + "/save", data={"csrf": state.csrf, "how": "original"}).status_code == 400


def test_the_safe_view_speaks_russian(photo_home: FileHome) -> None:
    client, _state = client_for(photo_home, lang="ru")
    page = client.get(f"/case/{photo_home.case_id}").get_data(as_text=True)
    assert "Файлы" in page and "Безопасный просмотр" in page
    body = client.get(links(page, "file")[0]).get_data(as_text=True)
    assert "записано место съёмки" in body and "43.31, 45.69" in body


def test_the_lock_forgets_every_file_token_and_picture(photo_home: FileHome) -> None:
    client, state = client_for(photo_home)
    page = client.get(f"/case/{photo_home.case_id}").get_data(as_text=True)
    href = links(page, "file")[0]
    (src,) = links(client.get(href).get_data(as_text=True), "picture")
    state.lock()
    token = src.rsplit("/", 1)[1]
    assert state.files.picture(token) is None and state.files.file(href.rsplit("/", 1)[1]) is None


def test_any_file_or_picture_address_is_answered_or_refused_never_a_500(photo_home: FileHome) -> None:
    import urllib.parse

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client, state = client_for(photo_home)
    root = f"/{state.prefix}"

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.text(min_size=1, max_size=80))
    def probe(token: str) -> None:
        quoted = urllib.parse.quote(token, safe="")
        # Refused, never shown and never a 500: 404 for a token nobody was given, 308 for a path Flask tidies,
        # 403 for a path that is no picture page once decoded (say "%2F"), which an image may not fetch, 405
        # for such a path that names another page.
        refused = (308, 403, 404, 405)
        assert client.get(f"{root}/file/{quoted}").status_code in refused
        assert client.get(f"{root}/picture/{quoted}", headers=IMAGE_HEADERS).status_code in refused
        assert client.post(f"{root}/file/{quoted}/save", data={"csrf": state.csrf}).status_code in refused

    probe()
