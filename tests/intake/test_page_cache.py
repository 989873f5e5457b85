"""The pages rendered once per language (intake.pages) are byte for byte the pages a fresh render gives."""

from __future__ import annotations

import string
from collections.abc import Callable

from flask import Flask, g, render_template
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.forms import StatusForm
from intake.views import render_form_page, request_form_class
from tests.intake.helpers import TOKEN, valid_fields

FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
# Every character itsdangerous puts in a token (URL-safe base64 and the dots between its parts).
TOKEN_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=120)


def _fresh(page: str) -> Callable[[], str]:
    """The page as intake rendered it before the cache: the template, an empty form, nothing else."""
    return {
        # A form page also carries the one-time submission token the view drew for it (intake.once).
        "request": lambda: render_form_page("intake.request_form", request_form_class()(formdata=None), None,
                                            g.once_token),
        "urgent": lambda: render_form_page("intake.urgent_form", request_form_class()(formdata=None), None,
                                           g.once_token),
        "status": lambda: render_template("status.html", form=StatusForm(formdata=None), answer=None),
        "": lambda: render_template("landing.html"),
    }[page]


PAGES = ["request", "urgent", "status", ""]


def _served(app: Flask, path: str, token: str) -> tuple[str, str]:
    """(what the view serves, a fresh render), both in one request context carrying ``token``."""
    with app.test_request_context(path):
        app.preprocess_request()
        g.csrf_token = token  # the token generate_csrf hands this request (flask_wtf caches it in g)
        served = str(app.dispatch_request())
        fresh = _fresh(path.split("/")[2])()
    return served, fresh


@FIXTURES_OK
@given(token=TOKEN_TEXT, lang=st.sampled_from(["en", "ru"]), page=st.sampled_from(PAGES))
def test_cached_page_is_byte_identical_to_a_fresh_render(sqlite_app: Flask, token: str, lang: str,
                                                         page: str) -> None:  # fmt: skip
    path = f"/{lang}/{page}"
    client = sqlite_app.test_client()
    assert client.get(path).status_code == 200  # primes the cache with a real token
    served, fresh = _served(sqlite_app, path, token)
    assert served == fresh
    if page != "":
        assert served.count(token) >= 1


def test_a_second_visitor_gets_the_same_page_headers_and_cookie(sqlite_app: Flask) -> None:
    for path in ("/ru/request", "/en/urgent", "/ru/status", "/en/"):
        # The first renders (or primes the cache), the second is spliced.
        one, two = sqlite_app.test_client().get(path), sqlite_app.test_client().get(path)
        assert one.status_code == two.status_code == 200
        drop = {"Set-Cookie", "Content-Length", "Date"}
        assert {k: v for k, v in one.headers if k not in drop} == {k: v for k, v in two.headers if k not in drop}
        cookies = [r.headers.get("Set-Cookie") for r in (one, two)]
        assert [c.split(";")[1:] if c else None for c in cookies] == [c.split(";")[1:] if c else None for c in
                                                                      reversed(cookies)]  # fmt: skip
        assert (cookies[1] is not None) == (path != "/en/")  # a token page starts a session, as before
        assert "no-store" in two.headers["Cache-Control"] and "sha256-" in two.headers["Content-Security-Policy"]
        tokens = TOKEN.findall(two.get_data(as_text=True))
        if path != "/en/":
            assert len(tokens) == 1 and tokens != TOKEN.findall(one.get_data(as_text=True)), "each gets its own"


def test_a_spliced_token_is_accepted_and_errors_are_still_rendered_fresh(sqlite_client: FlaskClient) -> None:
    sqlite_client.get("/en/request")  # prime
    page = sqlite_client.get("/en/request").get_data(as_text=True)
    token = TOKEN.search(page)
    assert token
    bad = sqlite_client.post("/en/request", data={"csrf_token": token.group(1), **valid_fields(people="²")})
    assert bad.status_code == 200 and 'role="alert"' in bad.get_data(as_text=True)
    ok = sqlite_client.post("/en/request", data={"csrf_token": token.group(1), **valid_fields()})
    assert ok.status_code == 200 and 'id="receipt"' in ok.get_data(as_text=True)
    again = sqlite_client.get("/en/request").get_data(as_text=True)
    assert 'role="alert"' not in again and 'aria-invalid="true"' not in again  # errors never reach the cache
