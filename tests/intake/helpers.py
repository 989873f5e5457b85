"""Small helpers shared by the intake tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ONCE = re.compile(r'name="once" value="([A-Za-z0-9_-]+)"')
RECEIPT = re.compile(r'id="receipt">([0-9 ]+)<')
ANSWER = re.compile(r'id="answer">([^<]+)<')


def valid_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "danger": "immediate", "threat_from": ["family", "authorities"], "detention": "recent",
        "location": "chechnya", "people": "3", "children": "1", "documents": ["internal_passport"],
        "health": "insulin", "contact_method": "signal", "contact": "@someone", "safe_times": "evenings",
        "alias": "R.", "story": "They came to my house.", "consent": "y",
    }  # fmt: skip
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, "no CSRF token on the page"
    return found.group(1)


def form_tokens(client: FlaskClient, path: str) -> dict[str, str]:
    """The CSRF and one-time submission tokens of a fresh form page, as the browser would send them."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    text = page.get_data(as_text=True)
    csrf, once = TOKEN.search(text), ONCE.search(text)
    assert csrf and once, "no CSRF or one-time token on the page"
    return {"csrf_token": csrf.group(1), "once": once.group(1)}


def submit(client: FlaskClient, lang: str = "en", **changes: Any) -> Any:
    return client.post(f"/{lang}/request", data={**form_tokens(client, f"/{lang}/request"), **valid_fields(**changes)})


def receipt_of(response: Any) -> str:
    found = RECEIPT.search(response.get_data(as_text=True))
    assert found, f"no receipt on the page (status {response.status_code})"
    return found.group(1)


def check_status(client: FlaskClient, receipt: str, lang: str = "en") -> str:
    token = csrf_token(client, f"/{lang}/status")
    response = client.post(f"/{lang}/status", data={"csrf_token": token, "receipt": receipt})
    assert response.status_code == 200
    found = ANSWER.search(response.get_data(as_text=True))
    assert found, "no answer on the status page"
    return found.group(1)


# Characters Python calls digits that no select on our page sends: '²'.isdigit() is True and int('²') raises;
# int('٣') is 3. Every kind: superscripts, subscripts, circled, Arabic-Indic, Devanagari, fullwidth, Ethiopic.
OTHER_DIGITS = ("²", "³", "¹", "⁰", "₂", "①", "⑵", "⒈", "٣", "۳", "३", "৩", "３", "፩", "᧚", "𝟑", "߃", "๓")


def other_digit_strategy() -> Any:
    """Strings of 1-3 characters, at least one a digit of another kind than ASCII (hypothesis)."""
    from hypothesis import strategies as st

    unusual = st.one_of(st.sampled_from(OTHER_DIGITS),
                        st.characters(categories=("Nd", "No", "Nl")).filter(lambda c: not c.isascii()))  # fmt: skip
    usual = st.sampled_from("0123456789")
    return st.tuples(st.lists(st.one_of(usual, unusual), max_size=2), unusual).map(
        lambda parts: "".join(parts[0]) + parts[1]
    )


def opened(envelope: bytes, identity: Any) -> dict[str, Any]:
    """An envelope intake stored, opened: a schema 3 request (issue 23) as its answers beside its own keys.

    The answers are keyed by field id, so for the shipped questionnaire ``opened(e)["story"]`` reads as it did
    in schema 2; follow-ups (still schema 2) and older payloads come back as crypto.open_envelope gives them.
    """
    import crypto
    from crypto.answers import open_questionnaire_request

    payload = crypto.open_envelope(envelope, identity)
    if payload.get("schema") != 3:
        return payload
    payload = open_questionnaire_request(envelope, identity)  # and checked against the questionnaire it names
    return {**payload["answers"], **{k: v for k, v in payload.items() if k != "answers"}}
