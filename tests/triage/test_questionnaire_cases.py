"""Requests made with another questionnaire (schema 3): imported, listed by a policy written for it, shown
with the words the person saw, in English and in Russian; and a questionnaire the laptop does not hold.

The example questionnaire is crypto/questionnaires/relocation-lgbtqi.toml: other questions, other choices,
and points and level floors on its choices (docs/POLICY.md).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.answers import encode_questionnaire_request
from crypto.questionnaire import builtin_questionnaire
from crypto.request_schema import decode_request
from tests.realparts import need_module
from tests.triage.helpers import TODAY, Server, Triage, make_request
from triage.answers_view import MISFIT, UNKNOWN, AnswerReader, builtin_lookup
from triage.policy import load_policy, parse_policy

RELOCATION = builtin_questionnaire("relocation-lgbtqi")
REPLY_KEY = "BxiCDz0P6tC+9vzWRc2oR0NNbOJVUw5a4IQpPJQ00is="
POLICY = """
format = 1
questionnaire = "relocation-lgbtqi"

[waiting]
points_per_day = 1
max_points = 60
reason = "Days waiting: {days}"

[[rule]]
reason = "Arrested, and no passport to leave with"
when = { harm = "arrest", passport = ["no", "expired"] }
level = "emergency"
points = 30

[[rule]]
reason = "People who would move: {household}"
when = { household = { at_least = 2 } }
points = 5
per = "household"
max_points = 20
"""

ARRESTED = {"risk": "unsafe_soon", "harm": ["arrest", "outed"], "country": "Uganda", "household": 3,
            "passport": "no", "situation": "Меня ищет полиция.", "contact_method": "email",
            "contact": "someone@example.org", "consent": True}  # fmt: skip
SAFE = {**ARRESTED, "risk": "safe_for_now", "harm": [], "household": 1, "passport": "yes", "situation": "Хочу уехать."}


def relocation_request(answers: dict[str, Any], *, questionnaire: Any = RELOCATION, locale: str = "ru") -> Any:
    """A schema 3 payload as intake makes it: the canonical bytes, decoded as an envelope's reader does."""
    data = encode_questionnaire_request(questionnaire, answers, locale=locale, submitted_on=TODAY, reply_key=REPLY_KEY)
    return decode_request(data)


@pytest.fixture
def home(triage: Triage, server: Server, tmp_path: Path) -> Triage:
    alice = triage.keygen("Alice")
    old = make_request(danger="immediate", story="Старая заявка по встроенной анкете.")  # schema 1, the shipped form
    entries = [server.entry(relocation_request(ARRESTED), [alice]), server.entry(relocation_request(SAFE), [alice]),
               server.entry(old, [alice])]  # fmt: skip
    triage.ok("import", server.bundle(tmp_path / "b.evb", entries))
    (tmp_path / "policy.toml").write_text(POLICY, encoding="utf-8")
    return triage


def listed(triage: Triage, tmp_path: Path, *args: str) -> Any:
    return triage.ok("list", "--policy", tmp_path / "policy.toml", *args)


def test_a_schema_3_request_is_listed_by_the_policy_written_for_its_questionnaire(home: Triage, tmp_path: Path) -> None:
    cases = json.loads(listed(home, tmp_path, "--json").output)
    arrested = next(c for c in cases if c["request"].get("risk") == "unsafe_soon")
    # The questionnaire's own points and floors (risk unsafe_soon: +40, urgent; arrest: +60, urgent; outed:
    # +30; no passport: +10) and the policy's rules (arrested without a passport: emergency, +30; 3 people: +15)
    assert arrested["level"] == "emergency"
    assert arrested["score"] == 40 + 60 + 30 + 10 + 30 + 15
    assert "Arrested, and no passport to leave with (+30)" in arrested["reasons"]
    assert "Harm: Arrest, or a criminal case against me (+60)" in arrested["reasons"]
    assert "Risk: I will not be safe for long (+40)" in arrested["reasons"]
    # JSON keeps the answers keyed by field id, and names the questionnaire they were given to
    assert arrested["request"]["harm"] == ["arrest", "outed"] and arrested["request"]["household"] == 3
    assert arrested["questionnaire"] == {"id": "relocation-lgbtqi", "version": 1, "sha256": RELOCATION.sha256}
    assert "answers" not in arrested["request"]
    safe = next(c for c in cases if c["request"].get("risk") == "safe_for_now")
    assert (safe["level"], safe["score"]) == ("normal", 0)
    # The older case of the shipped form keeps the shipped policy's level and reasons
    old = next(c for c in cases if c["request"].get("danger") == "immediate")
    assert old["level"] == "emergency" and "Danger to life now or within days (+100)" in old["reasons"]
    assert old["questionnaire"]["id"] == "evacuation-request"
    assert [c["level"] for c in cases][:2] == ["emergency", "emergency"]


def test_csv_columns_are_the_field_ids_of_every_questionnaire_listed(home: Triage, tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(listed(home, tmp_path, "--csv").output)))
    assert {"risk", "harm", "household", "situation", "danger", "story", "questionnaire"} <= set(rows[0])
    arrested = next(r for r in rows if r["risk"] == "unsafe_soon")
    assert arrested["harm"] == "arrest, outed" and arrested["danger"] == ""
    assert arrested["questionnaire"].startswith("relocation-lgbtqi 1 ")


def case_id(home: Triage, tmp_path: Path, risk: str) -> str:
    cases = json.loads(listed(home, tmp_path, "--json").output)
    return str(next(c for c in cases if c["request"].get("risk") == risk)["short_id"])


@pytest.mark.parametrize(
    "lang, words",
    [
        ("en", ["Are you safe where you are?", "I will not be safe for long", "Arrest, or a criminal case against me",
                "Someone revealed who I am against my will", "Do you have a passport",
                "Situation", "Меня ищет полиция.", "Risk: I will not be safe for long (+40)"]),
        ("ru", ["Вы сейчас в безопасности", "Скоро здесь станет опасно", "Арест или уголовное дело против меня",
                "Есть ли у вас паспорт", "Рассказ", "Меня ищет полиция.", "Риск: Скоро здесь станет опасно (+40)"]),
    ],
)  # fmt: skip
def test_show_gives_the_words_the_person_saw_in_the_caseworker_s_language(
    home: Triage, tmp_path: Path, lang: str, words: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: the words are not wrapped inside a panel
    shown = home.ok("show", case_id(home, tmp_path, "unsafe_soon"), "--policy", tmp_path / "policy.toml",
                    "--lang", lang).output  # fmt: skip
    flat = " ".join(shown.split())
    for word in words:
        assert " ".join(word.split()) in flat, (word, shown)
    assert "unsafe_soon" not in shown and "forced_marriage" not in shown  # no raw ids where words exist


def test_the_desk_case_page_and_search_read_the_questionnaire(home: Triage, tmp_path: Path) -> None:
    need_module("flask")
    from tests.triage.desk_setup import HOST, desk_client
    from tests.triage.helpers import PASSPHRASE, TEST_CONFIG
    from triage.desk import DeskState, create_app
    from triage.home import Home
    from triage.operations import unlock

    wanted = case_id(home, tmp_path, "unsafe_soon")
    for lang, question, choice in [
        ("en", "Are you safe where you are?", "I will not be safe for long"),
        ("ru", "Вы сейчас в безопасности там, где находитесь?", "Скоро здесь станет опасно"),
    ]:
        state = DeskState(TEST_CONFIG, Home(home.home), load_policy(tmp_path / "policy.toml"), lang=lang, jobs=1)
        state.allowed_hosts = frozenset({HOST})
        state.unlock_with(unlock(Home(home.home), PASSPHRASE, min_kdf=TEST_CONFIG.kdf))
        client = desk_client(create_app(state))
        assert client.get(f"/open?key={state.secret}").status_code == 303
        page = client.get(f"/case/{wanted}").get_data(as_text=True)
        assert question in page and choice in page and "Меня ищет полиция." in page, page
        queue = client.get("/?q=полиция").get_data(as_text=True)
        assert wanted in queue and "Хочу уехать" not in queue


def test_a_policy_naming_a_field_or_choice_the_questionnaire_lacks_is_refused() -> None:
    with pytest.raises(Exception, match="unknown field 'danger'"):
        parse_policy(POLICY.replace("harm = \"arrest\"", "danger = \"immediate\""))
    with pytest.raises(Exception, match="'arrested' is not a choice of the field 'harm'"):
        parse_policy(POLICY.replace('"arrest"', '"arrested"'))
    with pytest.raises(Exception, match="placeholders"):
        parse_policy(POLICY.replace("{household}", "{people}"))


def test_policy_check_checks_against_a_questionnaire_file(triage: Triage, tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(POLICY, encoding="utf-8")
    shipped = Path(__file__).resolve().parents[2] / "crypto" / "questionnaires"
    ok = triage.run("policy", "check", tmp_path / "policy.toml", "--questionnaire", shipped / "relocation-lgbtqi.toml")
    assert ok.exit_code == 0 and "relocation-lgbtqi, version 1" in ok.output, ok.output
    wrong = triage.run("policy", "check", tmp_path / "policy.toml", "--questionnaire",
                       shipped / "evacuation-request.toml")  # fmt: skip
    assert wrong.exit_code == 1 and "written for 'relocation-lgbtqi'" in wrong.output
    assert "Traceback" not in wrong.output
    (tmp_path / "q.toml").write_text('format = 1\nid = "x"\n', encoding="utf-8")
    broken = triage.run("policy", "check", tmp_path / "policy.toml", "--questionnaire", tmp_path / "q.toml")
    assert broken.exit_code == 1 and "cannot be used" in broken.output


# -- a questionnaire the laptop does not hold ----------------------------------------------------------


def other_version() -> Any:
    from crypto.questionnaire import load_questionnaire

    text = (Path(__file__).resolve().parents[2] / "crypto/questionnaires/relocation-lgbtqi.toml").read_text()
    return load_questionnaire(text.replace("version = 1", "version = 2").replace("I am safe for now", "Safe now"))


def test_a_request_naming_a_questionnaire_the_laptop_does_not_hold_is_not_imported(
    triage: Triage, server: Server, tmp_path: Path
) -> None:
    # A request asked with a version no bundle carried and no caseworker accepted is rejected at import (the
    # server keeps it until a bundle carries its questionnaire: tests/triage/test_questionnaire_versions.py);
    # the reader's own fallback (raw field ids and a warning) is the next test's.
    alice = triage.keygen("Alice")
    entry = server.entry(relocation_request(ARRESTED, questionnaire=other_version()), [alice])
    summary = json.loads(triage.ok("import", server.bundle(tmp_path / "b.evb", [entry]), "--json").output)
    assert (summary["new"], summary["rejected_questionnaire"]) == (0, 1)
    assert json.loads(triage.ok("list", "--json").output) == []


def test_the_reader_asks_the_lookup_for_the_exact_version_and_checks_the_answers() -> None:
    asked_for = []

    def lookup(name: str, version: int, sha256: str) -> Any:
        asked_for.append((name, version))
        return RELOCATION  # a lookup that answers wrongly: another version's words must never be used

    reader = AnswerReader(lookup)
    payload = relocation_request(ARRESTED, questionnaire=other_version())
    flat, asked = reader.read(payload)
    assert asked.questionnaire is None and asked.warning == UNKNOWN and flat["harm"] == ["arrest", "outed"]
    reader.read(payload)
    assert asked_for == [("relocation-lgbtqi", 2)]  # once per version
    misfit = {**relocation_request(ARRESTED), "answers": {**relocation_request(ARRESTED)["answers"], "risk": "x"}}
    assert AnswerReader(builtin_lookup).read(misfit)[1].warning == MISFIT


answer_values = st.none() | st.just(True) | st.integers(-5, 50) | st.text(max_size=8) | st.lists(
    st.sampled_from(["arrest", "violence", "yes", "no", "zz"]), max_size=3, unique=True)  # fmt: skip


@settings(max_examples=200)
@given(answers=st.dictionaries(st.sampled_from([*RELOCATION.field_ids, "other_field"]), answer_values, max_size=10),
       days=st.integers(0, 400))  # fmt: skip
def test_any_schema_3_payload_is_read_and_prioritised_without_an_error(answers: dict[str, Any], days: int) -> None:
    payload = {**relocation_request(ARRESTED), "answers": answers}
    flat, asked = AnswerReader().read(payload)
    policy = parse_policy(POLICY)
    priority = policy.evaluate_on(asked.questionnaire, flat, days)
    assert priority.level in ("emergency", "urgent", "normal")
    from triage.i18n import translator
    from triage.labels import answer_text, case_fields, field_label

    for name in case_fields(asked, flat):
        field_label(asked, name, translator("ru"))
        answer_text(asked, name, flat.get(name), translator("ru"))


NAMES = st.sampled_from([*RELOCATION.field_ids, "danger", "new_messages", "nope"])
VALUES = st.sampled_from(['"arrest"', '["no", "yes"]', '"unsafe_now"', "3", "{ at_least = 2 }", "{ at_most = 99 }",
                          "{ filled = true }", "{ filled = 1 }", "[]", '"x"', "true", "{ bogus = 1 }"])  # fmt: skip
TOPS = st.sampled_from(['questionnaire = "relocation-lgbtqi"', 'questionnaire = "evacuation-request"',
                        'questionnaire = "Not An Id"', "questionnaire = 3", "choice_points = false",
                        'choice_points = "no"', ""])  # fmt: skip


@settings(max_examples=300)
@given(top=st.lists(TOPS, max_size=2, unique=True),
       rules=st.lists(st.tuples(st.lists(st.tuples(NAMES, VALUES), min_size=1, max_size=3),
                                st.sampled_from(["r", "r {household}", "r {people}", "r {days}", "r {x.y}"]),
                                st.sampled_from(["", 'per = "household"', 'per = "people"', "per = 3"])),
                      min_size=1, max_size=4))  # fmt: skip
def test_a_policy_for_a_questionnaire_parses_or_says_policy_error(top: list[str], rules: list[Any]) -> None:
    from triage.errors import PolicyError

    lines = ["format = 1", *top]
    for conditions, reason, per in rules:
        when = ", ".join(f"{name} = {value}" for name, value in dict(conditions).items())
        lines += ["[[rule]]", f'reason = "{reason}"', f"when = {{ {when} }}", per, "points = 3"]
    try:
        policy = parse_policy("\n".join(lines))
    except PolicyError as error:
        assert str(error) and "Traceback" not in str(error)
        return
    flat, asked = AnswerReader().read(relocation_request(ARRESTED))
    assert policy.evaluate_on(asked.questionnaire, flat, 3).level in ("emergency", "urgent", "normal")
