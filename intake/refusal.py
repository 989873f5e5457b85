"""The page for requests the WSGI server refuses before the app runs, as ours and not the server's.

gunicorn answers a request it cannot parse (bad bytes in the request line, a header over the limits, an
unknown method) with its own English page that echoes the request line and carries none of our
security headers. ``refusal_response`` is the replacement: fixed bytes, both languages, the quick-exit
link, the same headers as every other page, and nothing of what the client sent.

An upload (a form with files) the worker refuses or cuts before the app could answer (intake.upload_stream)
gets a page of its own per status: it says plainly that nothing was sent, why, and that the files must be
chosen again (a browser cannot keep them); Back returns to the form.
"""

from __future__ import annotations

import html

from intake.headers import security_headers

REASONS = {400: "Bad Request", 403: "Forbidden", 408: "Request Timeout", 411: "Length Required",
           413: "Content Too Large", 414: "URI Too Long", 417: "Expectation Failed", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable"}  # fmt: skip
_UPLOAD_TITLE = ("Nothing was sent", "Ничего не отправлено")
_UPLOAD_AGAIN = ("Go back to the form: the files must be chosen again (a browser cannot keep them).",
                 "Вернитесь назад к форме: файлы придётся выбрать заново (браузер не может их сохранить).")
_UPLOAD_WHY = {
    408: ("The connection was too slow, and your files did not arrive in time. Choose smaller files or fewer "
          "of them, or send the form without files.",
          "Соединение было слишком медленным, и файлы не успели дойти. Выберите файлы поменьше или меньше "
          "файлов — или отправьте форму без файлов."),
    411: ("Your browser sent the files in a way this site cannot take. Send the form again; if this happens "
          "again, send it without files.",
          "Ваш браузер отправил файлы так, что сайт не может их принять. Отправьте форму ещё раз; если это "
          "повторится, отправьте её без файлов."),
    413: ("What you sent is larger than this site takes. Choose smaller files or fewer of them.",
          "Вы отправили больше, чем принимает сайт. Выберите файлы поменьше или меньше файлов."),
    429: ("Another form with files is still being sent from this browser. Wait until it has gone, then "
          "send this one again if you still need to.",
          "Из этого браузера ещё отправляется другая форма с файлами. Дождитесь, пока она уйдёт, и, если "
          "нужно, отправьте эту ещё раз."),
    503: ("Many people are sending files right now. Wait a few minutes and send the form again, or send "
          "it without files.",
          "Сейчас много людей отправляют файлы. Подождите несколько минут и отправьте форму ещё раз — или "
          "отправьте её без файлов."),
}
RETRY_AFTER = {429: "60", 503: "300"}
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


_UPLOAD_BODY = """<!doctype html>
<html lang="en" dir="ltr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title_en} / {title_ru}</title><style>{css}</style></head>
<body><a class="exit" href="{exit}" rel="noreferrer">Leave this site quickly</a>
<h1>{title_en}</h1>
<p>{why_en}</p>
<p>{again_en}</p>
<div lang="ru"><a class="exit" href="{exit}" rel="noreferrer">Быстро уйти с сайта</a>
<h2>{title_ru}</h2>
<p>{why_ru}</p>
<p>{again_ru}</p></div>
</body></html>
"""


def _upload_body(status: int, exit_url: str) -> str:
    why_en, why_ru = _UPLOAD_WHY[status]
    return _UPLOAD_BODY.format(css=_CSS, exit=html.escape(exit_url, quote=True), title_en=_UPLOAD_TITLE[0],
                               title_ru=_UPLOAD_TITLE[1], why_en=why_en, why_ru=why_ru,
                               again_en=_UPLOAD_AGAIN[0], again_ru=_UPLOAD_AGAIN[1])  # fmt: skip


def refusal_response(status: int, exit_url: str, *, upload: bool = False) -> bytes:
    """A complete HTTP/1.1 response (connection closed after it) for a refused request.

    ``upload``: the request was a form with files; the page then says why it was not sent (for the statuses
    the worker refuses uploads with: 408, 411, 413, 429, 503).
    """
    status = status if status in REASONS else 400
    text = _upload_body(status, exit_url) if upload and status in _UPLOAD_WHY else None
    body = (text or _BODY.format(css=_CSS, exit=html.escape(exit_url, quote=True))).encode("utf-8")
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **({"Retry-After": RETRY_AFTER[status]} if status in RETRY_AFTER else {}),
        **security_headers(_CSS),
    }
    head = f"HTTP/1.1 {status} {REASONS[status]}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("ascii") + b"\r\n" + body
