"""The page for requests the WSGI server refuses before the app runs, as ours and not the server's.

gunicorn answers a request it cannot parse (bad bytes in the request line, a header over the limits, an
unknown method) with its own English page that echoes the request line and carries none of our
security headers. ``refusal_response`` is the replacement: fixed bytes, both languages, the quick-exit
link, the same headers as every other page, and nothing of what the client sent.
"""

from __future__ import annotations

import html

from intake.headers import security_headers

REASONS = {400: "Bad Request", 403: "Forbidden", 414: "URI Too Long", 417: "Expectation Failed",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented"}  # fmt: skip
_CSS = "body{font-family:sans-serif;max-width:36em;margin:1em auto;padding:0 1em}.exit{float:right}"
_BODY = """<!doctype html>
<html lang="en" dir="ltr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>This page could not be used / Эту страницу не удалось открыть</title><style>{css}</style></head>
<body><a class="exit" href="{exit}" rel="noreferrer">Leave this site quickly</a>
<h1>This page could not be used</h1>
<p>Something in what your browser sent did not make sense to us. Go back, reload the page and try again.</p>
<p><a href="/en/">Start again</a></p>
<div lang="ru"><a class="exit" href="{exit}" rel="noreferrer">Быстро уйти с сайта</a>
<h2>Эту страницу не удалось открыть</h2>
<p>Мы не смогли понять то, что отправил ваш браузер. Вернитесь назад, обновите страницу и попробуйте ещё раз.</p>
<p><a href="/ru/">Начать сначала</a></p></div>
</body></html>
"""


def refusal_response(status: int, exit_url: str) -> bytes:
    """A complete HTTP/1.1 response (connection closed after it) for a refused request."""
    status = status if status in REASONS else 400
    body = _BODY.format(css=_CSS, exit=html.escape(exit_url, quote=True)).encode("utf-8")
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **security_headers(_CSS),
    }
    head = f"HTTP/1.1 {status} {REASONS[status]}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("ascii") + b"\r\n" + body
