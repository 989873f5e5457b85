"""The crash loop: concurrent visitors submit through real HTTP while gunicorn is SIGKILLed and restarted.

Used by tests/system/test_crash_safety.py (20 kills) and bench/crash_bench.py (5 or 20). A submission counts
as *receipted* only when its whole receipt page arrived (Content-Length read to the end). Afterwards every
receipted submission must be in the database, reachable from its receipt, and open with the caseworker's key
to the exact words; the database must pass ``PRAGMA integrity_check``; one export must hold them all. Every
other submission carries a file (issue 24): a receipted one's blob must be stored, tied to its envelope, and open
with the manifest's key to the exact bytes; once every server process is gone, nothing may stay staged after the
next start's cleanup.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import itertools
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import crypto
from crypto import filestream
from intake.blobs import Stager
from intake.config import IntakeConfig
from intake.instance import Instance
from intake.receipts import normalize_receipt, receipt_lookup_key
from intake.storage import Storage
from tests.deploy.intake_helpers import RECEIPT, Browser, export_and_open
from tests.intake.helpers import opened as open_stored
from tests.system.running import HOST, Gunicorn, SystemInstance


@dataclass
class CrashResult:
    kills: int
    receipted: dict[str, tuple[str, str]] = field(default_factory=dict)  # marker -> (story, receipt)
    answers: Counter[int] = field(default_factory=Counter)  # HTTP status of every complete answer to a POST
    interrupted: int = 0  # attempts cut off by a kill (no complete answer)
    lost: list[str] = field(default_factory=list)  # receipted markers not stored, or stored with other words
    unreachable: list[str] = field(default_factory=list)  # receipts that do not lead to their own envelope
    corrupt: int = 0  # stored envelopes the caseworker cannot open
    stored: int = 0
    exported: int = 0
    integrity: str = ""
    plaintext_in: list[str] = field(default_factory=list)  # server files holding any submitted words
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)  # marker -> SHA-256 of the file a receipted one carried
    lost_files: list[str] = field(default_factory=list)  # receipted markers whose file is missing or differs
    staged_left: int = -1  # staged blobs still there after the next start's cleanup

    @property
    def ok(self) -> bool:
        return (not self.lost and not self.unreachable and self.corrupt == 0 and self.integrity == "ok"
                and self.exported == self.stored and not self.plaintext_in and not self.lost_files
                and self.staged_left == 0)  # fmt: skip


PLAIN_WORDS = "They came at night."


def story_for(number: int) -> tuple[str, str]:
    marker = f"crash-{number:06d}-{secrets.token_hex(4)}"
    story = f"{marker}\nМеня ищут родственники — «срочно», нас двое. {PLAIN_WORDS}\t🙂 Номер {number}."
    return marker, story


def files_with_plaintext(instance: SystemInstance) -> list[str]:
    """Invariant 1 after the crashes: no database, WAL, journal, temp or log file holds the submitted words."""
    needles = [PLAIN_WORDS.encode(), "Меня ищут".encode(), b"crash-0"]
    paths = [p for p in instance.folder.rglob("*") if p.is_file()] + list(instance.root.glob("*.log"))
    return [p.name for p in paths if any(needle in p.read_bytes() for needle in needles)]


class Visitors:
    """Client threads that keep submitting the form, each submission on a fresh connection and circuit."""

    def __init__(self, server: Gunicorn, count: int, result: CrashResult) -> None:
        self.server = server
        self.result = result
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.numbers = itertools.count(1)
        self.threads = [threading.Thread(target=self._run, name=f"visitor-{i}", daemon=True) for i in range(count)]

    def __enter__(self) -> Visitors:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                number = next(self.numbers)
            marker, story = story_for(number)
            try:
                conn = self.server.connect(circuit=number, timeout=20)
            except OSError:  # between a kill and the restart: nobody listens
                time.sleep(0.02)
                continue
            content = (marker.encode() + b"\n" + secrets.token_bytes(150_000)) if number % 2 else None
            try:
                browser, lang = Browser(conn, f"{HOST}:{self.server.port}"), random.choice(["en", "ru"])
                response = (browser.submit_with_file(story, f"{marker}.bin", content, lang=lang) if content
                            else browser.submit(story, lang=lang))  # fmt: skip
            except (OSError, ConnectionError, AssertionError, IndexError, ValueError):
                with self.lock:
                    self.result.interrupted += 1
                continue
            finally:
                with contextlib.suppress(OSError):
                    conn.sock.close()
            found = RECEIPT.search(response.body.decode("utf-8", "replace")) if response.status == 200 else None
            with self.lock:
                self.result.answers[response.status] += 1
                if found:
                    self.result.receipted[marker] = (story, " ".join(found.group(1).split()))
                    if content is not None:
                        self.result.files[marker] = hashlib.sha256(content).hexdigest()


# How long the loop may wait for the receipts it needs before each kill: a bound, never a figure. On a machine
# with a load of 20 a submission can take seconds; the loop waits for receipts, not for time.
RECEIPTS_WITHIN = 600.0


def _wait_for_receipts(result: CrashResult, count: int, lock: threading.Lock) -> None:
    deadline = time.monotonic() + RECEIPTS_WITHIN
    while True:
        with lock:
            if len(result.receipted) >= count:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(result.receipted)} of {count} receipts in {RECEIPTS_WITHIN:.0f} s")
        time.sleep(0.02)


def run_crash_loop(root: Path, *, kills: int, visitors: int = 6, seed: int | None = None,
                   app: str = "intake.wsgi:app", receipts_between: int = 2) -> CrashResult:  # fmt: skip
    """Set up an instance in ``root``, kill its server ``kills`` times under load, then check everything.

    Before each kill the loop waits until ``receipts_between`` more submissions were receipted since the
    last restart (however long that takes on a loaded machine, within RECEIPTS_WITHIN), then kills at a
    random moment while visitors are mid-request."""
    started = time.monotonic()
    rng = random.Random(seed)
    instance = SystemInstance.create(root)
    server = Gunicorn(instance, app=app)
    result = CrashResult(kills=kills)
    server.start()
    try:
        with Visitors(server, visitors, result) as crowd:
            for _ in range(kills):
                _wait_for_receipts(result, len(result.receipted) + receipts_between, crowd.lock)
                time.sleep(rng.uniform(0.0, 0.5))  # a random moment while visitors are mid-request
                server.kill()
                server.start()
            time.sleep(0.3)
    finally:
        server.stop()
    verify(instance, result)
    result.seconds = time.monotonic() - started
    return result


def verify(instance: SystemInstance, result: CrashResult) -> None:
    caseworker = instance.caseworker()
    secret = Instance(IntakeConfig(instance_dir=instance.folder)).secret()
    stories: dict[str, str] = {}
    by_lookup: dict[bytes, str] = {}
    contents: dict[str, str] = {}
    with contextlib.closing(instance.db()) as db:
        rows = db.execute("SELECT e.id, e.envelope, r.lookup FROM envelopes e LEFT JOIN receipts r "
                          "ON r.envelope_id = e.id").fetchall()  # fmt: skip
        for envelope_id, envelope, lookup in rows:
            result.stored += 1
            try:
                payload = open_stored(bytes(envelope), caseworker)
                story = str(payload["story"])
            except crypto.CryptoError:
                result.corrupt += 1
                continue
            marker = story.split("\n", 1)[0]
            stories[marker] = story
            for entry in crypto.check_manifest(payload["files"]) if "files" in payload else ():
                owner = db.execute("SELECT envelope_id FROM blobs WHERE id = ?", (entry.blob,)).fetchone()
                blob = b"".join(bytes(r[0]) for r in db.execute(
                    "SELECT data FROM blob_chunks WHERE blob_id = ? ORDER BY seq", (entry.blob,)))  # fmt: skip
                try:
                    if owner is None or owner[0] is None or bytes(owner[0]) != bytes(envelope_id):
                        raise crypto.TamperedError("not tied to its envelope")
                    contents[marker] = hashlib.sha256(filestream.open_bytes(blob, entry.sealed())).hexdigest()
                except crypto.CryptoError:
                    continue
            if lookup is not None:
                by_lookup[bytes(lookup)] = marker
    for marker, (story, receipt) in result.receipted.items():
        if stories.get(marker) != story:
            result.lost.append(marker)
        lookup = receipt_lookup_key(normalize_receipt(receipt) or "", secret)
        if by_lookup.get(lookup) != marker:
            result.unreachable.append(marker)
    result.lost_files = [marker for marker, digest in result.files.items() if contents.get(marker) != digest]
    # Every server process is gone: the next start's cleanup removes whatever a killed worker was receiving.
    storage = Storage(f"sqlite:///{instance.database}")
    try:
        Stager(instance.folder / "staging").clean_dead(storage, datetime.date.today())
    finally:
        storage.dispose()
    with contextlib.closing(instance.db()) as db:
        result.staged_left = int(db.execute("SELECT count(*) FROM blobs WHERE envelope_id IS NULL").fetchone()[0])
    result.integrity = instance.integrity()
    result.plaintext_in = files_with_plaintext(instance)
    opened = export_and_open(instance.folder, instance.env, caseworker)
    result.exported = len(opened)
