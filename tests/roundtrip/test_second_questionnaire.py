"""Issue 23's second questionnaire, the whole round trip as an operator and a caseworker would run it.

The operator copies the example crypto/questionnaires/relocation-lgbtqi.toml, changes it (a new version, one
question re-worded: no laptop knows it yet), checks it with `intake questionnaire check` and serves it with
INTAKE_QUESTIONNAIRE through a real threaded server. A person fills it in, in Russian, in a real headless
Chromium with JavaScript off. `intake export` -> `triage import` stops for the new version and names the
re-worded question -> `triage questionnaire accept` -> the import goes on -> `triage list` by a policy written
for that questionnaire -> `triage show` and the desk's case page with the words the person saw -> a reply ->
`triage ack` -> `intake apply-ack` -> the person's status page shows the reply. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.realparts import need_module

need_module("flask")
need_module("selenium")

from click.testing import CliRunner
from werkzeug.serving import make_server

from crypto.questionnaire import load_questionnaire
from intake.app import create_app
from intake.cli import main as intake_main
from intake.config import IntakeConfig
from intake.devserver import QuietHandler
from tests.chromium import start_chromium
from tests.roundtrip.test_roundtrip import laptop
from tests.triage.helpers import Triage
from tests.triage.test_questionnaire_cases import POLICY  # docs/POLICY.md's worked example, for this questionnaire

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).resolve().parents[2] / "crypto" / "questionnaires" / "relocation-lgbtqi.toml"
# The operator's change: a new version, and the passport question in other words in both languages.
OLD_QUESTION = {"en": "Do you have a passport that lets you travel?",
                "ru": "Есть ли у вас паспорт, с которым можно выехать?"}  # fmt: skip
NEW_QUESTION = {"en": "Do you have a passport you can leave the country with?",
                "ru": "Есть ли у вас загранпаспорт, по которому можно выехать из страны?"}  # fmt: skip
SITUATION = "Меня ищет полиция: завели дело.\nНужно уехать «как можно скорее» — втроём, с мамой и сестрой."
CONTACT = "spasite.nas@example.org"
REPLY = "Мы получили вашу заявку. Напишем на почту в четверг — Ольга."


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return ""  # the default: the embedded SQLite inside the instance folder
    return str(request.getfixturevalue("postgres_url"))


class Operator:
    """`intake` as the operator runs it: the settings in INTAKE_* environment variables."""

    def __init__(self, instance: Path, database_url: str, questionnaire: Path) -> None:
        self.instance = instance
        self.env = {"INTAKE_QUESTIONNAIRE": str(questionnaire), "INTAKE_DEFAULT_LOCALE": "ru"}
        if database_url:
            self.env["INTAKE_DATABASE_URL"] = database_url
        self.config = IntakeConfig(instance_dir=instance, database_url=database_url, default_locale="ru",
                                   questionnaire_path=questionnaire)  # fmt: skip

    def run(self, *args: str | Path) -> Any:
        return CliRunner(env=self.env).invoke(intake_main, ["--instance", str(self.instance), *map(str, args)])

    def ok(self, *args: str | Path) -> str:
        result = self.run(*args)
        assert result.exit_code == 0 and "Traceback" not in result.output, (result.output, result.exception)
        return str(result.output)


@contextmanager
def serving(config: IntakeConfig) -> Iterator[str]:
    """The app on a real threaded server on an ephemeral port of 127.0.0.1 (tests/intake/test_browser.py)."""
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["intake"].storage.dispose()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = start_chromium(tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


class Person:
    """The person at the keyboard of a browser with JavaScript off."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def find(self, by: str, value: str) -> Any:
        return self.driver.find_element(by, value)

    def navigate(self, element: Any) -> None:
        """Click a link or button and wait until the next page has replaced this one."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.find(By.TAG_NAME, "html")
        element.click()
        # ChromeDriver may answer 'node does not belong to the document' while the page is being replaced
        WebDriverWait(self.driver, 90, ignored_exceptions=[WebDriverException]).until(
            expected_conditions.staleness_of(page)
        )
        WebDriverWait(self.driver, 90, ignored_exceptions=[WebDriverException]).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def submit_request(self, base: str) -> str:
        """Fill in the Russian form of the served questionnaire and send it; return the receipt shown."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        self.driver.get(base + "/")
        assert self.driver.current_url.endswith("/ru/")
        self.navigate(self.find(By.LINK_TEXT, "Заполнить анкету"))
        page = self.find(By.TAG_NAME, "body").text
        assert NEW_QUESTION["ru"] in page and OLD_QUESTION["ru"] not in page  # the operator's words are served
        self.find(By.ID, "risk-1").click()  # unsafe_soon
        self.find(By.ID, "harm-1").click()  # arrest
        Select(self.find(By.ID, "household")).select_by_value("3")
        self.find(By.ID, "passport-2").click()  # no
        self.find(By.ID, "situation").send_keys(SITUATION)
        self.find(By.ID, "contact_method-1").click()  # email
        self.find(By.ID, "contact").send_keys(CONTACT)
        self.find(By.ID, "consent").click()
        self.navigate(self.find(By.CSS_SELECTOR, "button[type=submit]"))
        assert "Ваша заявка отправлена" in self.find(By.TAG_NAME, "h1").text
        receipt = str(self.find(By.ID, "receipt").text)
        assert len(receipt.replace(" ", "")) == 30
        return receipt

    def status_page(self, base: str, receipt: str) -> str:
        from selenium.webdriver.common.by import By

        self.driver.get(base + "/ru/status")
        self.find(By.ID, "receipt").send_keys(receipt)
        self.navigate(self.find(By.CSS_SELECTOR, "button[type=submit]"))
        return str(self.find(By.TAG_NAME, "body").text)


def operators_questionnaire(folder: Path) -> Path:
    """The example, copied and changed as an operator would: version 2, the passport question re-worded."""
    text = EXAMPLE.read_text(encoding="utf-8")
    changed = text.replace("version = 1", "version = 2", 1)
    for lang in ("en", "ru"):
        assert OLD_QUESTION[lang] in changed
        changed = changed.replace(OLD_QUESTION[lang], NEW_QUESTION[lang])
    path = folder / "our-questions.toml"
    path.write_text(changed, encoding="utf-8")
    return path


def in_order(words: str, text: str) -> bool:
    """Every word of ``words`` in ``text``, in order: `triage show` wraps a question inside its table's column,
    so the words of the answer beside it may come between two of them."""
    rest = iter(text.split())
    return all(any(word == seen for seen in rest) for word in words.split())


def desk_case_page(alice: Triage, policy: Path, case_id: str, lang: str) -> str:
    from tests.triage.desk_setup import HOST, desk_client
    from tests.triage.helpers import PASSPHRASE
    from triage.desk import DeskState
    from triage.desk import create_app as create_desk
    from triage.home import Home
    from triage.operations import unlock
    from triage.policy import load_policy

    state = DeskState(alice.config, Home(alice.home), load_policy(policy), lang=lang, jobs=1)
    state.allowed_hosts = frozenset({HOST})
    state.unlock_with(unlock(Home(alice.home), PASSPHRASE, min_kdf=alice.config.kdf))
    client = desk_client(create_desk(state))
    assert client.get(f"/open?key={state.secret}").status_code == 303
    page = client.get(f"/case/{case_id}")
    assert page.status_code == 200
    return str(page.get_data(as_text=True))


def test_the_second_questionnaire_round_trip(tmp_path: Path, database_url: str, browser: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: `triage show` does not wrap the words in a panel
    # Given an operator's own copy of the example questionnaire, changed, and checked before use
    questionnaire = operators_questionnaire(tmp_path)
    operator = Operator(tmp_path / "instance", database_url, questionnaire)
    checked = operator.ok("questionnaire", "check", questionnaire)
    assert "relocation-lgbtqi, version 2" in checked and "worst case (4-byte characters):" in checked
    assert NEW_QUESTION["ru"] in checked and NEW_QUESTION["en"] in checked  # the preview in both languages
    served = load_questionnaire(questionnaire.read_bytes())
    assert served.sha256 in checked
    fingerprint = operator.ok("init").split()[-1]
    alice = laptop(tmp_path, "alice")
    alice.keygen("Alice")
    operator.ok("recipients", "add", alice.home / "Alice.pub")

    # When a person fills it in, in Russian, in Chromium with JavaScript off, served with INTAKE_QUESTIONNAIRE
    person = Person(browser)
    with serving(operator.config) as base:
        receipt = person.submit_request(base)

        # Then the export reaches the laptop, which stops for the version it does not know, naming what changed
        usb = tmp_path / "usb"
        usb.mkdir()
        operator.ok("export", "--out", usb / "1.bundle")
        stopped = alice.run("import", "--fingerprint", fingerprint, usb / "1.bundle")
        assert stopped.exit_code == 1 and "Traceback" not in stopped.output, stopped.output
        flat = " ".join(stopped.output.split())
        assert 'QUESTION RE-WORDED "passport"' in flat and NEW_QUESTION["en"] in flat, stopped.output
        assert served.sha256[:12] in flat
        assert json.loads(alice.ok("list", "--json").stdout) == []  # nothing imported
        # And once a caseworker accepts it on purpose, the same bundle imports its one case
        alice.ok("questionnaire", "accept", served.sha256[:12])
        assert json.loads(alice.ok("import", "--json", usb / "1.bundle").stdout)["new"] == 1

        # And the policy written for this questionnaire sets the level and says why
        policy = tmp_path / "policy.toml"
        policy.write_text(POLICY, encoding="utf-8")
        [case] = json.loads(alice.ok("list", "--json", "--policy", policy).stdout)
        assert case["level"] == "emergency"
        # risk unsafe_soon +40 (urgent), arrest +60 (urgent), no passport +10; the policy: +30 (emergency), 3 people +15
        assert case["score"] == 40 + 60 + 10 + 30 + 15, case
        for reason in ["Arrested, and no passport to leave with (+30)", "People who would move: 3 (+15)",
                       "Harm: Arrest, or a criminal case against me (+60)", "Risk: I will not be safe for long (+40)",
                       "Passport: No (+10)"]:  # fmt: skip
            assert reason in case["reasons"], case["reasons"]
        assert {k: case["request"][k] for k in ("risk", "harm", "household", "passport", "contact_method")} == {
            "risk": "unsafe_soon",
            "harm": ["arrest"],
            "household": 3,
            "passport": "no",
            "contact_method": "email",
        }
        assert case["request"]["situation"] == SITUATION  # the exact words (the browser's CRLF made LF)
        assert case["request"]["contact"] == CONTACT and case["request"]["consent"] is True
        assert case["questionnaire"] == {"id": "relocation-lgbtqi", "version": 2, "sha256": served.sha256}
        case_id = case["short_id"]

        # And `triage show` and the desk give the words of the version the person saw, in Russian
        shown = alice.ok("show", case_id, "--policy", policy, "--lang", "ru").output
        for words in [NEW_QUESTION["ru"], "Скоро здесь станет опасно", "Арест или уголовное дело против меня",
                      "Меня ищет полиция: завели дело.", "Паспорт: Нет (+10)"]:  # fmt: skip
            assert in_order(words, shown), (words, shown)
        assert not in_order(OLD_QUESTION["ru"], shown) and "unsafe_soon" not in shown
        page = desk_case_page(alice, policy, case_id, "ru")
        for words in [NEW_QUESTION["ru"], "Вы сейчас в безопасности там, где находитесь?", "Скоро здесь станет опасно",
                      "Меня ищет полиция: завели дело.", CONTACT]:  # fmt: skip
            assert words in page, (words, page)
        assert OLD_QUESTION["ru"] not in page

        # When the caseworker replies (the text through stdin) and the return file reaches the server
        alice.ok("reply", case_id, input=REPLY)
        alice.ok("ack", "--out", usb / "alice.ack")
        applied = operator.ok("apply-ack", usb / "alice.ack")
        assert "Stored 1 sealed reply" in applied and "deleted 1 envelope(s)" in applied, applied

        # Then the person's status page, opened with the receipt, shows the reply
        status = person.status_page(base, receipt)
        assert REPLY in status, status
    # And the browser really had JavaScript off: a page's own script does not run
    browser.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert browser.title == "off"
