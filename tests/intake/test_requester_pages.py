"""Issue 12, items 2 and 4-7, at the HTML level (the browser tests check the same in real engines): the exit
within reach without CSS, a receipt page that says what to do, errors listed and linked, a short path for a
person in danger now, and a language switch that keeps the answers.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

import crypto
from tests.intake.helpers import csrf_token, opened, receipt_of, submit, valid_fields

EXIT = '<a class="exit" href="/exit"'
EXIT_AGAIN = '<p class="exit-again"><a href="/exit"'


@pytest.mark.parametrize("page", ["/ru/", "/ru/request", "/ru/urgent", "/ru/status", "/ru/nowhere"])
def test_the_exit_is_first_and_last_on_every_page(sqlite_client: FlaskClient, page: str) -> None:
    html = sqlite_client.get(page).get_data(as_text=True)
    body = html.split("<body>", 1)[1]
    assert body.lstrip("\n").startswith("<header>\n" + EXIT), "the exit is the first thing on the page"
    assert body.rstrip().removesuffix("</html>").rstrip().removesuffix("</body>").rstrip().endswith("</p>")
    assert EXIT_AGAIN in body.rsplit("</main>", 1)[1], "and again at the end, for a page read without CSS"


def test_without_css_the_long_form_has_an_exit_after_every_section(sqlite_client: FlaskClient) -> None:
    html = sqlite_client.get("/ru/request").get_data(as_text=True)
    sections = html.split("</fieldset>")
    assert len(sections) == 5
    for after in sections[1:4]:
        assert after.lstrip("\n").startswith(EXIT_AGAIN), "an exit link right after each section"
    # And the landing page no longer speaks of a red button that a page without CSS does not have
    assert "красн" not in sqlite_client.get("/ru/").get_data(as_text=True).lower()


def test_the_language_links_are_a_list_not_one_run_of_letters(sqlite_client: FlaskClient) -> None:
    html = sqlite_client.get("/ru/").get_data(as_text=True)
    nav = re.search(r'<nav class="langs"[^>]*>(.*?)</nav>', html, re.S)
    assert nav and nav.group(1).count("<li>") == 2, "without CSS each language is its own list item"


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_titles_do_not_name_the_service(sqlite_client: FlaskClient, lang: str) -> None:
    # A tab, the Back button's list and the task switcher show the title to anyone looking at the screen
    for page in ("/", "/request", "/urgent", "/status"):
        title = re.search(r"<title>(.*?)</title>", sqlite_client.get(f"/{lang}{page}").get_data(as_text=True))
        assert title and len(title.group(1)) <= 12, title
        for word in ("help", "request", "помощ", "заявк", "safe", "безопас", "evacuat", "эваку"):
            assert word not in title.group(1).lower(), title.group(1)


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["learn it by heart", "What happens next", "in about a week", "How to know it is really us",
            "never ask for your receipt number", "others may see our messages", "If you are in danger right now",
            "close Tor Browser, or choose New Identity"]),
    ("ru", ["выучите его наизусть", "Что будет дальше", "примерно через неделю",
            "Как понять, что это действительно мы",
            "никогда не спрашивают номер квитанции", "наши сообщения могут увидеть другие",
            "Если опасность грозит прямо сейчас", "«Новая личность»"]),
])  # fmt: skip
def test_the_receipt_page_says_what_to_do_next(client: FlaskClient, lang: str, words: list[str]) -> None:
    html = submit(client, lang).get_data(as_text=True)
    for phrase in words:
        assert phrase in html, phrase


def test_errors_are_listed_at_the_top_with_links_to_their_fields(sqlite_client: FlaskClient) -> None:
    # When the empty form is sent
    token = csrf_token(sqlite_client, "/en/request")
    html = sqlite_client.post("/en/request", data={"csrf_token": token}).get_data(as_text=True)
    # Then the banner, before the form, lists every problem with a link to its field
    banner = html.split('<div class="banner" role="alert" id="problems">', 1)[1].split("</div>", 1)[0]
    assert html.index('id="problems"') < html.index("<form")
    links = re.findall(r'<li><a href="#([a-z_]+?)(?:-field)?">[^<:]+: ([^<]+)</a></li>', banner)
    assert [name for name, _ in links] == ["danger", "people", "contact_method", "contact", "story", "consent"]
    targets = re.findall(r'<li><a href="#([a-z_-]+)">', banner)
    for target in targets:  # a choice's box, or the box around a control's label, hint, error and control
        assert f'id="{target}"' in html, f"the link to #{target} leads nowhere"
    assert targets[:2] == ["danger", "people-field"] and targets[-1] == "consent-field"
    # And a choice asks to choose, a text asks to fill in
    messages = dict(links)
    assert messages["danger"] == messages["people"] == messages["contact_method"] == "Please choose an answer."
    assert messages["contact"] == messages["story"] == "Please fill this in."
    assert messages["consent"] == "Please tick this box: it says you know how your request is protected."
    # And each error is tied to its field for screen readers
    assert re.search(r'<input aria-describedby="contact-error contact-hint" aria-invalid="true"[^>]*id="contact"', html)
    assert re.search(r'<select aria-describedby="people-error" aria-invalid="true"[^>]*id="people"', html)
    assert 'role="group" id="danger" aria-labelledby="danger-q" aria-describedby="danger-error"' in html
    assert re.search(r'<input aria-invalid="true" id="danger-0"', html)
    assert re.search(r'<input aria-describedby="consent-error" aria-invalid="true" id="consent"', html)


def test_a_person_in_danger_now_gets_through_the_short_form(client: FlaskClient, app: Flask,
                                                             identity: crypto.Identity) -> None:  # fmt: skip
    # Given the short form: only what a caseworker needs to act
    page = client.get("/ru/urgent").get_data(as_text=True)
    form = page.split("<form", 1)[1].split("</form>", 1)[0]
    asked = sorted(set(re.findall(r'name="([a-z_]+)"', form)) - {"csrf_token", "once"})
    assert asked == ["consent", "contact", "contact_method", "danger", "people", "safe_times", "story"]
    assert '<input type="hidden" name="danger" value="immediate">' in page
    # When the person gives the essentials and no story
    token = csrf_token(client, "/ru/urgent")
    essentials = {"danger": "immediate", "people": "1", "contact_method": "signal", "contact": "+7 900 000-00-00",
                  "consent": "y", "csrf_token": token}  # fmt: skip
    response = client.post("/ru/urgent", data=essentials)
    # Then they get a receipt, and the request says the danger is now
    assert receipt_of(response)
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    request = opened(envelope, identity)
    assert request["danger"] == "immediate" and request["contact"] == "+7 900 000-00-00"
    # Schema 3 seals what was typed: no story (the questionnaire makes it optional when danger is immediate);
    # no stand-in sentence is written in its place (triage shows an answer left empty as such).
    assert request["story"] == "" and request["schema"] == 3


def test_the_short_form_shows_its_own_errors_and_the_story_is_still_required_when_not_in_danger_now(
    client: FlaskClient,
) -> None:
    token = csrf_token(client, "/en/urgent")
    response = client.post("/en/urgent", data={"csrf_token": token, "danger": "immediate", "people": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>In danger now: a short request</h1>" in html
    assert re.findall(r'<li><a href="#([a-z_-]+)">', html) == ["contact_method", "contact-field", "consent-field"]
    serious = submit(client, danger="serious", story="")
    assert "Please fill this in." in serious.get_data(as_text=True) and 'id="receipt"' not in serious.get_data(True)


@pytest.mark.parametrize("page", ["request", "urgent"])
def test_switching_language_keeps_the_answers(client: FlaskClient, app: Flask, page: str) -> None:
    # Given a person half-way through the English form
    token = csrf_token(client, f"/en/{page}")
    answers = valid_fields(story="Мой рассказ, keep me", contact="@keep_me", consent=None)
    # When they press «Русский» (a submit button of the form, so no script is needed)
    response = client.post(f"/ru/{page}", data={"csrf_token": token, "relang": "ru", **answers})
    # Then the form comes back in Russian with every answer, no error shown, nothing sent
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and '<html lang="ru"' in html
    assert 'value="@keep_me"' in html and 'class="err"' not in html and 'id="problems"' not in html
    if page == "request":
        assert "Мой рассказ, keep me" in html and '<input checked id="danger-0"' in html
    assert app.extensions["intake"].storage.pending_count() == 0


@pytest.mark.parametrize("page", ["/ru/request", "/ru/urgent"])
def test_enter_sends_the_form_and_does_not_switch_language(sqlite_client: FlaskClient, page: str) -> None:
    # Enter in a field (a phone keyboard's "Go") presses the form's first submit button in page order
    html = sqlite_client.get(page).get_data(as_text=True)
    first = re.search(r"<button[^>]*>", html)
    assert first and 'name="relang"' not in first.group(0) and html.index("<form") < first.start()
    assert html.index('name="relang"') > html.index("</form>")


def test_an_expired_short_form_comes_back_as_the_short_form_with_its_answers(sqlite_client: FlaskClient) -> None:
    sqlite_client.get("/ru/urgent")
    data = {"danger": "immediate", "people": "2", "contact": "@keep_me_too", "csrf_token": "expired"}
    response = sqlite_client.post("/ru/urgent", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "<h1>Опасность сейчас: короткая заявка</h1>" in html
    assert 'value="@keep_me_too"' in html and "Для вашей безопасности форма действует недолго" in html


def test_after_the_quick_exit_a_resent_form_shows_nothing_typed(sqlite_client: FlaskClient, sqlite_app: Flask) -> None:
    # Given a person who filled in the form (their browser keeps the POST body in its history) and left
    token = csrf_token(sqlite_client, "/ru/request")
    answers = {"csrf_token": token, **valid_fields(story="resend-canary story", contact="@resend_canary")}
    sqlite_client.get("/exit")
    # When someone presses Back and lets the browser send the form again
    response = sqlite_client.post("/ru/request", data=answers)
    # Then nothing typed comes back and nothing is stored
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "resend" not in html and "canary" not in html
    assert sqlite_app.extensions["intake"].storage.pending_count() == 0
