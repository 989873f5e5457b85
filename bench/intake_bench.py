"""The journey a person makes (GET the form page, POST it), through the production gunicorn configuration,
against a plaintext baseline and a SecureDrop-style peer in the same run.

    python -m bench.intake_bench [--quick] [--status-only]

All three apps run under gunicorn with deploy/gunicorn.conf.py (worker class, workers, threads, limits:
only the bind address, the heartbeat folder and the log file changed), each on its own Unix socket, reached
as tor reaches intake (a PROXY line naming a fresh circuit per person). The apps (bench/apps.py):

* intake: the form page with its CSRF and one-time tokens, then a submission: CSRF, validation, sealing,
  durable commit. The submission is posted as a browser posts the form since it has a file input:
  multipart/form-data, the input left empty (a part with filename=""), for every app (``--encoding
  urlencoded``: the old journey);
* baseline: a static page of the same bytes as intake's form page, then the form stored as plaintext JSON
  with the same generic machinery (fast body reader, writer queue, group commit) and durability;
* peer: SecureDrop before 2.7: Flask, Flask-WTF, the SQLAlchemy ORM, one GnuPG process per submission;
* peer 2.7: SecureDrop since 2.7: the same with in-process OpenPGP (Sequoia, `pip install pysequoia`, a
  benchmark-only dependency; left out with a note when it is not installed) and a file per submission.

Rounds are of a fixed number of journeys, run by load-generator processes of their own, and their order
rotates and reverses from round to round. Reported as ratios of the same run, never as absolute verdicts:
journeys per second and server CPU per journey (medians of the per-round ratios, with their spread), p50/p99
journey latency (over all rounds); server CPU from /proc (the load generator excluded). Also the POST alone
(each person reuses one session) and the status page with three replies stored (GET, then the receipt), and,
as diagnostics, the share of the cores busy during each app's rounds and the load generator's own CPU per
journey: journeys/s follow the busy share over the CPU a journey costs, the load generator's included; and,
for the apps that write through intake's writers' turn (intake, the baseline, the floor), how much of their
rounds that turn was held and waited for (bench.turns, from /proc/locks).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import operator
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Row, print_rows
from bench.loadgen import (
    MULTIPART,
    URLENCODED,
    JourneySpec,
    LoadGenerator,
    Round,
    Stream,
    fresh_circuit,
    once_token,
    percentile,
    post_only_journey,
)
from bench.loadgen import form_journey as journey_of

REPO = Path(__file__).resolve().parents[1]
DEPLOY_CONFIG = REPO / "deploy" / "gunicorn.conf.py"
CLIENTS = 32
FORM: dict[str, str | list[str]] = {
    "danger": "immediate", "threat_from": ["family", "authorities"], "detention": "recent", "location": "chechnya",
    "people": "3", "children": "1", "documents": ["internal_passport"], "health": "нужен инсулин",
    "contact_method": "signal", "contact": "@someone", "safe_times": "вечером", "alias": "Р.",
    "story": "Они пришли ночью и угрожали. " * 40, "consent": "y",
}  # fmt: skip
RECEIPT_SHOWN = b'id="receipt"'
REPLY = "Мы получили вашу заявку и свяжемся с вами в Signal. Условное слово — «сирень». " * 4
RECEIPT = re.compile(r"(?<!\d)(\d{10}(?:[\s\u00a0]+\d{10}){2})(?!\d)")


@dataclass
class Server:
    socket: Path
    master: int


# What deploy/systemd/intake.service puts in the server's environment besides its paths (checked against the unit
# by tests/deploy/test_systemd_units.py): every server this bench and its users start runs as production does.
PRODUCTION_ENV = {"MALLOC_ARENA_MAX": "2"}


@contextmanager
def serve(target: str, work: Path, name: str, env: dict[str, str], extra: tuple[str, ...] = ()) -> Iterator[Server]:
    """gunicorn -c deploy/gunicorn.conf.py [EXTRA] TARGET on work/NAME.sock; stopped on exit."""
    sock = work / f"{name}.sock"
    argv = [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY_CONFIG), "--bind", f"unix:{sock}",
            "--worker-tmp-dir", str(work), *extra, target]  # fmt: skip
    # BENCH_INTAKE_TREE: another checkout's intake (e.g. main's), measured by this benchmark ("before"). The
    # servers start in that folder: `python -m` puts the working folder first on sys.path, before PYTHONPATH.
    tree = os.environ.get("BENCH_INTAKE_TREE") or str(REPO)
    path = os.pathsep.join(filter(None, [tree, str(REPO), os.environ.get("PYTHONPATH")]))
    full_env = {**os.environ, **env, **PRODUCTION_ENV, "PYTHONPATH": path}
    with open(work / f"{name}.log", "wb") as log:
        process = subprocess.Popen(argv, cwd=tree, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {(work / f'{name}.log').read_text(errors='replace')[-2000:]}")
            if sock.exists():
                try:
                    Stream(sock, fresh_circuit()).request("GET", "/")
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{name} did not start")
        yield Server(sock, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _gnupg_home(work: Path) -> tuple[str, str]:
    """A GnuPG home holding one RSA-4096 key for the peer to encrypt to: (home, fingerprint)."""
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet"]
    subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key", "peer <peer@bench.invalid>", "rsa4096", "encr",
                    "never"], check=True, capture_output=True)  # fmt: skip
    listing = subprocess.run([*gpg, "--with-colons", "--list-keys"], check=True, capture_output=True, text=True)
    fingerprint = next(line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:"))
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)
    return str(home), fingerprint


def _prepare(work: Path) -> tuple[dict[str, str], Any]:
    import crypto
    from bench.apps import prepare_baseline, prepare_peer
    from intake.config import IntakeConfig
    from intake.instance import Instance
    from intake.storage import Storage

    config = IntakeConfig(instance_dir=work / "instance")
    Instance(config).initialize()
    storage = Storage(config.database_url)
    identity = crypto.Identity.generate("bench")
    storage.add_recipient(identity.public, datetime.date.today())
    storage.dispose()
    prepare_baseline(work / "baseline.db", [REPLY] * 3)
    prepare_peer(work / "peer.db")
    prepare_peer(work / "peer27.db")
    (work / "peer27-store").mkdir()
    (work / "floor.pub").write_text(identity.public.to_text())
    home, fingerprint = _gnupg_home(work)
    with open(work / "peer.pub", "wb") as public:
        subprocess.run(["gpg", "--homedir", home, "--batch", "--export", fingerprint], stdout=public, check=True)
    baseline_db = work / "baseline.db"
    return {"BENCH_PEER27_DB": str(work / "peer27.db"), "BENCH_PEER27_STORE": str(work / "peer27-store"),
            "BENCH_PEER_PUBLIC_KEY": str(work / "peer.pub"), "BENCH_FLOOR_RECIPIENT": str(work / "floor.pub"),
            "INTAKE_INSTANCE_DIR": str(config.instance_dir), "INTAKE_MAX_PENDING": "100000000",
            "INTAKE_GLOBAL_PER_MINUTE": "100000000", "INTAKE_CIRCUIT_PER_MINUTE": "100000000",
            "BENCH_BASELINE_DB": str(baseline_db), "BENCH_STATIC_PAGE": str(work / "form.html"),
            "BENCH_STATUS_PAGE": str(work / "status.html"), "BENCH_PEER_DB": str(work / "peer.db"),
            "BENCH_PEER_GNUPGHOME": home, "BENCH_PEER_FINGERPRINT": fingerprint,
            "BENCH_PEER_SECRET": secrets.token_hex(32)}, identity  # fmt: skip


def _capture_pages(intake: Server, work: Path) -> tuple[int, int, str]:
    """Intake's form and status pages as the baseline's static pages; the form page's weight; a receipt."""
    stream = Stream(intake.socket, fresh_circuit())
    try:
        status, form_page = stream.request("GET", "/ru/request")
        (work / "form.html").write_bytes(form_page)
        _, answer = stream.request("POST", "/ru/request", {**FORM, "csrf_token": _token(form_page),
                                                           **once_token(form_page)})  # fmt: skip
        _, status_page = stream.request("GET", "/ru/status")
        (work / "status.html").write_bytes(status_page)
    finally:
        stream.close()
    found = RECEIPT.search(answer.decode())
    if status != 200 or not found:
        raise RuntimeError("intake did not give a receipt")
    subresources = re.findall(rb'<(?:link|script|img)\b[^>]*(?:href|src)="', form_page)
    return len(form_page), 1 + len(subresources), " ".join(found.group(1).split())


def _token(page: bytes) -> str:
    from bench.loadgen import csrf_token

    return csrf_token(page)


def _store_replies(work: Path, identity: Any, receipt: str, texts: list[str]) -> None:
    """Replies for ``receipt`` put on intake the only way they ever arrive: in a signed return file."""
    import crypto
    from intake.config import IntakeConfig
    from intake.conversation import reply_secret
    from intake.instance import Instance
    from intake.storage import Storage

    config = IntakeConfig(instance_dir=work / "instance")
    instance = Instance(config)
    digits = receipt.replace(" ", "")

    public = crypto.derive_reply_keypair(digits, reply_secret(instance.secret())).public
    day = datetime.date.today()
    replies = [crypto.AckReply(mailbox=crypto.mailbox_id(public),
                               container=crypto.seal_reply(text, written_on=day, seq=n, to=public))
               for n, text in enumerate(texts, start=1)]  # fmt: skip
    server_key = instance.server_key()
    data = crypto.make_ack([], identity=identity, server=server_key.public, bundle_sequence=1, created_on=day,
                           replies=replies)  # fmt: skip
    storage = Storage(config.database_url)
    try:
        storage.apply_ack(data, server_key, day)
    finally:
        storage.dispose()


def _rounds(load: LoadGenerator, servers: dict[str, Server], journeys: dict[str, JourneySpec], rounds: int,
            count: int, lock_files: dict[str, Path] | None = None) -> dict[str, list[Round]]:  # fmt: skip
    """Rounds of ``count`` journeys; each round runs every app once, in an order that rotates and reverses.
    ``lock_files``: the writers' turn file of the apps that have one, sampled during their rounds."""
    names = list(journeys)
    results: dict[str, list[Round]] = {name: [] for name in names}
    for n in range(rounds):
        order = names[n % len(names):] + names[: n % len(names)]
        for name in reversed(order) if n % 2 else order:
            results[name].append(load.round(servers[name].socket, servers[name].master, journeys[name], CLIENTS,
                                            count, (lock_files or {}).get(name)))  # fmt: skip
    return results


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x [{min(values):.2f}-{max(values):.2f}]"


_RATE = operator.attrgetter("rate")
_CPU = operator.attrgetter("cpu_per_journey")


def _paired(subject: list[Round], base: list[Round], measure: Callable[[Round], float]) -> list[float]:
    """Each round's ``measure`` of ``subject`` over the same round's of ``base`` (rounds run side by side)."""
    return [measure(s) / measure(b) for s, b in zip(subject, base, strict=True)]


def _p99(rounds: list[Round]) -> float:
    return percentile([x for r in rounds for x in r.journey_latencies], 99)


def _compare(label: str, subject: list[Round], base: list[Round], targets: bool) -> list[Row]:
    rates = [s.rate / b.rate for s, b in zip(subject, base, strict=True)]
    cpus = [s.cpu_per_journey / b.cpu_per_journey for s, b in zip(subject, base, strict=True)]
    lat_s = [x for r in subject for x in r.journey_latencies]
    lat_b = [x for r in base for x in r.journey_latencies]
    p50, p99 = (percentile(lat_s, p) / percentile(lat_b, p) for p in (50, 99))
    rate_ok, p99_ok, cpu_ok = (statistics.median(rates) >= 0.8, p99 <= 1.5, statistics.median(cpus) <= 1.5)
    ms = lambda rounds: statistics.median(r.cpu_per_journey for r in rounds) * 1000  # noqa: E731
    return [
        Row(f"{label}: per second vs baseline", _spread(rates), ">= 0.80x", rate_ok if targets else None),
        Row(f"{label}: p50 latency vs baseline", f"{p50:.2f}x", "report", None),
        Row(f"{label}: p99 latency vs baseline",
            f"{p99:.2f}x ({percentile(lat_s, 99) * 1000:.0f}/{percentile(lat_b, 99) * 1000:.0f} ms)",
            "<= 1.50x", p99_ok if targets else None),
        Row(f"{label}: server CPU each vs baseline", f"{_spread(cpus)} ({ms(subject):.1f}/{ms(base):.1f} ms)",
            "<= 1.50x", cpu_ok if targets else None),
    ]


def collect(quick: bool = False, *, rounds: int = 0, count: int = 0, peer: bool = True,
            gunicorn: tuple[str, ...] = (), what_if: str = "", status_only: bool = False,
            encoding: str = MULTIPART, floor: bool = True) -> list[Row]:  # fmt: skip
    """The report's rows. ``gunicorn``: extra options for all the servers, to try another worker model;
    ``what_if``: a variant of intake from bench/what_if.py in place of intake; ``status_only``: the status
    page rounds alone (intake and the baseline), for working on that page; ``encoding``: how the journey's
    POST is sent ("multipart", what a browser sends for the form with its file input; "urlencoded");
    ``floor``: also the sealing floor (bench.apps.make_sealing_floor), the best any sealing design could do."""
    peer = peer and not status_only
    rounds, count = rounds or (3 if quick else 6), count or (96 if quick else 400)
    peer27 = peer and importlib.util.find_spec("pysequoia") is not None
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="evac-bench-", dir="/tmp"))  # short: Unix socket paths
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        env, identity = _prepare(work)
        target = f"bench.what_if:{what_if}()" if what_if else "intake.wsgi:app"
        intake = stack.enter_context(serve(target, work, "intake", env, gunicorn))
        page_bytes, page_requests, receipt = _capture_pages(intake, work)
        _store_replies(work, identity, receipt, [REPLY] * 3)
        servers = {"intake": intake,
                   "baseline": stack.enter_context(serve("bench.apps:make_baseline()", work, "baseline", env,
                                                         gunicorn))}  # fmt: skip
        # The form posts what a browser sends for it (``encoding``): multipart, with its file input left empty.
        journeys = {
            "intake": journey_of("/ru/request", FORM, RECEIPT_SHOWN, encoding=encoding),
            "baseline": journey_of("/form", FORM, b"stored", token=False, post_path="/submit", encoding=encoding),
        }
        post_journeys = {
            "intake": post_only_journey("/ru/request", FORM, RECEIPT_SHOWN, encoding=encoding),
            "baseline": post_only_journey("/form", FORM, b"stored", token=False, post_path="/submit",
                                          encoding=encoding),
        }  # fmt: skip
        if floor and not status_only:
            servers["floor"] = stack.enter_context(serve("bench.apps:make_sealing_floor()", work, "floor", env,
                                                         gunicorn))  # fmt: skip
            journeys["floor"] = journey_of("/form", FORM, b"stored", token=False, post_path="/submit",
                                           encoding=encoding)  # fmt: skip
        for name, target_app, wanted in (("peer", "make_peer", peer), ("peer27", "make_peer27", peer27)):
            if wanted:
                servers[name] = stack.enter_context(serve(f"bench.apps:{target_app}()", work, name, env, gunicorn))
                journeys[name] = journey_of("/form", FORM, b"received", encoding=encoding)
                post_journeys[name] = post_only_journey("/form", FORM, b"received", encoding=encoding)
        status_journeys = {
            "intake": journey_of("/ru/status", {"receipt": receipt}, REPLY[:40].encode()),
            "baseline": journey_of("/status", {"id": "1"}, REPLY[:40].encode(), token=False),
        }
        load = LoadGenerator()
        stack.callback(load.close)
        # Warm up: imports, templates, database connections, processes; the status page's too (each worker
        # compiles the status page's templates on its first visitor, which fell in the first measured round).
        for name, server in servers.items():
            for warm in (journeys, status_journeys):
                if name in warm:
                    load.round(server.socket, server.master, warm[name], CLIENTS, CLIENTS)
        loadavg = os.getloadavg()
        if not status_only:
            # intake's database is in its instance folder; the baseline and the floor share one (bench.apps).
            writers = {"intake": work / "instance" / "intake.db-writers", "baseline": work / "baseline.db-writers",
                       "floor": work / "baseline.db-writers"}  # fmt: skip
            journey = _rounds(load, servers, journeys, rounds, count, writers)
            post_only = _rounds(load, servers, post_journeys, rounds, count // 2)
        status = _rounds(load, servers, status_journeys, rounds, count // 2)
        loadavg_after = os.getloadavg()
    status_cpu = [s.cpu_per_journey / b.cpu_per_journey for s, b in zip(status["intake"], status["baseline"],
                                                                          strict=True)]  # fmt: skip
    status_rows = [
        *_compare("status page, 3 replies (GET + lookup)", status["intake"], status["baseline"], targets=False),
        Row("status page, 3 replies: server CPU vs baseline", _spread(status_cpu), "<= 2.00x",
            statistics.median(status_cpu) <= 2),
    ]  # fmt: skip
    load_row = Row("machine load (1-minute average, before/after)", f"{loadavg[0]:.1f}/{loadavg_after[0]:.1f}",
                   "report", None)  # fmt: skip
    if status_only:
        return [*status_rows, load_row]
    absolute = " / ".join(f"{statistics.median(r.rate for r in journey[n]):.0f}" for n in servers)
    turned = [n for n in servers if all(r.turn_held == r.turn_held for r in journey[n])]  # sampled (not NaN)
    turns = ", waited for ".join(" / ".join(f"{statistics.median(getattr(r, kind) for r in journey[n]):.0%}"
                                            for n in turned) for kind in ("turn_held", "turn_waited"))
    cpu = " / ".join(f"{statistics.median(r.cpu_per_journey for r in journey[n]) * 1000:.1f}" for n in servers)
    peer_rows = []
    labels = {"peer": "SecureDrop-style peer (GnuPG, before 2.7)",
              "peer27": "SecureDrop-2.7-style peer (in-process Sequoia)"}  # fmt: skip
    for name, label in labels.items():
        if name in journey:
            ratios = [i.rate / p.rate for i, p in zip(journey["intake"], journey[name], strict=True)]
            peer_rows += [
                Row(f"journey: per second vs {label}", _spread(ratios), ">= 5.00x",
                    statistics.median(ratios) >= 5 if name == "peer27" else None),
                Row(f"POST only: per second vs {label}",
                    _spread([i.rate / p.rate for i, p in zip(post_only["intake"], post_only[name], strict=True)]),
                    "report", None),
            ]  # fmt: skip
    if "floor" in journey:
        # Not targets: what the floor itself costs, and how far intake is from it (its code and its other
        # guarantees: CSRF, receipts, one-time tokens, validation, headers, limits).
        floor, base, ours = journey["floor"], journey["baseline"], journey["intake"]
        floor_rates, floor_cpu = _paired(floor, base, _RATE), _paired(floor, base, _CPU)
        floor_p99 = _p99(floor) / _p99(base)
        over_rates, over_cpu = _paired(ours, floor, _RATE), _paired(ours, floor, _CPU)
        peer_rows += [
            Row("sealing floor (baseline + sealing): journeys/s vs baseline", _spread(floor_rates), "report", None),
            Row("sealing floor: server CPU each vs baseline", _spread(floor_cpu), "report", None),
            Row("sealing floor: p99 latency vs baseline", f"{floor_p99:.2f}x", "report", None),
            Row("journey: per second vs the sealing floor", _spread(over_rates), "report", None),
            Row("journey: server CPU each vs the sealing floor", _spread(over_cpu), "report", None),
        ]
    for name in ("floor", "baseline"):
        if name in journey and "peer27" in journey:  # what the 5x against the peer asks of any design here
            ratios = _paired(journey[name], journey["peer27"], _RATE)
            peer_rows.append(Row(f"{'sealing floor' if name == 'floor' else 'baseline'}: per second vs the "
                                 "SecureDrop-2.7-style peer", _spread(ratios), "report", None))  # fmt: skip
    if peer and not peer27:
        peer_rows.append(Row("SecureDrop-2.7-style peer", "not run", "pip install pysequoia", False))
    return [
        *_compare("journey (GET form + POST)", journey["intake"], journey["baseline"], targets=True),
        *peer_rows,
        Row(f"journeys/s {' / '.join(servers)} (this machine)", absolute, "report", None),
        Row(f"server CPU ms per journey {' / '.join(servers)}", cpu, "report", None),
        # Why journeys/s and server CPU can disagree: the cores left idle (the server waiting: a lock, the
        # disk), and the load generator's own CPU, which shares the cores.
        Row(f"cores busy in the journey rounds {' / '.join(servers)}",
            " / ".join(f"{statistics.median(r.machine_busy for r in journey[n]):.0%}" for n in servers), "report",
            None),
        # Why the cores sit idle: the two workers take turns to write (intake.database.WriteQueue), and a turn
        # lasts to the end of its commit's fsync; while it is held, the other worker's submissions wait.
        Row(f"writers' turn held / waited for in the journey rounds {' / '.join(turned)}", turns, "report", None),
        Row(f"load generator CPU ms per journey {' / '.join(servers)}",
            " / ".join(f"{statistics.median(r.loadgen_cpu_seconds / r.journeys for r in journey[n]) * 1000:.1f}"
                       for n in servers), "report", None),
        *_compare("POST only", post_only["intake"], post_only["baseline"], targets=False),
        *status_rows,
        Row("form page bytes (body)", f"{page_bytes}", "<= 20000", page_bytes <= 20_000),
        Row("form page requests", f"{page_requests}", "<= 2", page_requests <= 2),
        load_row,
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds, three of them: a smoke run")
    parser.add_argument("--rounds", type=int, default=0, help="rounds (default 6; 3 with --quick)")
    parser.add_argument("--count", type=int, default=0, help="journeys per app per round (default 400; 96 quick)")
    parser.add_argument("--no-peer", action="store_true", help="leave the SecureDrop-style peer out")
    parser.add_argument("--gunicorn", default="", help="extra gunicorn options for all servers, e.g. '--threads 4'")
    parser.add_argument("--what-if", default="", help="measure a variant of intake from bench/what_if.py instead")
    parser.add_argument("--no-floor", action="store_true", help="leave the sealing floor out")
    parser.add_argument("--status-only", action="store_true", help="only the status page rounds (and the baseline)")
    parser.add_argument("--encoding", choices=(MULTIPART, URLENCODED), default=MULTIPART,
                        help="the journey's POST body: multipart (what a browser sends, no file chosen; default) "
                             "or urlencoded")  # fmt: skip
    args = parser.parse_args(argv)
    rows = collect(args.quick, rounds=args.rounds, count=args.count, peer=not args.no_peer,
                   gunicorn=tuple(args.gunicorn.split()), what_if=args.what_if,
                   status_only=args.status_only, encoding=args.encoding, floor=not args.no_floor)  # fmt: skip
    print_rows("intake" + f" ({args.encoding} POST)" + (f" (gunicorn {args.gunicorn})" if args.gunicorn else "")
               + (f" (what if: {args.what_if})" if args.what_if else ""), rows)  # fmt: skip


if __name__ == "__main__":
    main()
