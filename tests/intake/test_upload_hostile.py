"""Hostile multipart bodies (issue 24): the parser boundary under hypothesis, and the app's answer to each.

A body that is not a well-formed multipart form is refused with a clear page, never a 500; whatever it
staged before it went wrong is deleted; the parser raises nothing but MalformedUpload.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.multipart import FileLimits, MalformedUpload, read_multipart
from tests.intake.uploading import encode, files_of, form_parts

LIMITS = FileLimits(max_files=2, max_file_bytes=5000, max_total_bytes=8000, max_text_bytes=20_000, max_parts=12)
BOUNDARY = "xYz"


class Sink:
    opened: ClassVar[list[Sink]] = []

    def __init__(self) -> None:
        self.blob_id = len(Sink.opened).to_bytes(16, "big")
        self.data = bytearray()
        self.closed = False
        Sink.opened.append(self)

    def write(self, ciphertext: bytes) -> None:
        assert not self.closed
        self.data += ciphertext

    def close(self) -> None:
        self.closed = True


def _valid_body() -> bytes:
    body, _ = encode([("csrf_token", "t"), ("story", "Помогите"), ("files", ("a.jpg", "image/jpeg", b"j" * 3000)),
                      ("files", ("", "application/octet-stream", b"")), ("consent", "y")], BOUNDARY)  # fmt: skip
    return body


VALID = _valid_body()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(VALID)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "flip", "insert", "delete", "repeat"]))
        at = draw(st.integers(0, len(body)))
        if kind == "cut":
            del body[at:]
        elif kind == "flip" and at < len(body):
            body[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            body[at:at] = draw(st.sampled_from([b"\r\n", b"--xYz\r\n", b"--xYz--\r\n", b'"', b"\x00",
                                                b'Content-Disposition: form-data; name="files"; filename="b"\r\n',
                                                b"\r\n\r\n", draw(st.binary(max_size=40))]))  # fmt: skip
        elif kind == "delete":
            del body[at : at + draw(st.integers(1, 60))]
        else:
            body[at:at] = bytes(body[at : at + draw(st.integers(1, 400))]) * draw(st.integers(1, 30))
    return bytes(body)


CONTENT_TYPES = st.sampled_from([
    f"multipart/form-data; boundary={BOUNDARY}", f'multipart/form-data; boundary="{BOUNDARY}"', "multipart/form-data",
    "multipart/form-data; boundary=", "multipart/mixed; boundary=xYz", "multipart/form-data; boundary=" + "b" * 71,
    "text/plain",
])  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(body=st.one_of(mutated(), st.binary(max_size=3000)), content_type=CONTENT_TYPES,
       declared=st.sampled_from(["exact", "none", "short", "long"]))  # fmt: skip
def test_the_parser_reads_or_refuses_and_never_raises_anything_else(body: bytes, content_type: str,
                                                                    declared: str) -> None:  # fmt: skip
    Sink.opened = []
    length = {"exact": len(body), "none": None, "short": max(0, len(body) - 7), "long": len(body) + 9}[declared]
    try:
        upload = read_multipart(io.BytesIO(body).read, length, content_type, LIMITS, Sink, lambda fields: True)
    except MalformedUpload as refused:
        assert refused.reason and " " not in refused.reason  # a reason of ours, never the body's bytes
        return
    # Read: within every limit, and every file kept is one whole sink, closed
    assert len(upload.files) <= LIMITS.max_files
    assert sum(f.sealed.size for f in upload.files) <= LIMITS.max_total_bytes
    assert all(f.sealed.size <= LIMITS.max_file_bytes for f in upload.files)
    assert all(f.name and "/" not in f.name for f in upload.files)
    sinks = {s.blob_id: s for s in Sink.opened}
    for f in upload.files:
        assert sinks[f.blob_id].closed and len(sinks[f.blob_id].data) == f.sealed.blob_size
    assert set(upload.staged) == set(sinks)


def test_the_valid_body_is_read_whole() -> None:
    Sink.opened = []
    upload = read_multipart(io.BytesIO(VALID).read, len(VALID), f"multipart/form-data; boundary={BOUNDARY}", LIMITS,
                            Sink, lambda fields: fields.get("csrf_token") == "t")  # fmt: skip
    assert upload.fields.getlist("story") == ["Помогите"] and upload.fields.get("consent") == "y"
    assert [f.name for f in upload.files] == ["a.jpg"] and upload.refused is None


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (VALID, "multipart/form-data", "no_boundary"),
        (VALID[:-40], f"multipart/form-data; boundary={BOUNDARY}", "no_end"),
        (VALID.replace(b"Content-Disposition: form-data", b"Content-Disposition: attachment", 1),
         f"multipart/form-data; boundary={BOUNDARY}", "no_disposition"),
        (VALID.replace(b'name="story"', b'name="story"; filename="s.txt"'),
         f"multipart/form-data; boundary={BOUNDARY}", "file_in_a_text_field"),
        (encode([("story", "x")] * 13, BOUNDARY)[0], f"multipart/form-data; boundary={BOUNDARY}", "too_many_parts"),
        (encode([("story", "x" * 20_001)], BOUNDARY)[0], f"multipart/form-data; boundary={BOUNDARY}",
         "text_too_large"),
        (VALID.replace(b"Content-Type: image/jpeg", b"X-Long: " + b"h" * 5000),
         f"multipart/form-data; boundary={BOUNDARY}", "headers_too_large"),
    ],
)
def test_each_kind_of_hostile_body_is_refused_for_its_reason(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(MalformedUpload) as refused:
        read_multipart(io.BytesIO(body).read, len(body), content_type, LIMITS, Sink, lambda fields: True)
    assert refused.value.reason == reason


def test_a_body_declared_larger_than_any_acceptable_one_is_not_read() -> None:
    def read(n: int) -> bytes:
        raise AssertionError("read")

    with pytest.raises(MalformedUpload, match="body_too_large"):
        read_multipart(read, LIMITS.max_body_bytes + 1, f"multipart/form-data; boundary={BOUNDARY}", LIMITS, Sink,
                       lambda fields: True)  # fmt: skip


def test_an_endless_chunked_body_is_cut_at_the_bound() -> None:
    class Endless:
        def read(self, n: int) -> bytes:
            return b"a" * n

    with pytest.raises(MalformedUpload):
        read_multipart(Endless().read, None, f"multipart/form-data; boundary={BOUNDARY}", LIMITS, Sink,
                       lambda fields: True)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_app_answers_every_hostile_upload_with_a_page_and_leaves_nothing_staged(sqlite_app: Flask,
                                                                                    data: Any) -> None:  # fmt: skip
    client = sqlite_app.test_client()
    body, content_type = encode([*form_parts(client), ("files", ("a.jpg", "image/jpeg", b"j" * 70_000))])
    body = bytearray(body)
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(body)))
        change = data.draw(st.sampled_from(["cut", "flip", "insert"]))
        if change == "cut":
            del body[at:]
        elif change == "flip" and at < len(body):
            body[at] ^= 0x20
        else:
            body[at:at] = data.draw(st.sampled_from([b"\r\n--", b'"; filename="../x', b"\x00\r\n\r\n", b"\xff"]))
    before = len(sqlite_app.extensions["intake"].storage.envelope_bytes())
    response = client.post("/en/request", data=bytes(body), content_type=content_type)
    assert response.status_code in (200, 400, 409, 413, 415), response.status_code
    page = response.get_data(as_text=True)
    stored = len(sqlite_app.extensions["intake"].storage.envelope_bytes())
    assert stored == before + ('id="receipt"' in page)
    assert all(envelope_id is not None for _, envelope_id, _, _ in files_of(sqlite_app)), "nothing left staged"
    assert "Traceback" not in page
