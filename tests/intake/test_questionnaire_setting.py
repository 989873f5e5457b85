"""INTAKE_QUESTIONNAIRE: the server serves the questionnaire it is given, refuses a bad one in one sentence, and
writes payload schema 3 naming it (issue 23)."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

import crypto
from crypto.answers import decode_questionnaire_request, open_questionnaire_request
from crypto.questionnaire import builtin_questionnaire, load_questionnaire
from crypto.request_schema import REQUEST_FIELDS
from intake.app import create_app
from intake.cli import main
from intake.config import ConfigError, IntakeConfig
from intake.instance import Instance
from tests.intake.conftest import TEST_GLOBAL_PER_MINUTE, make_app
from tests.intake.helpers import form_tokens, receipt_of, valid_fields

EXAMPLE = Path(str(resources.files("crypto").joinpath("questionnaires", "relocation-lgbtqi.toml")))
SHIPPED = Path(str(resources.files("crypto").joinpath("questionnaires", "evacuation-request.toml")))
RELOCATION_ANSWERS = {"risk": "unsafe_soon", "harm": ["arrest", "outed"], "country": "Uganda", "household": "2",
                      "passport": "expired", "situation": "They know where I live.", "contact_method": "email",
                      "contact": "me@example.org", "consent": "y"}  # fmt: skip


def _config(instance_dir: Path, path: Path | None, **extra: object) -> IntakeConfig:
    return IntakeConfig(instance_dir=instance_dir, default_locale="en", global_per_minute=TEST_GLOBAL_PER_MINUTE,
                        questionnaire_path=path, **extra)  # type: ignore[arg-type]


def _bad(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.toml"
    bad.write_text(SHIPPED.read_text(encoding="utf-8").replace('kind = "integer"', 'kind = "count"', 1))
    return bad


def test_the_setting_names_a_file(tmp_path: Path) -> None:
    config = IntakeConfig.from_env({"INTAKE_INSTANCE_DIR": str(tmp_path), "INTAKE_QUESTIONNAIRE": str(EXAMPLE)})
    assert config.questionnaire_path == EXAMPLE
    assert IntakeConfig.from_env({"INTAKE_INSTANCE_DIR": str(tmp_path)}).questionnaire_path is None


def test_unset_serves_the_built_in_questionnaire(sqlite_app: Flask) -> None:
    assert sqlite_app.extensions["questionnaire"] == builtin_questionnaire()


def test_the_example_questionnaire_is_the_form_and_the_sealed_payload(tmp_path: Path,
                                                                      identity: crypto.Identity) -> None:  # fmt: skip
    app = make_app(_config(tmp_path / "i", EXAMPLE), identity)
    q = app.extensions["questionnaire"]
    assert q.id == "relocation-lgbtqi"
    client = app.test_client()
    for lang in ("en", "ru"):
        page = client.get(f"/{lang}/request").get_data(as_text=True)
        assert q.field("risk").label[lang] in page and q.sections[0].title[lang] in page
        assert q.title[lang] in page and 'name="danger"' not in page
        names = set(re.findall(r'name="([a-z_]+)"', page.split("<form", 1)[1].split("</form>", 1)[0]))
        assert names - {"csrf_token", "once", "files"} == set(q.field_ids)  # files: the server's own field
    short = client.get("/en/urgent").get_data(as_text=True)
    assert '<input type="hidden" name="risk" value="unsafe_now">' in short and 'name="situation"' not in short
    response = client.post("/ru/request", data={**form_tokens(client, "/ru/request"), **RELOCATION_ANSWERS})
    receipt_of(response)
    [(_, envelope)] = app.extensions["intake"].storage.envelope_bytes()
    payload = open_questionnaire_request(envelope, identity, lambda *named: q if named == (q.id, q.version, q.sha256)
                                         else None)  # fmt: skip
    assert payload["schema"] == 3 and payload["locale"] == "ru" and payload["kind"] == "request"
    assert payload["questionnaire"] == {"id": q.id, "version": q.version, "sha256": q.sha256}
    assert payload["answers"] == {**RELOCATION_ANSWERS, "household": 2, "consent": True}
    assert payload["submitted_on"] == datetime.date.today().isoformat()
    # A person in danger now gets through the short path with only what it asks
    short_answers = {"risk": "unsafe_now", "household": "1", "contact_method": "signal", "contact": "@me",
                     "consent": "y"}  # fmt: skip
    receipt_of(client.post("/en/urgent", data={**form_tokens(client, "/en/urgent"), **short_answers}))
    app.extensions["intake"].storage.dispose()


def test_the_shipped_questionnaire_writes_schema_3_with_todays_keys(sqlite_app: Flask,
                                                                    identity: crypto.Identity) -> None:  # fmt: skip
    client = sqlite_app.test_client()
    receipt_of(client.post("/en/request", data={**form_tokens(client, "/en/request"), **valid_fields()}))
    [(_, envelope)] = sqlite_app.extensions["intake"].storage.envelope_bytes()
    payload = open_questionnaire_request(envelope, identity)
    assert set(payload["answers"]) == set(REQUEST_FIELDS)
    assert payload["answers"]["people"] == 3 and payload["answers"]["threat_from"] == ["authorities", "family"]


def test_a_payload_naming_another_questionnaire_is_refused() -> None:
    q, other = builtin_questionnaire(), builtin_questionnaire("relocation-lgbtqi")
    from crypto.answers import encode_questionnaire_request

    key = crypto.derive_reply_keypair("1" * 30, b"k" * 32).public.to_b64()
    data = encode_questionnaire_request(other, {"risk": "unsafe_now", "household": 1, "contact_method": "signal",
                                                "contact": "@a", "consent": True},
                                        locale="en", submitted_on="2026-12-01", reply_key=key)  # fmt: skip
    assert decode_questionnaire_request(other, data)["answers"]["risk"] == "unsafe_now"
    with pytest.raises(crypto.MalformedError, match="another questionnaire"):
        decode_questionnaire_request(q, data)
    with pytest.raises(crypto.MalformedError, match="canonical"):
        decode_questionnaire_request(other, data.replace(b'"kind"', b' "kind"'))


def test_a_bad_questionnaire_stops_the_server_with_one_sentence(tmp_path: Path) -> None:
    config = _config(tmp_path / "i", _bad(tmp_path))
    Instance(_config(tmp_path / "i", None)).initialize()
    with pytest.raises(ConfigError, match=r'^INTAKE_QUESTIONNAIRE cannot be used: field "people": unknown kind '):
        create_app(config)
    with pytest.raises(ConfigError, match="does not exist"):
        create_app(_config(tmp_path / "i", tmp_path / "missing.toml"))


@pytest.mark.parametrize("command", [["init"], ["serve", "--port", "1"]])
def test_a_bad_questionnaire_stops_the_cli_with_one_sentence(tmp_path: Path, command: list[str]) -> None:
    env = {"INTAKE_INSTANCE_DIR": str(tmp_path / "i"), "INTAKE_QUESTIONNAIRE": str(_bad(tmp_path))}
    runner = CliRunner()
    if command[0] == "serve":
        Instance(_config(tmp_path / "i", None)).initialize()
        from intake.storage import Storage  # a caseworker key, so that serve gets as far as the app

        storage = Storage(_config(tmp_path / "i", None).database_url)
        storage.add_recipient(crypto.Identity.generate("c").public, datetime.date.today())
        storage.dispose()
    result = runner.invoke(main, command, env=env, catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert 'INTAKE_QUESTIONNAIRE cannot be used: field "people": unknown kind' in result.output
    assert not (tmp_path / "i" / "intake.db").exists() or command[0] == "serve", "init stopped before the database"


def test_a_bad_questionnaire_stops_gunicorns_app_with_one_sentence(tmp_path: Path) -> None:
    Instance(_config(tmp_path / "i", None)).initialize()
    env = {**os.environ, "INTAKE_INSTANCE_DIR": str(tmp_path / "i"), "INTAKE_QUESTIONNAIRE": str(_bad(tmp_path))}
    done = subprocess.run([sys.executable, "-c", "import intake.wsgi"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert 'intake: INTAKE_QUESTIONNAIRE cannot be used: field "people": unknown kind' in done.stderr


def _with(tmp_path: Path, replace: tuple[str, str]) -> Path:
    path = tmp_path / "q.toml"
    text = SHIPPED.read_text(encoding="utf-8")
    assert replace[0] in text
    path.write_text(text.replace(replace[0], replace[1], 1), encoding="utf-8")
    load_questionnaire(path.read_bytes())
    return path


def test_labels_are_text_never_html(tmp_path: Path, identity: crypto.Identity) -> None:
    path = _with(tmp_path, ('label = { en = "Where are you now?"', 'label = { en = "Tom & \\"Jerry\\" &lt;b&gt;"'))
    app = make_app(_config(tmp_path / "i", path), identity)
    page = app.test_client().get("/en/request").get_data(as_text=True)
    assert "Tom &amp; &#34;Jerry&#34; &amp;lt;b&amp;gt;" in page and "&lt;b&gt;" not in page.replace("&amp;lt;", "")
    app.extensions["intake"].storage.dispose()


def test_help_on_a_choice_and_error_words_from_the_file(tmp_path: Path, identity: crypto.Identity) -> None:
    short = 'short = { en = "Danger", ru = "Опасность" }'
    words = ('help = { en = "Pick one.", ru = "Одно." }\n'
             'errors = { required = { en = "Tell us how urgent.", ru = "Скажите, насколько срочно." } }')  # fmt: skip
    path = _with(tmp_path, (short, f"{short}\n{words}"))
    app = make_app(_config(tmp_path / "i", path), identity)
    client = app.test_client()
    page = client.get("/en/request").get_data(as_text=True)
    assert '<span class="note" id="danger-hint">Pick one.</span>' in page
    assert 'aria-describedby="danger-hint"' in page
    tokens = form_tokens(client, "/ru/request")
    refused = client.post("/ru/request", data={**tokens, **valid_fields(danger=None)}).get_data(as_text=True)
    assert '<p class="err" id="danger-error">Скажите, насколько срочно.</p>' in refused
    app.extensions["intake"].storage.dispose()


def test_a_file_field_draws_nothing_on_the_form(tmp_path: Path, identity: crypto.Identity) -> None:
    consent = '[[field]]\nid = "consent"'
    evidence = ('[[field]]\nid = "evidence"\nsection = "story"\nkind = "file"\n'
                'label = { en = "Evidence", ru = "Документы" }\nmax_files = 1\n\n')  # fmt: skip
    path = _with(tmp_path, (consent, evidence + consent))
    app = make_app(_config(tmp_path / "i", path), identity)
    client = app.test_client()
    page = client.get("/en/request").get_data(as_text=True)
    # The questionnaire's own file field draws nothing; the one file input is the server's (intake.uploads)
    assert 'name="evidence"' not in page and 'id="evidence"' not in page and "Evidence" not in page
    assert page.count('type="file"') == 1 and 'name="files"' in page
    receipt_of(client.post("/en/request", data={**form_tokens(client, "/en/request"), **valid_fields()}))
    app.extensions["intake"].storage.dispose()
