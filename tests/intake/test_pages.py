"""Every page in both languages, every error page, and the headers and weight of each."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import ServiceUnavailable, TooManyRequests

from intake.headers import style_hash
from tests.intake.helpers import csrf_token

LANGS = ("en", "ru")
PAGES = ("/{lang}/", "/{lang}/request", "/{lang}/urgent", "/{lang}/status")
WORDS = {"en": "Leave this site quickly", "ru": "Быстро уйти с сайта"}


def assert_safe_page(response: object, lang: str, exit_url: str) -> str:
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert f'<html lang="{lang}" dir="ltr">' in html
    assert '<a class="exit" href="/exit"' in html and WORDS[lang] in html
    assert "<script" not in html.lower()
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"
    assert not re.search(r'(src|href|action)="(https?:)?//', html), "no other origin"
    assert not re.search(r"<(img|svg|link|iframe|object|embed|font)\b", html, re.I)
    return html


def assert_security_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "script-src" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in headers["Cache-Control"]
    assert headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin")
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "Server" not in headers
    for cookie in headers.getlist("Set-Cookie"):
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_in_both_languages(sqlite_client: FlaskClient, sqlite_app: Flask, lang: str, page: str) -> None:
    response = sqlite_client.get(page.format(lang=lang))
    assert response.status_code == 200
    html = assert_safe_page(response, lang, sqlite_app.extensions["intake"].config.exit_url)
    assert_security_headers(response)
    other = "ru" if lang == "en" else "en"
    link = f'hreflang="{other}" href="{page.format(lang=other)}"'
    button = f'name="relang" value="{other}" formaction="{page.format(lang=other)}"'  # a form keeps its answers
    assert link in html or button in html, "a visible language switch"


def test_root_redirects_to_the_configured_default_language(sqlite_client: FlaskClient) -> None:
    response = sqlite_client.get("/", headers={"Accept-Language": "ru-RU,ru"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/en/")
    assert_security_headers(response)


def test_accept_language_is_never_used(sqlite_client: FlaskClient) -> None:
    english = sqlite_client.get("/en/request", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    russian = sqlite_client.get("/ru/request", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert WORDS["en"] in english and WORDS["ru"] not in english
    assert WORDS["ru"] in russian and WORDS["en"] not in russian


def test_css_is_inline_under_its_csp_hash_and_the_form_is_light(sqlite_client: FlaskClient) -> None:
    for lang in LANGS:
        response = sqlite_client.get(f"/{lang}/request")
        html = response.get_data(as_text=True)
        css = re.search(r"<style>(.*?)</style>", html, re.S)
        assert css and style_hash(css.group(1)) in response.headers["Content-Security-Policy"]
        # One request: nothing else is referenced. 20 KB transferred, headers included.
        header_bytes = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
        assert len(response.data) + header_bytes <= 20_000, len(response.data)


def test_sensitive_fields_do_not_autocomplete(sqlite_client: FlaskClient) -> None:
    html = sqlite_client.get("/ru/request").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/ru/request" autocomplete="off"[^>]*>', html)
    for name in ("health", "contact", "safe_times", "alias", "story"):
        tag = re.search(rf'<(input|textarea)[^>]*name="{name}"[^>]*>', html)
        assert tag and 'autocomplete="off"' in tag.group(0), name
    for name in ("danger", "threat_from", "detention", "location", "people", "children", "documents",
                 "contact_method", "consent"):  # fmt: skip
        assert f'name="{name}"' in html, name
    status = sqlite_client.get("/ru/status").get_data(as_text=True)
    assert re.search(r'<input[^>]*autocomplete="off"[^>]*inputmode="numeric"[^>]*name="receipt"', status)


ERRORS = {400: "This page could not be used", 404: "This page does not exist",
          405: "This page cannot be used this way", 413: "What you sent is too large",
          415: "This page could not read what was sent",
          429: "Too many attempts, please wait", 500: "Something went wrong on our side",
          503: "The service is not taking requests right now"}  # fmt: skip
ERRORS_RU = {400: "Эту страницу не удалось открыть", 404: "Такой страницы нет",
             405: "Так этой страницей пользоваться нельзя",
             413: "Отправленный текст слишком большой", 415: "Не удалось прочитать то, что было отправлено",
             429: "Слишком много попыток", 500: "У нас что-то пошло",
             503: "Сейчас сервис не принимает"}  # fmt: skip


def provoke(client: FlaskClient, app: Flask, code: int, lang: str) -> object:
    if code == 400:
        return client.post(f"/{lang}/status", data={"receipt": "1"})  # no CSRF token
    if code == 404:
        return client.get(f"/{lang}/no-such-page")
    if code == 405:
        return client.delete(f"/{lang}/request")
    if code == 413:
        token = csrf_token(client, f"/{lang}/request")
        return client.post(f"/{lang}/request", data={"csrf_token": token, "story": "x" * 400_000})
    if code == 415:  # (the request form and the follow-up form take multipart for files: the look-up does not)
        token = csrf_token(client, f"/{lang}/status")
        data = {"csrf_token": token, "receipt": "x"}
        return client.post(f"/{lang}/status", data=data, content_type="multipart/form-data")
    raising = {429: TooManyRequests, 500: RuntimeError, 503: ServiceUnavailable}[code]

    def broken(*args: object, **kwargs: object) -> None:
        raise raising()

    app.extensions["intake"].storage.receipt_status = broken
    token = csrf_token(client, f"/{lang}/status")
    return client.post(f"/{lang}/status", data={"csrf_token": token, "receipt": "1" * 30})


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_error_page_in_both_languages(sqlite_client: FlaskClient, sqlite_app: Flask, code: int,
                                            lang: str) -> None:  # fmt: skip
    response = provoke(sqlite_client, sqlite_app, code, lang)
    assert response.status_code == code  # type: ignore[attr-defined]
    html = assert_safe_page(response, lang, sqlite_app.extensions["intake"].config.exit_url)
    assert (ERRORS if lang == "en" else ERRORS_RU)[code] in html
    assert "Traceback" not in html and "RuntimeError" not in html
    assert_security_headers(response)


def test_unknown_language_is_a_404_in_the_default_language(sqlite_client: FlaskClient) -> None:
    response = sqlite_client.get("/de/")
    assert response.status_code == 404 and ERRORS[404] in response.get_data(as_text=True)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", ["status", "request", ""])
def test_an_address_without_its_language_goes_to_the_default_language(sqlite_app: Flask, lang: str,
                                                                      page: str) -> None:  # fmt: skip
    # Given a server whose default language is ``lang``
    object.__setattr__(sqlite_app.extensions["intake"].config, "default_locale", lang)
    client = sqlite_app.test_client()
    # When a person types the address of a page without its language (issue 13 item 7)
    response = client.get(f"/{page}")
    # Then they are sent to that page in the default language, on this site
    assert response.status_code == 302 and response.headers["Location"] == f"/{lang}/{page}"
    assert_security_headers(response)
    assert client.get(response.headers["Location"]).status_code == 200


@pytest.mark.parametrize("path", ["/de/status", "/status/", "/no-such-page", "/en/en/status", "/xx/"])
def test_only_real_pages_are_redirected(sqlite_client: FlaskClient, path: str) -> None:
    assert sqlite_client.get(path).status_code == 404
    assert sqlite_client.post("/status", data={"receipt": "1"}).status_code == 404


def test_the_quick_exit_makes_the_browser_forget_this_site(sqlite_client: FlaskClient, sqlite_app: Flask) -> None:
    # Given a person with a session (the form page gave them a cookie)
    csrf_token(sqlite_client, "/ru/request")
    assert sqlite_client.get_cookie("intake_session") is not None
    # When they press the quick exit
    response = sqlite_client.get("/exit")
    # Then they go straight to the ordinary site, and the browser is told to forget this one
    assert response.status_code == 303
    assert response.headers["Location"] == sqlite_app.extensions["intake"].config.exit_url
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert sqlite_client.get_cookie("intake_session") is None, "the session cookie is dropped"
    assert_security_headers(response)
