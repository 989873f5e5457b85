"""Today's form pages as a visitor gets them, the instance-bound CSRF token masked (test_golden_pages.py).

The golden files under tests/intake/golden/ were captured from the code that still hard-coded the fourteen
fields (before issue 23): a page drawn from the shipped questionnaire must equal them byte for byte.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import crypto
from intake.config import IntakeConfig
from tests.intake.conftest import make_app
from tests.intake.helpers import TOKEN, valid_fields

_MASK = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+(")')
# Bodies whose pages show errors: every kind of field's own message, in both forms.
BAD = {
    "errors": {"danger": "", "people": "3", "children": "5", "contact": "", "story": "", "consent": None,
               "threat_from": ["nobody"], "health": "x" * 1001, "alias": "\x01", "detention": "later"},
    "none": {"danger": None, "people": None, "contact_method": None, "contact": None, "story": None,
             "consent": None},
}  # fmt: skip


def _mask(text: str) -> str:
    return _MASK.sub(r"\1TOKEN\2", text)


def pages_of(questionnaire: Path | None = None) -> dict[str, str]:
    identity = crypto.Identity.generate("golden")
    with tempfile.TemporaryDirectory() as tmp:
        extra: dict[str, Any] = {} if questionnaire is None else {"questionnaire_path": questionnaire}
        # Without files (issue 24 added the field after these pages were captured): the questionnaire's pages.
        config = IntakeConfig(instance_dir=Path(tmp) / "i", default_locale="en", global_per_minute=10**6,
                              files_enabled=False, **extra)  # fmt: skip
        app = make_app(config, identity)
        tokens, cookies = itertools.count(), itertools.count()
        found: dict[str, str] = {}
        with mock.patch("intake.once.new_token", lambda: f"{next(tokens):022d}"), \
             mock.patch("intake.csrf.new_cookie", lambda: f"{next(cookies):043d}"), \
             mock.patch("intake.csrf.now_minute", lambda: 29_000_000):  # fmt: skip
            for lang in ("en", "ru"):
                for page in ("request", "urgent"):
                    client = app.test_client()
                    text = client.get(f"/{lang}/{page}").get_data(as_text=True)
                    found[f"{page}-{lang}-get"] = _mask(text)
                    match = TOKEN.search(text)
                    assert match
                    for bad, changes in BAD.items():
                        data = {**valid_fields(**changes), "csrf_token": match.group(1), "once": "0" * 22}
                        if page == "urgent":
                            data = {k: v for k, v in data.items() if k in ("csrf_token", "once", "danger", "people",
                                    "contact_method", "contact", "safe_times", "story", "consent")}  # fmt: skip
                        answer = client.post(f"/{lang}/{page}", data=data)
                        found[f"{page}-{lang}-{bad}"] = f"{answer.status_code}\n" + _mask(answer.get_data(as_text=True))
        app.extensions["intake"].storage.dispose()
    return found
