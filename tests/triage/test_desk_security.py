"""The desk refuses what it must, and a refusal never carries a word of a case.

Each test goes through the real app (Flask's test client, the real store, the real operations); only
the clock of the idle lock is a test parameter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.realparts import need_module

need_module("flask")

from tests.triage.desk_setup import (
    BROWSER_HEADERS,
    CANARY,
    HOST,
    HOSTILE_STORY,
    Loaded,
    desk_client,
    desk_state,
    load_home,
)
from tests.triage.helpers import PASSPHRASE, Server, Triage, make_request
from triage.home import Home

SECRETS_OF_CASES = (CANARY, "Нас ищут", "Угрозы от семьи", "canary_contact", "alert(1)")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def loaded(triage: Triage, server: Server, tmp_path: Path) -> Loaded:
    return load_home(triage, server, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(loaded: Loaded, clock: Clock) -> Any:
    return desk_state(loaded.home, clock=clock, idle_seconds=600)


@pytest.fixture
def app(state: Any) -> Any:
    from triage.desk import create_app

    return create_app(state)


@pytest.fixture
def client(app: Any, state: Any) -> Any:
    client = desk_client(app)
    assert client.get(f"/open?key={state.secret}").status_code == 303
    return client


def assert_no_case_text(response: Any) -> None:
    body = response.get_data(as_text=True)
    for secret in SECRETS_OF_CASES:
        assert secret not in body


def statuses(loaded: Loaded) -> list[str]:
    import json

    return sorted(case["status"] for case in json.loads(loaded.triage.ok("list", "--json").stdout))


def test_without_the_secret_nothing_is_shown(app: Any, state: Any) -> None:
    # Without the session cookie every desk address leads to the unlock page only, with no word of a case
    stranger = desk_client(app)
    for path in ("/", f"/case/{'0' * 8}", "/usb"):
        response = stranger.get(path)
        assert response.status_code == 303 and response.headers["Location"].endswith("/unlock")
        assert_no_case_text(response)
    page = stranger.get("/unlock")
    assert page.status_code == 200 and "The desk is locked" in page.get_data(as_text=True)
    assert_no_case_text(page)
    for wrong in ("wrong", state.secret[:-1], ""):
        response = stranger.get(f"/open?key={wrong}")
        assert response.status_code == 200 and "The desk is locked" in response.get_data(as_text=True)
        assert_no_case_text(response)
    assert stranger.get("/").status_code == 303  # a wrong code set no cookie
    assert stranger.get_cookie("triage_desk", domain="127.0.0.1", path=f"/{state.prefix}/") is None


def test_a_used_code_opens_nothing_and_the_session_is_not_the_code(app: Any, state: Any) -> None:
    # Given the caseworker's browser, which used the one-time code
    code = state.secret
    caseworker = desk_client(app)
    assert caseworker.get(f"/open?key={code}").status_code == 303
    cookie = caseworker.get_cookie("triage_desk", domain="127.0.0.1", path=f"/{state.prefix}/")
    assert cookie is not None and cookie.value != code and code not in cookie.value and state.secret == ""
    assert "Нас ищут" in caseworker.get("/").get_data(as_text=True)
    # When anyone uses the same code again (history, a copy of the address)
    later = desk_client(app)
    again = later.get(f"/open?key={code}")
    # Then it gets the unlock page, no cookie and no case; the code as a cookie opens nothing either
    assert again.status_code == 200 and "The desk is locked" in again.get_data(as_text=True)
    assert_no_case_text(again)
    assert later.get_cookie("triage_desk", domain="127.0.0.1", path=f"/{state.prefix}/") is None
    later.set_cookie("triage_desk", code, domain="127.0.0.1", path=f"/{state.prefix}/")
    assert later.get("/").status_code == 303
    # And the caseworker's browser still works
    assert caseworker.get("/").status_code == 200


def test_the_unlock_page_gives_a_browser_without_a_session_a_new_one(app: Any, state: Any) -> None:
    # A closed browser forgets its session cookie; the passphrase on the unlock page opens the desk again
    first = desk_client(app)
    first.get(f"/open?key={state.secret}")
    second = desk_client(app)
    assert second.post("/unlock", data={"passphrase": "wrong", "csrf": state.csrf}).status_code == 401
    assert second.get("/").status_code == 303
    assert second.post("/unlock", data={"passphrase": PASSPHRASE, "csrf": state.csrf}).status_code == 303
    assert "Нас ищут" in second.get("/").get_data(as_text=True)
    assert first.get("/").status_code == 303  # one session at a time: the older cookie is dead


def test_no_desk_address_without_the_prefix(app: Any, state: Any) -> None:
    # Every desk path starts with the desk's random prefix; without it nothing answers, not even /open
    client = desk_client(app)
    for path in ("/", "/open?key=" + state.secret, "/unlock", "/usb", f"/{state.prefix}"):
        raw = client.get(f"http://{HOST}{path}")
        assert raw.status_code == 404 and "desk" not in raw.get_data(as_text=True).lower()
    assert state.secret  # the code was not spent by any of them


def test_a_wrong_host_is_refused_even_with_the_secret(app: Any, state: Any) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 under its own name; the browser sends that name as Host.
    for host in ("evil.example:5000", "127.0.0.1:5001", "localhost", "127.0.0.1"):
        client = desk_client(app, host=host)
        assert client.get(f"/open?key={state.secret}").status_code == 400
        client.set_cookie("triage_desk", state.secret, domain=host.split(":")[0])
        response = client.get("/")
        assert response.status_code == 400
        assert_no_case_text(response)


def test_a_post_without_csrf_or_from_another_origin_changes_nothing(client: Any, state: Any, loaded: Loaded) -> None:
    target = f"/case/{loaded.entries[0].entry_id.hex()}"
    before = statuses(loaded)
    attempts: list[dict[str, Any]] = [
        {"data": {"status": "closed"}},
        {"data": {"status": "closed", "csrf": "forged"}},
        {"data": {"status": "closed", "csrf": state.csrf}, "headers": {"Origin": "http://evil.example"}},
        {"data": {"status": "closed", "csrf": state.csrf}, "headers": {"Origin": "null"}},
        {"data": {"status": "closed", "csrf": state.csrf}, "headers": {"Sec-Fetch-Site": "cross-site"}},
        {"data": {"status": "closed", "csrf": state.csrf}, "headers": {"Sec-Fetch-Site": "same-site"}},
        {"json": {"status": "closed", "csrf": state.csrf}},
    ]
    for attempt in attempts:
        response = client.post(target, **attempt)
        assert response.status_code == 403, attempt
        assert_no_case_text(response)
    assert client.post("/lock", data={}).status_code == 403
    assert statuses(loaded) == before
    # and the same form with the token from this origin works
    ok = client.post(target, data={"status": "closed", "csrf": state.csrf}, headers={"Origin": f"http://{HOST}"})
    assert ok.status_code == 303


def test_after_the_idle_time_the_desk_is_locked_and_shows_nothing(
    client: Any, state: Any, clock: Clock, loaded: Loaded
) -> None:
    assert CANARY in client.get(f"/case/{loaded.entries[3].entry_id.hex()}").get_data(as_text=True)
    clock.now += 599
    assert client.get("/").status_code == 200  # still in use: the idle time starts again
    clock.now += 600
    for path in ("/", f"/case/{loaded.entries[3].entry_id.hex()}", "/usb"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"].endswith("/unlock")
        assert_no_case_text(response)
    assert state.identity is None and state.queue is None
    before = statuses(loaded)
    response = client.post(f"/case/{loaded.entries[3].entry_id.hex()}", data={"status": "closed", "csrf": state.csrf})
    assert response.status_code == 303 and statuses(loaded) == before
    # The unlock page asks for the passphrase; a wrong one is refused, the right one opens the queue again.
    assert "CANARY" not in client.get("/unlock").get_data(as_text=True)
    assert client.post("/unlock", data={"passphrase": "wrong", "csrf": state.csrf}).status_code == 401
    assert state.identity is None
    assert client.post("/unlock", data={"passphrase": PASSPHRASE, "csrf": state.csrf}).status_code == 303
    assert "Нас ищут" in client.get("/").get_data(as_text=True)


def test_lock_on_request(client: Any, state: Any) -> None:
    assert client.post("/lock", data={"csrf": state.csrf}).status_code == 303
    assert state.identity is None
    response = client.get("/")
    assert response.status_code == 303
    assert_no_case_text(response)


def test_markup_bidi_and_control_characters_are_inert(client: Any, loaded: Loaded) -> None:
    hostile = loaded.entries[4].entry_id.hex()
    for page in (client.get("/").get_data(as_text=True), client.get(f"/case/{hostile}").get_data(as_text=True)):
        assert "<script" not in page and "<img" not in page and "<b>bold" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        for invisible in ("\u202e", "\u202c", "\u2066", "\u2069", "\u200b", "\ufeff", "\r"):
            assert invisible not in page
        assert "&lt;U+202E&gt;" in page
    case_page = client.get(f"/case/{hostile}").get_data(as_text=True)
    assert "{{ 7*7 }}" in case_page and "49" not in case_page.split('id="story"')[1].split("</div>")[0]
    assert "[bold]boss[/bold]&lt;U+202E&gt;" in case_page


def test_headers_are_intakes_and_nothing_is_cached(client: Any, state: Any) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp
    assert response.headers["Cache-Control"].startswith("no-store")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Server" not in response.headers
    cookie = client.get_cookie("triage_desk", domain="127.0.0.1", path=f"/{state.prefix}/")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    assert cookie.path == f"/{state.prefix}/"  # no other path, so no other port's server, ever receives it


def test_the_desk_policy_is_the_same_as_intakes() -> None:
    need_module("flask_wtf")
    from intake import headers as intake_headers
    from triage.desk import headers as desk_headers

    css = "body{}"
    assert desk_headers.content_security_policy(css) == intake_headers.content_security_policy(css)
    assert desk_headers.security_headers(css) == intake_headers.security_headers(css)


def test_the_language_switch_only_goes_back_into_the_desk(client: Any, state: Any) -> None:
    for back in ("//evil.example/", "http://evil.example/", "/\\evil.example"):
        response = client.post("/language", data={"csrf": state.csrf, "lang": "ru", "back": back})
        queue = f"/{state.prefix}/"
        assert response.status_code == 303 and response.headers["Location"] in (queue, f"http://{HOST}{queue}")


def test_malformed_input_gets_a_sentence_not_a_trace(client: Any, state: Any, loaded: Loaded) -> None:
    case_id = loaded.entries[0].entry_id.hex()
    for data in ({"status": "no-such", "csrf": state.csrf}, {"note": "x" * 5000, "csrf": state.csrf}):
        response = client.post(f"/case/{case_id}", data=data)
        assert response.status_code == 400 and "Traceback" not in response.get_data(as_text=True)
    assert client.get("/case/zzzz").status_code == 404
    assert client.get("/?status=%00&level=%ff&q=" + "x" * 5000).status_code == 200
    assert client.post("/case/" + case_id, data={"csrf": state.csrf, "note": "x" * 70000}).status_code == 413


def test_hostile_story_constant_is_what_the_test_sends() -> None:
    assert "<script>" in HOSTILE_STORY and "\u202e" in HOSTILE_STORY


def test_the_running_desk_listens_on_loopback_only_and_logs_nothing(
    state: Any, loaded: Loaded, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging
    import urllib.error
    import urllib.request

    from triage.desk import create_app
    from triage.desk.serve import start

    caplog.set_level(logging.DEBUG)
    code, session = state.secret, state.session
    running = start(create_app(state), state)
    second = desk_state(loaded.home)
    other = start(create_app(second), second)
    try:
        assert running.server.server_address[0] == "127.0.0.1" and running.port != other.port
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        browser.addheaders = [*BROWSER_HEADERS.items()]
        with browser.open(running.address + "&q=" + CANARY.split("-")[0], timeout=30) as response:
            assert response.status == 200  # redirected to the queue, with the cookie
        for address, status in ((f"{running.origin}/?q=secret-search", 404), (f"{running.base}/?q=secret-search", 428)):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(address, timeout=30)  # no prefix; or no Fetch Metadata: not a browser
            assert refused.value.code == status
    finally:
        running.stop()
        other.stop()
    out, err = capfd.readouterr()
    logged = out + err + "\n".join(record.getMessage() for record in caplog.records)
    assert code not in logged and session not in logged and state.session not in logged and state.prefix not in logged
    assert "secret-search" not in logged and "/open" not in logged


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_mistyped_fingerprint_in_the_desk_names_only_the_group(
    triage: Triage, server: Server, tmp_path: Path, lang: str
) -> None:
    from triage.desk import create_app

    # Given a first import from the desk, and a fingerprint misheard in group 6
    alice = triage.keygen("Alice")
    usb = tmp_path / "usb"
    usb.mkdir()
    server.bundle(usb / "export.evb", [server.entry(make_request(), [alice])], recipients=[alice])
    state = desk_state(Home(triage.home), lang=lang)
    client = desk_client(create_app(state))
    client.get(f"/open?key={state.secret}")
    right = server.key.public.fingerprint
    groups = right.split("-")
    groups[5] = "ffff" if groups[5] != "ffff" else "0000"
    form = {"csrf": state.csrf, "folder": str(usb), "file": "export.evb", "fingerprint": "-".join(groups)}
    # When it is imported
    page = client.post("/usb/import", data=form).get_data(as_text=True)
    # Then the page names group 6, in the caseworker's language, and shows nothing of the signer's fingerprint
    assert ("группе 6 из 8" in page) if lang == "ru" else ("group 6 of 8" in page)
    assert right not in page and right.split("-")[5] not in page
    assert "1 new case" not in page and "1 новое" not in page


def test_only_top_level_pages_the_person_or_the_desk_asked_for_are_answered(
    app: Any, state: Any, clock: Clock
) -> None:
    # Given a caseworker's browser with a session, and the desk's last use
    client = desk_client(app)
    client.get(f"/open?key={state.secret}")
    used_at = state.last_seen
    clock.now += 30
    page = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    refused = [
        ({"Sec-Fetch-Site": "cross-site", **page}, 403),
        ({"Sec-Fetch-Site": "same-site", **page}, 403),  # another port of 127.0.0.1 is the same site
        ({"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, 403),
        ({"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, 403),
        ({"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, 403),
        ({"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, 403),
        ({"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty"}, 403),
    ]
    bare = desk_client(app, browser=False)
    bare.set_cookie("triage_desk", state.session, domain="127.0.0.1", path=f"/{state.prefix}/")
    for headers, status in refused:
        response = bare.get("/", headers=headers)
        assert response.status_code == status, headers
        assert_no_case_text(response)
    # A client that sends no Fetch Metadata is told, in one sentence, to use a current browser
    response = bare.get("/")
    assert response.status_code == 428 and "current Firefox" in response.get_data(as_text=True)
    assert_no_case_text(response)
    # A POST the person did not make from a page of the desk is refused too, with the CSRF token
    form = {"csrf": state.csrf, "lang": "ru", "back": "/"}
    assert bare.post("/language", data=form, headers={"Sec-Fetch-Site": "none", **page}).status_code == 403
    # Then none of these counted as use: the desk still locks on time
    assert state.last_seen == used_at and state.lang == "en"
    # And what the person opens is answered (typed: none; the desk's own links: same-origin)
    assert bare.get("/", headers={"Sec-Fetch-Site": "none", **page}).status_code == 200
    assert bare.get("/", headers={"Sec-Fetch-Site": "same-origin", **page}).status_code == 200
    assert state.last_seen == clock.now


@given(
    site=st.sampled_from(["same-origin", "same-site", "cross-site", "none", "", "SAME-ORIGIN"]) | st.text(max_size=12),
    mode=st.sampled_from(["navigate", "no-cors", "cors", "same-origin", "websocket"]) | st.text(max_size=12),
    dest=st.sampled_from(["document", "image", "iframe", "empty", "script", "style"]) | st.text(max_size=12),
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT"]),
    elsewhere=st.booleans(),
    drop=st.sets(st.sampled_from(["Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest"])),
)
def test_fetch_metadata_lets_through_only_top_level_pages(
    site: str, mode: str, dest: str, method: str, elsewhere: bool, drop: set[str]
) -> None:
    from triage.desk.guard import NO_METADATA, fetch_refusal

    headers = {k: v for k, v in {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}.items()
               if k not in drop}  # fmt: skip
    refusal = fetch_refusal(headers, method, may_arrive_from_elsewhere=elsewhere)
    if drop:
        assert refusal == NO_METADATA
    elif refusal is None:
        assert dest == "document" and mode == "navigate"
        assert site == "same-origin" or (method in ("GET", "HEAD") and (site == "none" or elsewhere))
    else:
        assert refusal == 403
