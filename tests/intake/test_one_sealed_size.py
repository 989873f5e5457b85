"""Invariant 11 through the form: every request the form accepts, over HTTP, is stored at one sealed size.

The crypto tests check the sealing layer; this one drives the real pages (the full form and the short one) with
answers at, under and over every text field's bound, in characters of every UTF-8 width, and then reads the
sizes of what the server stored. A refusal is a page that says what to shorten, never a stored envelope.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import crypto
from crypto.envelope import envelope_size
from crypto.request_schema import TEXT_LIMITS
from intake.app import create_app
from intake.config import IntakeConfig
from intake.instance import Instance
from tests.intake.helpers import csrf_token, receipt_of, valid_fields

WIDTHS = ["a", "ж", "中", "🙂", '"', "\\", " ", "\u200d"]
FORM_TEXTS = [name for name in TEXT_LIMITS if name != "message"]
ACCEPTED: list[str] = []


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for the whole property (limits out of the way: this is about sizes, not rates)."""
    folder = tmp_path_factory.mktemp("one-size") / "instance"
    config = IntakeConfig(instance_dir=folder, default_locale="en", circuit_per_minute=100_000,
                          global_per_minute=100_000)  # fmt: skip
    Instance(config).initialize()
    app = create_app(config)
    app.extensions["intake"].storage.add_recipient(crypto.Identity.generate("Alice").public, datetime.date.today())
    yield app
    app.extensions["intake"].storage.dispose()


@st.composite
def answers(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in FORM_TEXTS:
        limit = TEXT_LIMITS[name]
        length = draw(st.sampled_from([limit - 1, limit, limit, limit + 1, 1]))
        ch = draw(st.sampled_from(WIDTHS))
        fields[name] = "x" + ch * (length - 1) if length else ""
    fields["people"] = str(draw(st.integers(1, 20)))
    fields["children"] = str(draw(st.integers(0, int(fields["people"]))))
    return fields


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=answers(), path=st.sampled_from(["request", "urgent"]), lang=st.sampled_from(["en", "ru"]))
@example(fields={**{name: "ж" * TEXT_LIMITS[name] for name in FORM_TEXTS}, "people": "20", "children": "20"},
         path="urgent", lang="ru")  # fmt: skip
@example(fields={**{name: "" for name in FORM_TEXTS}, "story": "x", "contact": "x", "people": "1", "children": "0"},
         path="urgent", lang="en")  # fmt: skip
def test_every_request_the_form_accepts_seals_to_one_size(roomy: Flask, fields: dict[str, Any], path: str,
                                                          lang: str) -> None:  # fmt: skip
    client = roomy.test_client()
    storage = roomy.extensions["intake"].storage
    before = storage.pending_count()
    token = csrf_token(client, f"/{lang}/{path}")
    response = client.post(f"/{lang}/{path}", data={"csrf_token": token, **valid_fields(**fields)})
    over = [name for name in FORM_TEXTS if len(fields[name]) > TEXT_LIMITS[name]]
    if response.status_code == 200 and 'id="receipt"' in response.get_data(as_text=True):
        receipt_of(response)
        ACCEPTED.append(path)
        assert not over, f"accepted past a bound: {over}"
        assert storage.pending_count() == before + 1
    else:
        # Refused: past a field's bound, or too long once encoded; the page says so and nothing is stored
        assert response.status_code in (200, 400), response.status_code
        assert 'role="alert"' in response.get_data(as_text=True), "a refusal says what to change"
        assert storage.pending_count() == before
    sizes = {len(envelope) for _, envelope in storage.envelope_bytes()}
    assert sizes <= {envelope_size(0, 1)} and envelope_size(0, 1) == 32934


def test_the_property_saw_requests_accepted_on_both_forms() -> None:
    assert {"request", "urgent"} <= set(ACCEPTED), ACCEPTED  # runs after the property (same module, in order)


def test_the_largest_russian_answers_the_form_takes_are_stored_at_the_size_of_the_smallest(
    roomy: Flask, tmp_path: Path
) -> None:
    client = roomy.test_client()
    storage = roomy.extensions["intake"].storage
    already = {i for i, _ in storage.envelope_bytes()}
    largest = {name: "ж" * TEXT_LIMITS[name] for name in FORM_TEXTS}
    smallest = {name: "" for name in FORM_TEXTS} | {"story": "x", "contact": "x"}
    for fields in (largest, smallest):
        token = csrf_token(client, "/ru/request")
        receipt_of(client.post("/ru/request", data={"csrf_token": token, **valid_fields(**fields)}))
    stored = [e for i, e in storage.envelope_bytes() if i not in already]
    assert len(stored) == 2 and len(stored[0]) == len(stored[1]) == 32934


def test_the_largest_russian_answers_with_five_files_of_the_longest_names_seal_to_the_one_size(roomy: Flask) -> None:
    # Invariant 11 with files (issue 24): the manifest's worst case is part of the size computation, so the
    # largest request the form takes, with as many files as the server takes, named at their longest and widest,
    # is stored at the size of the smallest request without files.
    from tests.intake.uploading import form_parts, post

    client = roomy.test_client()
    storage = roomy.extensions["intake"].storage
    already = {i for i, _ in storage.envelope_bytes()}
    largest = {name: "ж" * TEXT_LIMITS[name] for name in FORM_TEXTS}
    files = [("files", ("🙂" * 200 + str(i), '"' * 100, bytes([i]) * 1000)) for i in range(5)]
    receipt_of(post(client, "/ru/request", [*form_parts(client, "/ru/request", **largest), *files]))
    [stored] = [e for i, e in storage.envelope_bytes() if i not in already]
    assert len(stored) == envelope_size(0, 1) == 32934
