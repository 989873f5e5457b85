"""A desk over a real home: cases imported through the CLI, the real app, a client that went through /open."""

from __future__ import annotations

import datetime
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


def desk_client(app: Any, *, host: str = HOST) -> Any:
    """Flask's test client, every request sent to ``host`` (the address the desk serves on)."""
    from flask.testing import FlaskClient

    class HostClient(FlaskClient):
        def open(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("base_url", f"http://{host}")
            return super().open(*args, **kwargs)

    app.test_client_class = HostClient
    return app.test_client()
