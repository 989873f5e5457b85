"""A hostile visitor against the running server (gunicorn, deploy config, embedded SQLite), over raw sockets.

Whatever arrives: the answer is a 2xx/3xx/4xx, never a 5xx and never a stack trace; every page is one of
ours (the quick-exit link of templates/base.html); a redirect never leaves this origin; a refused request
leaves no row, no receipt and no used serial behind; the server log keeps nothing of what was sent.
"""

from __future__ import annotations

import contextlib
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_options_header

import crypto
from crypto.request_schema import REQUEST_FIELDS
from intake.config import IntakeConfig
from tests.deploy.intake_helpers import RECEIPT, Browser, csrf_token, the_request
from tests.deploy.rawhttp import Connection, Response
from tests.intake.helpers import OTHER_DIGITS, opened, other_digit_strategy
from tests.system.running import BASE_MARKER, HOST, Gunicorn, SystemInstance

MARKER = "hostile7q3x"  # in every field and path sent: must never show up in the server's log
FORM_TYPE = "application/x-www-form-urlencoded"
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "MKCOL", "LOCK", "SEARCH"]
SETTINGS = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Gunicorn]:
    instance = SystemInstance.create(module_tmp)
    running = Gunicorn(instance)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        log = running.log_text()
        assert MARKER not in log and "Traceback" not in log, "the server log kept what a visitor sent"


@pytest.fixture(scope="module")
def caseworker(server: Gunicorn) -> crypto.Identity:
    return server.instance.caseworker()


def ask(server: Gunicorn, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"",
        visitor: Browser | None = None) -> Response:  # fmt: skip
    """One request on its own connection (or on ``visitor``'s, with its cookies)."""
    if visitor is not None:
        all_headers = visitor._headers(headers)
        return visitor._remember(visitor.conn.request(method, path, host=visitor.host, headers=all_headers, body=body))
    conn = server.connect(timeout=20)
    try:
        return conn.request(method, path, host=f"{HOST}:{server.port}", headers=headers, body=body)
    finally:
        conn.sock.close()


def assert_ours(response: Response, method: str = "GET", origin: str = "") -> None:
    assert response.status < 500, (response.status, response.body[:300])
    assert b"Traceback" not in response.body and b"werkzeug" not in response.body.lower()
    server_header = response.header("Server") or ""
    assert not any(ch.isdigit() for ch in server_header), f"version-revealing Server header {server_header!r}"
    if 300 <= response.status < 400:
        location = response.header("Location") or ""
        if origin and location.startswith(origin + "/"):  # Werkzeug makes it absolute from our own Host header
            location = location[len(origin):]
        if location == IntakeConfig.exit_url:  # the quick exit (/exit) leads to the ordinary site, on purpose
            return
        assert location.startswith("/") and not location.startswith(("//", "/\\")), f"redirect off-site: {location!r}"
        return
    if method == "OPTIONS" and response.status == 200 and not response.body:
        return
    assert BASE_MARKER in response.body, f"not our page: {response.status} {response.body[:200]!r}"
    assert response.header("Content-Security-Policy"), "our pages always carry the CSP"


def visitor(server: Gunicorn, lang: str = "en") -> tuple[Browser, str]:
    """A fresh visitor who has loaded the form: (browser with its session cookie, the page's CSRF token)."""
    browser = Browser(server.connect(timeout=20), f"{HOST}:{server.port}")
    page = browser.get(f"/{lang}/request")
    assert page.status == 200
    return browser, csrf_token(page.body.decode())


def encode(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return "&".join(urllib.parse.quote_from_bytes(k) + "=" + urllib.parse.quote_from_bytes(v)
                    for k, v in pairs).encode()  # fmt: skip


def multipart(pairs: list[tuple[bytes, bytes]], boundary: str) -> bytes:
    parts = [b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="' + k.replace(b'"', b"") + b'"'
             b"\r\n\r\n" + v + b"\r\n" for k, v in pairs]  # fmt: skip
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"


def post_and_check(server: Gunicorn, path: str, body: bytes, content_type: str | None,
                   browser: Browser | None) -> Response:  # fmt: skip
    """POST, check the answer is ours, and check the database moved by exactly one submission or not at all."""
    before = server.instance.counts()
    headers = {"Content-Type": content_type} if content_type else {}
    response = ask(server, "POST", path, headers, body, visitor=browser)
    assert_ours(response, "POST", server.base)
    after = server.instance.counts()
    receipted = response.status == 200 and RECEIPT.search(response.body.decode("utf-8", "replace")) is not None
    expected = tuple(n + 1 for n in before) if receipted else before
    assert after == expected, f"database moved {before} -> {after} for a {'receipted' if receipted else 'refused'} POST"
    return response


# --- paths and methods --------------------------------------------------------------------------------------

PATH_TRICKS = ["en", "ru", "de", "request", "status", "..", ".", "%2e%2e", "%2f", "%5c", "%00", "%ff%fe", "%c0%af",
               "%e2%80%ae", "~", ";x", "?lang=ru", "?next=//evil.example", "#x", "", "static", "etc", "passwd",
               "intake.db", "instance.secret", "%252e%252e", MARKER]  # fmt: skip
SEGMENTS = st.one_of(st.sampled_from(PATH_TRICKS), st.binary(min_size=1, max_size=6).map(urllib.parse.quote_from_bytes))


@SETTINGS
@given(method=st.sampled_from(METHODS), segments=st.lists(SEGMENTS, min_size=0, max_size=6),
       double_slash=st.booleans())  # fmt: skip
def test_any_path_and_method_gets_one_of_our_pages(server: Gunicorn, method: str, segments: list[str],
                                                   double_slash: bool) -> None:  # fmt: skip
    path = ("//" if double_slash else "/") + "/".join(segments)
    before = server.instance.counts()
    body = encode([(b"story", MARKER.encode())]) if method in ("POST", "PUT", "PATCH") else b""
    headers = {"Content-Type": FORM_TYPE} if body else {}
    assert_ours(ask(server, method, path, headers, body), method, server.base)
    assert server.instance.counts() == before


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd", "/en/../../instance.secret", "/en/%2e%2e/%2e%2e/intake.db", "/en/..%2f..%2fserver.key",
    "/%2e%2e%5c%2e%2e%5cwindows%5cwin.ini", "/en/request/../../status", "//evil.example/en/", "/\\evil.example/",
    "/en/%00", "/en/request%00.html", "/en/%ff%fe%fd", "/ru/%d0", "/" + "a" * 1900,
])  # fmt: skip
def test_path_tricks(server: Gunicorn, path: str) -> None:
    response = ask(server, "GET", path)
    assert_ours(response, "GET", server.base)
    assert response.status in (301, 302, 308, 404), response.status
    assert b"root:" not in response.body and b"SQLite format" not in response.body


# --- form bodies ----------------------------------------------------------------------------------------

FIELD_NAMES = [*REQUEST_FIELDS, "csrf_token", "consent", "", "x", "story[]", MARKER]
NAMES = st.one_of(st.sampled_from(FIELD_NAMES).map(str.encode), st.binary(max_size=12))
VALUES = st.one_of(
    st.binary(max_size=40),  # invalid UTF-8, NUL bytes, anything
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\x00", b"immediate", b"99", b"-1", b"1e9", b"\xed\xa0\x80", b"y", b"on", b"\xef\xbb\xbf1"]),
    st.integers(min_value=200, max_value=20_000).map(lambda n: (MARKER + " x") .encode() * n),
)
CONTENT_TYPES = st.sampled_from([
    FORM_TYPE, FORM_TYPE, FORM_TYPE, "multipart/form-data; boundary=b0und4ry", "multipart/form-data",
    f"{FORM_TYPE}; charset=koi8-r", "application/json", "text/plain", "text/html; charset=utf-8", None,
    "multipart/form-data; boundary=", "*/*", "application/x-www-form-urlencoded;;;charset=\u00ff",
    "multipart/mixed; boundary=b0und4ry", "application/octet-stream", "text/xml", "image/png; boundary=b0und4ry",
    "application/x-www-form-urlencoded-but-not", "APPLICATION/X-WWW-FORM-URLENCODED",
])  # fmt: skip
CSRF_MODES = st.sampled_from(["valid", "valid", "missing", "foreign", "garbage", "no-cookie", "twice", "empty"])


@SETTINGS
@given(start_valid=st.booleans(), extra=st.lists(st.tuples(NAMES, VALUES), max_size=25), csrf=CSRF_MODES,
       content_type=CONTENT_TYPES, lang=st.sampled_from(["en", "ru"]),
       page=st.sampled_from(["request", "request", "status"]))  # fmt: skip
def test_any_form_body_gets_our_page_and_never_a_partial_row(
    server: Gunicorn, caseworker: crypto.Identity, start_valid: bool, extra: list[tuple[bytes, bytes]], csrf: str,
    content_type: str | None, lang: str, page: str,
) -> None:  # fmt: skip
    browser, token = visitor(server, lang)
    pairs: list[tuple[bytes, bytes]] = []
    if start_valid:
        for key, value in the_request(f"{MARKER} a valid start").items():
            for item in value if isinstance(value, list) else [value]:
                pairs.append((key.encode(), item.encode()))
    pairs += extra
    tokens = {"valid": [token], "missing": [], "garbage": ["IjAxMjM0NTY3ODki.Zz.bad"], "empty": [""],
              "twice": [token, token + "x"], "no-cookie": [token]}  # fmt: skip
    if csrf == "foreign":
        other, foreign_token = visitor(server, lang)
        other.conn.sock.close()
        tokens["foreign"] = [foreign_token]
    pairs += [(b"csrf_token", t.encode()) for t in tokens[csrf]]
    if csrf == "no-cookie":
        browser.cookies.clear()
    body = multipart(pairs, "b0und4ry") if content_type and "b0und4ry" in content_type else encode(pairs)
    known = server.instance.envelope_ids()
    try:
        response = post_and_check(server, f"/{lang}/{page}", body, content_type, browser)
    finally:
        browser.conn.sock.close()
    event(f"{page}: answer {response.status}")
    as_our_form = parse_options_header(content_type or "")[0].lower() == FORM_TYPE  # media types ignore case
    # The request form also posts multipart, for its files (issue 24): read by intake.multipart, never werkzeug
    takes_files = page == "request" and (content_type or "").startswith("multipart/form-data")
    as_our_form = as_our_form or (takes_files and "b0und4ry" in (content_type or ""))
    if csrf not in ("valid", "twice") or not as_our_form:
        assert response.status >= 400, "a POST without a valid token from this session, as a form, was accepted"
    if not as_our_form and not takes_files:
        assert response.status == 415, f"{content_type!r} was not refused as a kind of body our pages never send"
    if response.status == 200 and RECEIPT.search(response.body.decode("utf-8", "replace")):
        [newest] = server.instance.envelope_ids() - known
        assert opened(server.instance.envelope(newest), caseworker)["locale"] == lang


@SETTINGS
@given(people=st.one_of(other_digit_strategy(), st.sampled_from(["2", *OTHER_DIGITS])),
       children=st.one_of(other_digit_strategy(), st.sampled_from(["1", "", *OTHER_DIGITS])),
       file_in=st.sampled_from([None, "story", "contact"]))  # fmt: skip
def test_other_digits_and_files_get_our_page_and_store_nothing(server: Gunicorn, people: str, children: str,
                                                               file_in: str | None) -> None:  # fmt: skip
    """Issue 14 item 3 (people=² was a 500) and issue 9 item 4 (a file in a text field was a 500)."""
    assume(not (people.isascii() and children.isascii()))
    browser, token = visitor(server)
    fields = {**the_request(MARKER), "people": people, "children": children, "csrf_token": token}
    pairs = [(k.encode(), item.encode()) for k, v in fields.items() for item in (v if isinstance(v, list) else [v])]
    if file_in is None:
        body, content_type = encode(pairs), FORM_TYPE
    else:
        body = multipart([p for p in pairs if p[0] != file_in.encode()], "b0und4ry").replace(
            b"--b0und4ry--", b'--b0und4ry\r\nContent-Disposition: form-data; name="' + file_in.encode()
            + b'"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n' + MARKER.encode() + b"\r\n--b0und4ry--")
        content_type = "multipart/form-data; boundary=b0und4ry"
    try:
        response = post_and_check(server, "/en/request", body, content_type, browser)
    finally:
        browser.conn.sock.close()
    assert response.status == (415 if file_in else 200), response.status
    assert RECEIPT.search(response.body.decode()) is None, "a request with a number we never offer was sealed"


def test_a_token_replayed_from_another_visitor_or_without_its_cookie_is_refused(server: Gunicorn) -> None:
    alice, alice_token = visitor(server)
    mallory, _ = visitor(server)
    story = the_request(f"{MARKER} replay")
    cookieless = Browser(server.connect(), alice.host)
    body = urllib.parse.urlencode({**story, "csrf_token": alice_token}, doseq=True).encode()
    try:
        # Alice's token sent by Mallory (with Mallory's cookie), or with no cookie at all: refused
        for browser in (mallory, cookieless):
            assert post_and_check(server, "/en/request", body, FORM_TYPE, browser).status == 400
        # and Alice herself, with her own cookie, still gets through
        assert post_and_check(server, "/en/request", body, FORM_TYPE, alice).status == 200
    finally:
        for browser in (alice, mallory, cookieless):
            browser.conn.sock.close()


def test_enormous_bodies_and_thousands_of_parts_are_refused_or_bounded(
    server: Gunicorn, caseworker: crypto.Identity
) -> None:
    boundary = "multipart/form-data; boundary=b0und4ry"
    # Werkzeug applies MAX_FORM_PARTS to multipart bodies only; a urlencoded body is bounded by its size alone,
    # so thousands of urlencoded parts may be accepted, but then only as one well-formed request.
    cases = [
        ([(b"story", b"x" * 400_000)], FORM_TYPE, False, {413}),
        ([(b"threat_from", b"family")] * 5000, FORM_TYPE, False, {200, 413}),
        ([(f"f{i}".encode(), b"1") for i in range(3000)], FORM_TYPE, False, {200, 413}),
        ([(b"documents", b"none")] * 2000, boundary, True, {413}),  # refused at the part past the bound
        ([(b"health", b"\x00" * 300_000)], boundary, True, {413, 415}),
    ]
    for extra, content_type, as_multipart, allowed in cases:
        browser, token = visitor(server)
        pairs = [(k.encode(), str(v).encode()) for k, v in the_request(MARKER).items() if not isinstance(v, list)]
        pairs += [(b"csrf_token", token.encode()), *extra]
        body = multipart(pairs, "b0und4ry") if as_multipart else encode(pairs)
        known = server.instance.envelope_ids()
        try:
            response = post_and_check(server, "/en/request", body, content_type, browser)
        finally:
            browser.conn.sock.close()
        assert response.status in allowed, (response.status, len(extra))
        if response.status == 200:
            [newest] = server.instance.envelope_ids() - known
            request = opened(server.instance.envelope(newest), caseworker)
            assert request["story"] == MARKER and request["threat_from"] in ([], ["family"]), request["threat_from"]


# --- the transport: what gunicorn parses before the app -----------------------------------------------------


def raw_exchange(server: Gunicorn, data: bytes) -> bytes:
    """Send raw bytes after tor's PROXY line, close our side, read whatever comes back until the server closes."""
    conn = server.connect(timeout=20)
    received = b""
    try:
        with contextlib.suppress(OSError):
            conn.sock.sendall(data)
            conn.sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            while chunk := conn.sock.recv(65536):
                received += chunk
    finally:
        conn.sock.close()
    return received


TRANSPORT = [
    b"GET /en/\xff\xfe" + MARKER.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # invalid UTF-8 in the raw path
    b"GET /en/\x00" + MARKER.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # NUL in the path
    b"get /en/ HTTP/1.1\r\nHost: x\r\n\r\n",  # a method gunicorn does not accept
    b"GET /en/ HTTP/1.1\r\nHost: x\r\nX-" + MARKER.encode() + b": " + b"a" * 8000 + b"\r\n\r\n",  # enormous header
    b"GET /en/ HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",  # many headers
    b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # enormous request line
    b"POST /en/request HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\x00" + MARKER.encode()
    + b"\r\nContent-Length: 1\r\n\r\nx",  # NUL in a header value
]
TRANSPORT_IDS = ["raw-invalid-utf8", "raw-nul", "lowercase-method", "huge-header", "many-headers", "huge-line",
                 "header-nul"]
TRANSPORT_MORE = [
    b"GET /en/ HTTP/9.9\r\nHost: x\r\n\r\n",
    b"POST /en/request HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde",
    b"POST /en/request HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /en/request HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: " + FORM_TYPE.encode()
    + b"\r\n\r\n" + b"".join(b"%x\r\n%s\r\n" % (4096, b"a" * 4096) for _ in range(100)) + b"0\r\n\r\n",
    b"POST /en/request HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\nContent-Type: " + FORM_TYPE.encode()
    + b"\r\n\r\nstory=x",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),  # a TLS ClientHello on the plain port
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /en/ HTTP/1.1\r\nHost: x\r\n\r\n",  # pipelined
]  # fmt: skip


def status_of(received: bytes) -> int | None:
    if not received.startswith(b"HTTP/1."):
        return None
    return int(received.split(b" ", 2)[1])


def assert_refusal_is_ours(received: bytes) -> None:
    """No answer at all (the server closed), or one of our pages with our headers, never a 5xx or a trace."""
    if status_of(received) is None:
        assert b"Traceback" not in received
        return
    conn = Connection(socket.socket())  # only its parser: the bytes are already here
    conn.buffer = received
    response = conn.read_response()  # the first answer (a pipelined second one is checked on its own elsewhere)
    conn.sock.close()
    assert_ours(response)
    assert b"gunicorn" not in response.body.lower()


@pytest.mark.parametrize("data", TRANSPORT + TRANSPORT_MORE, ids=TRANSPORT_IDS + [f"more-{i}" for i in range(8)])
def test_malformed_http_gets_our_page_and_changes_nothing(server: Gunicorn, data: bytes) -> None:
    before = server.instance.counts()
    received = raw_exchange(server, data)
    assert_refusal_is_ours(received)
    assert MARKER.encode() not in received, "the refusal echoes what was sent"
    assert server.instance.counts() == before
    assert server.get("/en/").status == 200, "the server stopped answering"


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_after_the_proxy_line_never_break_the_server(server: Gunicorn, data: bytes) -> None:
    assert_refusal_is_ours(raw_exchange(server, data))
