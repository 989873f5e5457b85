"""The page for requests gunicorn refuses before the app: ours, bilingual, with our headers, echoing nothing."""

from __future__ import annotations

import pytest

from intake.refusal import refusal_response


@pytest.mark.parametrize("status", [400, 414, 431, 999])
def test_refusal_is_a_complete_response_with_our_headers(status: int) -> None:
    raw = refusal_response(status, "https://example.org/weather?a=1&b=\"2\"")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("ascii").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status if status != 999 else 400} ")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["Cache-Control"].startswith("no-store") and headers["X-Content-Type-Options"] == "nosniff"
    text = body.decode("utf-8")
    assert "Эту страницу не удалось открыть" in text and "This page could not be used" in text
    assert 'href="https://example.org/weather?a=1&amp;b=&quot;2&quot;"' in text  # exit link, escaped
    assert "<script" not in text


# --- gate ---
@pytest.mark.parametrize("status", [408, 411, 413, 429, 503])
def test_an_upload_refusal_says_nothing_was_sent_in_both_languages(status: int) -> None:
    raw = refusal_response(status, "https://example.org/", upload=True)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()) and b"Connection: close" in head
    assert (b"Retry-After: " in head) is (status in (429, 503))
    text = body.decode("utf-8")
    assert "Nothing was sent" in text and "Ничего не отправлено" in text
    assert "chosen again" in text and "выбрать заново" in text and "<script" not in text
