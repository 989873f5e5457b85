"""A desk over a real home: cases imported through the CLI, the real app, a client that went through /open."""

from __future__ import annotations

import datetime
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crypto
from tests.triage.helpers import PASSPHRASE, TEST_CONFIG, TODAY, Server, Triage, make_request
from triage.home import Home
from triage.operations import unlock
from triage.policy import load_policy

HOST = "127.0.0.1:5000"
CANARY = "CANARY-7f3a9c-Канарейка"
HOSTILE_STORY = (
    "<script>alert(1)</script><b>bold</b><img src=x onerror=alert(2)> {{ 7*7 }} "
    "\u202etxt.exe\u202c \u2066isolated\u2069 zero\u200bwidth over\rprint \ufeffbom end"
)


def sample_requests() -> list[dict[str, Any]]:
    return [
        make_request(story="Всё спокойно, хотим уехать весной.", location="outside_russia"),
        make_request(danger="immediate", story="Нас ищут прямо сейчас.\nВторая строка.", threat_from=["authorities"],
                     location="chechnya", people=2),
        make_request(danger="serious", threat_from=["family"], story="Угрозы от семьи.", people=3, children=2),
        make_request(detention="recent", story=f"Задержали в прошлом месяце. {CANARY}",
                     submitted_on=TODAY - datetime.timedelta(days=3), contact="@canary_contact"),
        make_request(story=HOSTILE_STORY, alias="[bold]boss[/bold]\u202e"),
    ]  # fmt: skip


@dataclass
class Loaded:
    triage: Triage
    home: Home
    server: Server
    alice: crypto.PublicIdentity
    entries: list[crypto.BundleEntry]


def load_home(triage: Triage, server: Server, tmp_path: Path, *, import_now: bool = True) -> Loaded:
    alice = triage.keygen("Alice")
    entries = [server.entry(r, [alice]) for r in sample_requests()]
    bundle = server.bundle(tmp_path / "usb" / "export-1.bundle", entries) if _mkdir(tmp_path / "usb") else None
    assert bundle is not None
    if import_now:
        triage.ok("import", bundle)
    return Loaded(triage, Home(triage.home), server, alice, entries)


def _mkdir(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return True


def desk_state(home: Home, **options: Any) -> Any:
    from triage.desk import DeskState

    state = DeskState(TEST_CONFIG, home, load_policy(None), lang=options.pop("lang", "en"), jobs=1, **options)
    state.allowed_hosts = frozenset({HOST})
    state.unlock_with(unlock(home, PASSPHRASE, min_kdf=TEST_CONFIG.kdf))
    return state


# What a current browser sends when the person (or a page of the desk) opens a page of the desk.
BROWSER_HEADERS = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
CASE_PATH = re.compile(r"^/case/([0-9a-f]{4,64})(?=/|\?|$)")


def desk_client(app: Any, *, host: str = HOST, browser: bool = True) -> Any:
    """Flask's test client, every request sent to ``host`` (the address the desk serves on).

    Tests name desk paths as the caseworker sees them ("/", "/case/<id>", "/?level=urgent"): the client
    puts the desk's random prefix in front, stands random tokens in for a case id and for queue filters
    (as the desk's own links do: no word of a case in an address), and,
    unless ``browser=False``, sends the Fetch Metadata headers a browser sends (a test may override them).
    """
    from flask.testing import FlaskClient

    state = app.extensions["desk"]

    def desk_path(path: str) -> str:
        root = f"/{state.prefix}"
        if path.startswith(root + "/") or not path.startswith("/"):
            return path
        found = CASE_PATH.match(path)
        if found:
            path = f"/case/{state.cases.token(found.group(1))}{path[found.end() :]}"
        if path.startswith("/?"):  # queue filters: the random token the desk's own links carry instead
            from triage.desk import queue as q

            args = dict(urllib.parse.parse_qsl(path[2:], keep_blank_values=True))
            filters = q.Filters.from_args(
                *(args.get(name, "") for name in ("status", "level", "assignee", "q", "unread"))
            )
            path = f"/?view={state.views.token(filters)}" if filters.active else "/"
        return root + path

    class HostClient(FlaskClient):
        def open(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("base_url", f"http://{host}")
            if args and isinstance(args[0], str):
                args = (desk_path(args[0]), *args[1:])
            if browser:
                kwargs["headers"] = {**BROWSER_HEADERS, **dict(kwargs.get("headers") or {})}
            return super().open(*args, **kwargs)

    app.test_client_class = HostClient
    return app.test_client()
