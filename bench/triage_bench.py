"""`triage list --json` over N imported requests against a bare PyNaCl loop opening the same envelopes.

    python -m bench.triage_bench [--count 100000] [--rounds N] [--cache DIR]

Both sides run as subprocesses in the same run, alternating: the bare loop streams the envelopes from
the bundle file and does only crypto_box_seal_open + XChaCha20-Poly1305 decryption; triage unlocks the
caseworker key (production argon2id), reads the store, opens, validates and prioritises every request
and prints the JSON. Peak memory is reported twice: ru_maxrss of the largest process
(getrusage(RUSAGE_CHILDREN)) and the sampled sum over triage and its worker processes.

BENCH_TRIAGE_BEFORE=DIR times DIR's triage too (e.g. main's checkout), in the same run. Machines here are
shared: wall time ratios follow the load, so CPU time ratios (user + system of each process tree) are
printed beside them.

Like for like (issue 21): every side starts from the same key file and passphrase. triage unlocks the
caseworker key (argon2id at the production cost, 256 MiB) and the store key; so do the bare loops, with
crypto.unlock_identity and crypto.StoreKey.unwrap, then nothing but PyNaCl (and json for the cache). The
ratios with the bare loops given the raw keys instead (as before) are reported beside them.

The store is built once per count into a cache folder (``--cache``, default under /tmp) and reused by
later runs: sealing and importing 100,000 requests takes minutes on two cores. The key file is made at
the production argon2id cost, so every unlock measured is the real one.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import multiprocessing
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nacl.bindings

import crypto
from bench.common import Row, print_rows
from triage.home import Home
from triage.identities import Keygen

TODAY = datetime.date(2026, 11, 22)
PASSPHRASE = "benchmark passphrase, not a secret, for speed only"
WORDS = ["помогите", "нас", "ищут", "семья", "угрожает", "help", "we", "must", "leave", "soon", "police", "угрозы"]
BUNDLE_HEADER = 4 + 1 + 32 + 8 + 8 + 4 + 4


def _request(seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    people = rng.randint(1, 8)
    return {
        "schema": 1, "locale": rng.choice(["ru", "en"]),
        "submitted_on": TODAY - datetime.timedelta(days=rng.randint(0, 200)),
        "danger": rng.choice(["immediate", "serious", "not_immediate"]),
        "threat_from": rng.sample(["authorities", "family", "community", "partner", "other"], rng.randint(0, 2)),
        "detention": rng.choice([None, "never", "past", "recent"]),
        "location": rng.choice([None, "chechnya", "north_caucasus", "russia_other", "outside_russia"]),
        "people": people, "children": rng.randint(0, people - 1) if rng.random() < 0.5 else None,
        "documents": rng.sample(["internal_passport", "international_passport", "confiscated"], rng.randint(0, 2)),
        "health": "инсулин" if rng.random() < 0.2 else "", "contact_method": "signal",
        "contact": f"+7 9{rng.randint(0, 10**9):09d}", "story": " ".join(rng.choices(WORDS, k=rng.randint(20, 600))),
        "consent": True,
    }  # fmt: skip


_recipients: list[crypto.PublicIdentity] = []
IMPORT_SECONDS: list[float] = []
# Below this many requests, fixed costs (argon2id unlock at 256 MiB, imports) dominate: ratio is reported only.
MIN_COUNT_FOR_VERDICT = 20_000


def _seal(seed: int) -> bytes:
    return crypto.seal_request(_request(seed), for_recipients=_recipients)


def build(workdir: Path, count: int) -> tuple[Path, Path, Path]:
    """A caseworker home with ``count`` imported requests; returns (home, passphrase file, bundle).

    Kept in ``workdir`` (marked complete by a file ``ready``): a later call with the same folder reuses it.
    """
    home = workdir / "home"
    ready = workdir / "ready"
    if ready.is_file():
        return home, workdir / "passphrase", workdir / "export.bundle"
    if workdir.exists():
        shutil.rmtree(workdir)  # an interrupted build
    workdir.mkdir(parents=True)
    passphrase_file = workdir / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    new = Keygen(Home(home), kdf=crypto.KDF_PRODUCTION).create("Bench", PASSPHRASE)
    _recipients[:] = [new.public]
    server = crypto.ServerKey.generate()
    bundle = workdir / "export.bundle"
    context = multiprocessing.get_context("fork")
    with context.Pool() as pool, bundle.open("wb") as out:
        envelopes = pool.imap(_seal, range(count), chunksize=64)
        entries = (crypto.BundleEntry(os.urandom(16), i + 1, env) for i, env in enumerate(envelopes))
        crypto.write_bundle(
            out, entries, count=count, server_key=server, sequence=1, high_water=count, created_on=TODAY
        )
    started = time.perf_counter()
    # The first import checks the server fingerprint (as a caseworker does with the operator's).
    _triage(home, passphrase_file, "import", "--fingerprint", server.public.fingerprint, str(bundle), "--json")
    IMPORT_SECONDS.append(time.perf_counter() - started)
    ready.write_text(f"{count}\n")
    return home, passphrase_file, bundle


def _triage(home: Path, passphrase_file: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "triage.cli", "--home", str(home), "--passphrase-file", str(passphrase_file)]
    return subprocess.run([*command, *args], check=True, capture_output=True)


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants, from /proc (0 where /proc is absent)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, StopIteration, ValueError):
            continue
    return total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: str | None = None) -> tuple[float, float, int, bytes]:
    """Wall time, CPU time (user + system, the process and every child it waited for), peak summed RSS of
    the process tree, and stdout of ``command`` (run in ``cwd``)."""
    peak = 0
    with tempfile.TemporaryFile() as out:
        start, cpu_start = time.perf_counter(), _children_cpu()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, cwd=cwd)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.05):
                peak = max(peak, _tree_rss(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu_start
        done.set()
        sampler.join()
        if code != 0:
            raise RuntimeError(f"{command[3:]} failed with exit code {code}")
        out.seek(0)
        head = out.read(64)
    return elapsed, cpu, peak, head


def _unlock(key_file: Path, passphrase_file: Path) -> crypto.Identity:
    """The caseworker key, unlocked as triage unlocks it (argon2id at the key file's production cost)."""
    passphrase = passphrase_file.read_text(encoding="utf-8").rstrip("\n")
    return crypto.unlock_identity(key_file.read_bytes(), passphrase, min_kdf=crypto.KDF_PRODUCTION)


def _store_key(store_path: Path, identity: crypto.Identity) -> bytes:
    """The store key, unwrapped from the store as triage does (one sealed box)."""
    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as db:
        (wrapped,) = db.execute("SELECT wrapped_store_key FROM caseworkers WHERE fingerprint = ?",
                                (identity.fingerprint,)).fetchone()  # fmt: skip
    return bytes(crypto.StoreKey.unwrap(wrapped, identity)._key)


def bare_loop(bundle: Path, secret_path: Path, unlock: tuple[Path, Path] | None = None) -> int:
    """Open every envelope of ``bundle`` with nothing but PyNaCl: the floor triage is measured against.

    ``unlock``: (key file, passphrase file), unlocked first as triage does, instead of a raw key.
    """
    secret = _unlock(*unlock).secret_bytes()[0] if unlock else secret_path.read_bytes()
    public = nacl.bindings.crypto_scalarmult_base(secret)
    opened = 0
    with bundle.open("rb") as stream:
        header = stream.read(BUNDLE_HEADER)
        count = int.from_bytes(header[-4:], "big")
        for _ in range(count):
            head = stream.read(28)
            envelope = stream.read(int.from_bytes(head[24:28], "big"))
            recipients = envelope[5]
            stanzas_end = 10 + 80 * recipients
            key = nacl.bindings.crypto_box_seal_open(envelope[10:90], public, secret)
            # Version 2 (FORMAT.md §4.1): the key commitment follows the stanzas, then the nonce.
            commitment_end = stanzas_end + 32
            expected = hashlib.blake2b(b"intake envelope key commitment v2", digest_size=32, key=key).digest()
            if envelope[commitment_end - 32 : commitment_end] != expected:
                raise SystemExit("commitment mismatch")
            header_end = commitment_end + 24
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                envelope[header_end:], envelope[:header_end], envelope[commitment_end:header_end], key
            )
            opened += 1
    return opened


TRIAGE_VARIANTS = ("list", "list_one_process", "reopen", "reopen_one_process")
_CACHE_CONTEXT = b"intake store record v1\x00"  # crypto.records: what every sealed store value is bound to


def bare_cache_loop(store_path: Path, key_path: Path, fingerprint: str, unlock: tuple[Path, Path] | None = None
                    ) -> int:  # fmt: skip
    """Open every case's record and cached request with nothing but PyNaCl and json: the floor of the cache path.

    What ``triage list --json`` does without ``--reopen`` is exactly this much cryptography (one
    XChaCha20-Poly1305 per record and per cached request, keyed by the store key); this loop does that and
    parses both, and nothing else (no policy, no sorting, no output).
    """
    key = _store_key(store_path, _unlock(*unlock)) if unlock else key_path.read_bytes()
    decrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt
    db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    opened = 0
    rows = db.execute("SELECT r.entry_id, r.sealed, q.sealed FROM records r JOIN requests q ON q.entry_id = r.entry_id "
                      "AND q.fingerprint = ?", (fingerprint,))  # fmt: skip
    for entry_id, record, request in rows:
        entry_id = bytes(entry_id)
        json.loads(decrypt(record[24:], _CACHE_CONTEXT + b"case:" + entry_id, record[:24], key))
        context = _CACHE_CONTEXT + b"request:" + entry_id + b":" + fingerprint.encode("ascii")
        json.loads(decrypt(request[24:], context, request[:24], key))
        opened += 1
    return opened


def measure(count: int, cache: Path, scratch: Path, rounds: int) -> dict[str, float]:
    """Time every variant; the store comes from ``cache`` (built there once), raw keys go to ``scratch``."""
    start = time.perf_counter()
    built = not (cache / "ready").is_file()
    home, passphrase_file, bundle = build(cache, count)
    build_seconds = time.perf_counter() - start
    key_file = home / "Bench.key"
    identity = crypto.unlock_identity(key_file.read_bytes(), PASSPHRASE, min_kdf=crypto.KDF_PRODUCTION)
    secret_path = scratch / "bare.secret"  # the bare loop's key, in the bench's own scratch folder
    secret_path.write_bytes(identity.secret_bytes()[0])
    store_path = Home(home).store_path
    store_key_path = scratch / "bare.storekey"  # the bare cache loop's key, in the bench's scratch folder
    store_key_path.write_bytes(_store_key(store_path, identity))
    triage_cmd = [sys.executable, "-m", "triage.cli", "--home", str(home), "--passphrase-file", str(passphrase_file)]
    bare_cmd = [sys.executable, "-m", "bench.triage_bench", "--bare", str(bundle), str(secret_path)]
    cache_cmd = [sys.executable, "-m", "bench.triage_bench", "--bare-cache", str(store_path), str(store_key_path),
                 identity.fingerprint]  # fmt: skip
    unlock = ["--unlock", str(key_file), str(passphrase_file)]
    variants = {
        "list": [*triage_cmd, "list", "--json"],
        "list_one_process": [*triage_cmd, "list", "--json", "--jobs", "1"],
        "reopen": [*triage_cmd, "list", "--json", "--reopen"],
        "reopen_one_process": [*triage_cmd, "list", "--json", "--reopen", "--jobs", "1"],
        "bare": [*bare_cmd, *unlock],
        "bare_cache": [*cache_cmd, *unlock],
        "bare_raw_key": bare_cmd,
        "bare_cache_raw_key": cache_cmd,
    }
    # BENCH_TRIAGE_BEFORE: another checkout (e.g. main's) whose triage is timed too, in the same run ("before");
    # `python -m` puts the working folder first on sys.path, so its triage is the one that runs.
    before = os.environ.get("BENCH_TRIAGE_BEFORE")
    if before:
        variants.update({f"before_{name}": variants[name] for name in TRIAGE_VARIANTS})
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in variants}
    peaks: dict[str, int] = dict.fromkeys(variants, 0)
    for _ in range(rounds):
        for name, command in variants.items():
            elapsed, cpu, rss, head = timed(command, before if name.startswith("before_") else None)
            assert name.startswith("bare") or head.startswith(b"[\n{"), head
            seconds[name].append(elapsed)
            cpu_seconds[name].append(cpu)
            peaks[name] = max(peaks[name], rss)
    maxrss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    best = {name: min(values) for name, values in seconds.items()}
    best_cpu = {name: min(values) for name, values in cpu_seconds.items()}
    out: dict[str, float] = {"count": count, "build_seconds": build_seconds if built else 0.0,
                             "cpus": os.cpu_count() or 1}  # fmt: skip
    out["import_seconds"] = IMPORT_SECONDS[-1] if IMPORT_SECONDS else 0.0
    out["load_average"] = os.getloadavg()[0]
    for name in variants:
        out[f"{name}_seconds"] = best[name]
        out[f"{name}_cpu_seconds"] = best_cpu[name]
        out[f"{name}_peak_mib"] = peaks[name] / 2**20
        if not name.startswith("bare"):
            # Like for like (issue 21 item 1): the cache path against the bare loop over the same cache,
            # --reopen against the bare loop opening the same envelopes; both floors unlock the key as triage does.
            floor = "bare_cache" if name.removeprefix("before_").startswith("list") else "bare"
            out[f"{name}_ratio"] = best[name] / best[floor]
            out[f"{name}_cpu_ratio"] = best_cpu[name] / best_cpu[floor]
            out[f"{name}_vs_raw_key_loop"] = best[name] / best[f"{floor}_raw_key"]
            out[f"{name}_vs_envelope_loop"] = best[name] / best["bare"]
    out["largest_process_maxrss_mib"] = maxrss_kib / 1024
    return out


def collect(quick: bool) -> list[Row]:
    count = 3000 if quick else 100_000
    scratch = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    try:
        m = measure(count, default_cache(count), scratch, rounds=1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows(m)


def default_cache(count: int) -> Path:
    return Path(tempfile.gettempdir()) / "triage-bench-cache" / f"n{count}"


def rows(m: dict[str, float]) -> list[Row]:
    n = f"n={int(m['count'])}"
    raw = (
        f"{m['list_vs_raw_key_loop']:.2f}x / {m['list_one_process_vs_raw_key_loop']:.2f}x / "
        f"{m['reopen_vs_raw_key_loop']:.2f}x / {m['reopen_one_process_vs_raw_key_loop']:.2f}x"
    )
    verdict = m["list_ratio"] <= 1.5 if m["count"] >= MIN_COUNT_FOR_VERDICT else None
    return [
        Row(f"triage list --json / bare loop over the same cache ({n})", f"{m['list_ratio']:.2f}x", "<= 1.5x",
            verdict),
        Row(f"  same, --jobs 1 ({n})", f"{m['list_one_process_ratio']:.2f}x", "<= 1.5x",
            m["list_one_process_ratio"] <= 1.5 if verdict is not None else None),
        Row(f"  list --json --reopen / bare loop opening the envelopes ({n})", f"{m['reopen_ratio']:.2f}x",
            "<= 1.5x", m["reopen_ratio"] <= 1.5 if verdict is not None else None),
        Row(f"  list --json --reopen --jobs 1 ({n})", f"{m['reopen_one_process_ratio']:.2f}x", "<= 1.5x",
            m["reopen_one_process_ratio"] <= 1.5 if verdict is not None else None),
        Row(f"  (the cache path against the envelope loop, as reported before) ({n})",
            f"{m['list_vs_envelope_loop']:.2f}x", "reported", None),
        Row(f"  the four above, CPU time (user + system) against the loops' ({n})",
            " / ".join(f"{m[k + '_cpu_ratio']:.2f}x" for k in TRIAGE_VARIANTS), "reported", None),
        *([Row(f"  before ({n}): wall / CPU, the four above", " / ".join(f"{m['before_' + k + '_ratio']:.2f}x"
                                                                       for k in TRIAGE_VARIANTS)
               + "; " + " / ".join(f"{m['before_' + k + '_cpu_ratio']:.2f}x" for k in TRIAGE_VARIANTS),
               "reported", None)] if "before_list_ratio" in m else []),
        Row(f"  the four above against loops given the raw keys (no argon2id unlock) ({n})", raw, "reported", None),
        Row(f"  seconds: list / --jobs 1 / --reopen / --reopen --jobs 1 / bare cache / bare envelopes ({n})",
            " / ".join(f"{m[k + '_seconds']:.1f}" for k in ("list", "list_one_process", "reopen",
                                                             "reopen_one_process", "bare_cache", "bare")),
            "reported", None),
        Row(f"triage list --json peak memory, all processes ({n})", f"{m['list_peak_mib']:.0f} MiB", "<= 1024 MiB",
            m["list_peak_mib"] <= 1024),
        Row(f"  --reopen peak memory ({n})", f"{m['reopen_peak_mib']:.0f} MiB", "<= 1024 MiB",
            m["reopen_peak_mib"] <= 1024),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=100_000, help="requests to build and import")
    parser.add_argument("--rounds", type=int, default=1, help="alternating timing rounds (best is reported)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="where the built store is kept for later runs (default: a folder per count under /tmp)",
    )
    parser.add_argument("--bare", nargs=2, metavar=("BUNDLE", "SECRET"), help=argparse.SUPPRESS)
    parser.add_argument("--bare-cache", nargs=3, metavar=("STORE", "KEY", "FINGERPRINT"), help=argparse.SUPPRESS)
    parser.add_argument("--unlock", nargs=2, type=Path, metavar=("KEYFILE", "PASSFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unlock = (args.unlock[0], args.unlock[1]) if args.unlock else None
    if args.bare:
        print(bare_loop(Path(args.bare[0]), Path(args.bare[1]), unlock))
        return 0
    if args.bare_cache:
        print(bare_cache_loop(Path(args.bare_cache[0]), Path(args.bare_cache[1]), args.bare_cache[2], unlock))
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    try:
        m = measure(args.count, args.cache or default_cache(args.count), scratch, args.rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(m, indent=2))
    report = rows(m)
    print_rows(f"triage benchmark (machine load {os.getloadavg()[0]:.1f})", report)
    return 0 if all(r.ok is not False for r in report) else 1


if __name__ == "__main__":
    raise SystemExit(main())
