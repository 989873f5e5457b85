"""A waiting POST of the request form goes first when it carries a live CSRF token (intake.priority), also as
browsers post it: multipart/form-data, since the form has a file input. The token read in the event loop is
the one the app reads (intake.multipart), or none at all."""

from __future__ import annotations

import io

from hypothesis import example, given
from hypothesis import strategies as st

from bench.loadgen import multipart_body
from intake import csrf
from intake.multipart import FileLimits, MalformedUpload, read_multipart
from intake.priority import carries_valid_token, posted_token, token_checker

KEY = csrf.csrf_key(b"k" * 32)
LIMITS = FileLimits(max_files=5, max_file_bytes=1 << 20, max_total_bytes=1 << 20, max_text_bytes=1 << 16,
                    max_parts=64)  # fmt: skip
BOUNDARY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'()+_,-./:=?"
TOKENISH = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)


def _app_reads(body: bytes, content_type: str) -> str | None:
    """The first csrf_token the app's own parser reads from ``body`` (None: none, or a body it refuses)."""
    try:
        upload = read_multipart(io.BytesIO(body).read, len(body), content_type, LIMITS, None, lambda _f: False)
    except MalformedUpload:
        return None
    return upload.fields.get("csrf_token")


def test_a_browsers_multipart_post_with_a_live_token_goes_first() -> None:
    cookie = csrf.new_cookie()
    minute = 29_000_000
    check = token_checker(KEY, 360, now_minute=lambda: minute)
    token = csrf.make_token(KEY, cookie, minute)
    boundary = "----WebKitFormBoundaryAbC123xyz"
    kind = f"multipart/form-data; boundary={boundary}".encode()
    body = multipart_body({"csrf_token": token, "once": "A" * 22, "story": "Помогите"}, boundary)
    head_cookie = f"intake_session={cookie}".encode()
    assert posted_token(body, kind) == token == _app_reads(body, kind.decode())
    assert carries_valid_token(b"POST", head_cookie, kind, body, check)
    # Not: another visitor's cookie, a forged token, a body under another boundary, the token not first
    assert not carries_valid_token(b"POST", f"intake_session={csrf.new_cookie()}".encode(), kind, body, check)
    forged = multipart_body({"csrf_token": token[:-1] + ("A" if token[-1] != "A" else "B")}, boundary)
    assert not carries_valid_token(b"POST", head_cookie, kind, forged, check)
    assert posted_token(body, b"multipart/form-data; boundary=other") is None
    assert posted_token(multipart_body({"story": "x", "csrf_token": token}, boundary), kind) is None


@given(boundary=st.text(alphabet=BOUNDARY_CHARS, min_size=1, max_size=70), token=TOKENISH,
       fields=st.lists(st.tuples(st.sampled_from(["csrf_token", "story", "once", "files"]),
                                 st.text(max_size=40)), max_size=4),
       first=st.booleans(), quoted=st.booleans(), cut=st.integers(0, 400))  # fmt: skip
@example(boundary="b", token="1.a", fields=[], first=True, quoted=False, cut=0)
def test_the_token_read_first_is_the_one_the_app_reads(boundary: str, token: str, fields: list[tuple[str, str]],
                                                      first: bool, quoted: bool, cut: int) -> None:  # fmt: skip
    # Given a form posted as a browser posts it (or with the token elsewhere), maybe cut short
    items: dict[str, str | list[str]] = {}
    if first:
        items["csrf_token"] = token
    for name, value in fields:
        items.setdefault(name, [])
        existing = items[name]
        items[name] = [*([existing] if isinstance(existing, str) else existing), value]
    body = multipart_body(items, boundary)
    body = body[: len(body) - cut] if cut else body
    kind = f'multipart/form-data; boundary="{boundary}"' if quoted else f"multipart/form-data; boundary={boundary}"
    # Then a token read in the event loop is the app's first csrf_token, whenever the app can read the body
    found = posted_token(body, kind.encode())
    app = _app_reads(body, kind)
    if found is not None and app is not None:
        assert found == app
    # And the browser's own body, whole, is always recognised
    if first and not cut and "\r" not in token:
        assert found == token


@given(st.binary(max_size=400), st.binary(max_size=80))
def test_any_multipart_body_gives_a_token_or_none(body: bytes, boundary: bytes) -> None:
    kind = b"multipart/form-data; boundary=" + boundary
    token = posted_token(body, kind)
    assert token is None or (isinstance(token, str) and token.isascii())
    prefixed = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + body
    token = posted_token(prefixed, kind)
    assert token is None or (isinstance(token, str) and token.isascii())
    assert carries_valid_token(b"POST", b"intake_session=x", kind, prefixed, token_checker(KEY, 360)) in (True, False)
