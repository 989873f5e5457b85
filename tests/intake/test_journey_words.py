"""Issue 19 items 1, 3, 5 and 6 (and issue 18 item 9's words) at the HTML level; the browser tests
(tests/system/test_requester_journey.py) check the same pages in real engines.

A form page has no link that leaves it (Tor Browser keeps no form in its history), how the request is protected is
told beside the consent box on both forms, the receipt page says all the receipt opens, the status page asks before
deleting and lists a follow-up's error at the top, dates are words.
"""

from __future__ import annotations

import datetime
import itertools
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from intake.instance import Instance
from intake.receipts import new_receipt, normalize_receipt
from tests.intake.helpers import TOKEN, csrf_token, receipt_of, submit
from tests.intake.test_conversation import open_conversation, send_reply, the_request

FORMS = ("request", "urgent")
OTHER = {"en": "ru", "ru": "en"}
PROTECTION = {
    "en": ["Only our caseworkers hold the keys", "does not record your IP address", "It keeps only the date",
           "it is deleted from this server", "The receipt number itself is not stored on the server"],
    "ru": ["Ключи, чтобы их прочитать, есть только у наших сотрудников",
           "ни ваш IP-адрес, ни данные устройства, ни время", "хранит только дату", "будет удалена с этого сервера",
           "Сам номер квитанции на сервере не хранится"],
}  # fmt: skip


def links_away(html: str) -> list[str]:
    """Every link target on the page that is not the quick exit and not a place on the page itself."""
    hrefs = re.findall(r'<a\b[^>]*\bhref="([^"]*)"', html)
    return [href for href in hrefs if href != "/exit" and not href.startswith("#")]


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("page", FORMS)
def test_a_form_page_has_no_link_away_but_the_exit(sqlite_client: FlaskClient, lang: str, page: str) -> None:
    # The empty form, the form with its errors, and the form after a language switch
    token = csrf_token(sqlite_client, f"/{lang}/{page}")
    pages = [sqlite_client.get(f"/{lang}/{page}").get_data(as_text=True),
             sqlite_client.post(f"/{lang}/{page}", data={"csrf_token": token}).get_data(as_text=True),
             sqlite_client.post(f"/{lang}/{page}", data={"csrf_token": token, "relang": lang}).get_data(as_text=True)]
    for html in pages:
        assert links_away(html) == [], "a link that leaves the form loses the answers in Tor Browser"
        assert "<form" in html and "/exit" in html


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("page", FORMS)
def test_both_forms_say_how_the_request_is_protected_beside_the_consent_box(sqlite_client: FlaskClient, lang: str,
                                                                            page: str) -> None:  # fmt: skip
    html = sqlite_client.get(f"/{lang}/{page}").get_data(as_text=True)
    details = re.search(r'<details class="how"[^>]*><summary>[^<]+</summary>(.*?)</details>', html, re.S)
    assert details, "no explanation on the form page"
    for phrase in PROTECTION[lang]:
        assert phrase in details.group(1), phrase
    # Right before the checkbox it explains
    between = html[details.end() : html.index('id="consent-field"')]
    assert "<input" not in between and "<fieldset" not in between


def test_the_consent_has_no_gendered_form(sqlite_client: FlaskClient) -> None:
    html = sqlite_client.get("/ru/request").get_data(as_text=True)
    assert "Я знаю, как защищена моя заявка и кто её прочтёт." in html
    assert "(а)" not in html


def test_the_short_form_goes_to_the_full_form_with_what_was_typed(client: FlaskClient, app: Flask) -> None:
    # Given a person half-way through the short form
    page = client.get("/ru/urgent").get_data(as_text=True)
    button = re.search(r'<button class="link" form="request-form" type="submit" name="relang" value="ru" '
                       r'formaction="/ru/request">', page)  # fmt: skip
    assert button and page.index("</form>") < button.start(), "after the form's own button: Enter still sends"
    token = TOKEN.search(page).group(1)
    typed = {"danger": "immediate", "people": "2", "contact_method": "signal", "contact": "@keep_me",
             "story": "Длинный рассказ, который нельзя потерять", "relang": "ru", "csrf_token": token}  # fmt: skip
    # When they press the button to answer more questions
    html = client.post("/ru/request", data=typed).get_data(as_text=True)
    # Then the full form comes back with what they typed, no error, nothing sent
    assert "<h1>Заявка на помощь с отъездом</h1>" in html and 'class="err"' not in html
    assert 'value="@keep_me"' in html and "Длинный рассказ, который нельзя потерять" in html
    assert '<input checked id="danger-0"' in html
    assert app.extensions["intake"].storage.pending_count() == 0


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["read their messages to you, and write to them", "Anyone who has the number can do all of this too",
            "write to us in your name", "Save it like three phone numbers in your contacts",
            "each group of ten digits as one number", "Their answer will appear on this site",
            "Look in about a week, then every few days"]),
    ("ru", ["прочитать их сообщения вам и написать им", "Всё это может сделать любой, у кого есть этот номер",
            "написать нам от вашего имени", "Сохраните его в контактах как три номера телефона",
            "каждые десять цифр", "Их ответ появится на этом сайте", "примерно через неделю"]),
])  # fmt: skip
def test_the_receipt_page_says_what_the_receipt_opens(client: FlaskClient, lang: str, words: list[str]) -> None:
    response = submit(client, lang)
    html = response.get_data(as_text=True)
    for phrase in words:
        assert phrase in html, phrase
    # Never a second request: the status page's message is the way to tell caseworkers something new
    advice = re.sub(r"collect new requests|получают новые заявки", "", html)
    assert not re.search(r"(send|make) a new request|new request with|новую заявку|ещё одну заявку", advice)
    # The receipt: three groups of ten digits
    assert re.fullmatch(r"\d{10} \d{10} \d{10}", receipt_of(response))


GROUPING = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)


@given(cuts=st.lists(st.integers(min_value=1, max_value=29), max_size=12, unique=True),
       separator=st.sampled_from([" ", "-", " - ", "  ", ".", "\u00a0", "\t", ")("]))  # fmt: skip
def test_a_receipt_typed_in_any_grouping_is_read(cuts: list[int], separator: str) -> None:
    digits = new_receipt().replace(" ", "")
    bounds = [0, *sorted(cuts), 30]
    typed = separator.join(digits[a:b] for a, b in itertools.pairwise(bounds))
    assert normalize_receipt(typed) == digits


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_status_page_says_who_writes_there_and_how_they_identify_themselves(
    app: Flask, client: FlaskClient, identity: crypto.Identity, lang: str
) -> None:
    receipt = receipt_of(submit(client, lang))
    page = open_conversation(client, receipt, lang)
    who = re.search(r'<p class="note" id="who-writes">([^<]+)</p>', page)
    assert who
    words = {"en": ["Only our caseworkers can leave a message here", "the first thing they will say is the code word"],
             "ru": ["Оставлять здесь сообщения могут только наши сотрудники",
                    "первым делом они назовут условное слово"]}  # fmt: skip
    for phrase in words[lang]:
        assert phrase in who.group(1)


@pytest.mark.parametrize(("lang", "message", "error"), [
    ("en", "   ", "Please write your message."),
    ("ru", "x" * 4001, "Сообщение слишком длинное: не больше 4000 знаков."),
])  # fmt: skip
def test_a_refused_follow_up_is_listed_at_the_top_with_a_link_to_the_field(
    app: Flask, client: FlaskClient, lang: str, message: str, error: str
) -> None:
    receipt = receipt_of(submit(client, lang))
    token = csrf_token(client, f"/{lang}/status")
    answer = client.post(f"/{lang}/status/message", data={"csrf_token": token, "receipt": receipt, "message": message})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    banner = html.split('<div class="banner" role="alert" id="problems">', 1)[1].split("</div>", 1)[0]
    assert html.index('id="problems"') < html.index('id="conversation"'), "at the top, like the form"
    assert re.search(rf'<li><a href="#message-field">[^<:]+: {re.escape(error)}</a></li>', banner), banner
    assert 'id="message-field"' in html and f'<p class="err" id="message-error">{error}</p>' in html
    assert app.extensions["intake"].storage.pending_count() == 1


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_deleting_a_reply_asks_once_and_reminds_of_the_code_word(
    app: Flask, client: FlaskClient, identity: crypto.Identity, lang: str
) -> None:
    # Given a reply on the status page
    receipt = receipt_of(submit(client, lang))
    send_reply(app, identity, str(the_request(app, identity)["reply_key"]), "Условное слово: ромашка")
    page = open_conversation(client, receipt, lang)
    reply_id = re.search(r'name="reply" value="([0-9a-f]+)"', page).group(1)
    token = TOKEN.search(page).group(1)
    fields = {"csrf_token": token, "receipt": receipt, "reply": reply_id}
    # When the person presses delete
    asked = client.post(f"/{lang}/status/delete", data=fields).get_data(as_text=True)
    # Then a page asks once, shows the message, reminds them to keep the code word, and nothing is deleted yet
    assert {"en": "Delete this message?", "ru": "Удалить это сообщение?"}[lang] in asked
    assert "Условное слово: ромашка" in asked and 'id="keep-code-word"' in asked
    assert {"en": "code word", "ru": "условное слово"}[lang] in asked.split('id="keep-code-word"', 1)[1]
    assert 'name="confirmed" value="yes"' in asked and 'name="message"' not in asked
    assert "Условное слово: ромашка" in open_conversation(client, receipt, lang)
    # And "keep it" is a plain form back to the conversation (the receipt in a hidden field, never in the address)
    keep = re.search(rf'<form method="post" action="/{lang}/status" autocomplete="off">(.*?)</form>', asked, re.S)
    assert keep and 'name="receipt"' in keep.group(1)
    kept = client.post(f"/{lang}/status", data={"csrf_token": token, "receipt": receipt}).get_data(as_text=True)
    assert "Условное слово: ромашка" in kept
    # When they confirm
    done = client.post(f"/{lang}/status/delete", data={**fields, "confirmed": "yes"}).get_data(as_text=True)
    # Then it is gone, and the page says there is nothing *new*, not that nothing ever came
    assert 'id="deleted"' in done and "ромашка" not in done
    assert {"en": "No new messages.", "ru": "Новых сообщений нет."}[lang] in done
    assert {"en": "No messages yet", "ru": "Сообщений пока нет"}[lang] not in done


def test_an_unknown_reply_id_asks_nothing_and_deletes_nothing(app: Flask, client: FlaskClient,
                                                              identity: crypto.Identity) -> None:  # fmt: skip
    receipt = receipt_of(submit(client))
    send_reply(app, identity, str(the_request(app, identity)["reply_key"]), "still here")
    token = csrf_token(client, "/en/status")
    for reply in ("00" * 16, "zz", ""):
        html = client.post("/en/status/delete", data={"csrf_token": token, "receipt": receipt, "reply": reply,
                                                      "confirmed": "yes"}).get_data(as_text=True)  # fmt: skip
        assert "still here" in html and 'id="deleted"' not in html and "Delete this message?" not in html


@pytest.mark.parametrize(("lang", "day", "words"), [
    ("ru", datetime.date(2026, 12, 1), "Написано 1 декабря"),
    ("en", datetime.date(2026, 3, 8), "Written on 8 March"),
])  # fmt: skip
def test_dates_are_words_not_iso(app: Flask, client: FlaskClient, identity: crypto.Identity, lang: str,
                                 day: datetime.date, words: str) -> None:  # fmt: skip
    receipt = receipt_of(submit(client, lang))
    public = crypto.ReplyPublicKey.from_b64(str(the_request(app, identity)["reply_key"]))
    sealed = crypto.AckReply(crypto.mailbox_id(public), crypto.seal_reply("hello", written_on=day, seq=1, to=public))
    server_key = Instance(app.extensions["intake"].config).server_key()
    ack = crypto.make_ack([], identity=identity, server=server_key.public, bundle_sequence=1,
                          created_on=datetime.date.today(), replies=[sealed])  # fmt: skip
    app.extensions["intake"].storage.apply_ack(ack, server_key, datetime.date.today())
    page = open_conversation(client, receipt, lang)
    assert words in page and day.isoformat() not in page



@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_conversation_page_has_no_link_away_and_its_language_switch_keeps_the_message(
    app: Flask, client: FlaskClient, lang: str
) -> None:
    # Given the conversation page, where a person writes a message
    receipt = receipt_of(submit(client, lang))
    page = open_conversation(client, receipt, lang)
    assert links_away(page) == [], "a link that leaves the page loses the message being written"
    other = OTHER[lang]
    button = re.search(rf'<button class="lang" form="message-form" type="submit" name="relang" value="{other}" '
                       rf'formaction="/{other}/status/message"', page)  # fmt: skip
    assert button and page.index('id="message-form"') < button.start(), "after the form's own button"
    # When they switch the language half-way through a message
    token = TOKEN.search(page).group(1)
    typed = {"csrf_token": token, "receipt": receipt, "message": "Половина сообщения, keep me", "relang": other}
    response = client.post(f"/{other}/status/message", data=typed)
    # Then the conversation comes back in the other language with the message, and nothing was sent
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and f'<html lang="{other}"' in html
    assert "Половина сообщения, keep me" in html and 'id="sent"' not in html and 'id="problems"' not in html
    assert app.extensions["intake"].storage.pending_count() == 1
