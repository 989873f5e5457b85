"""`intake export` and `triage import` of a bundle with files; the import against a bare secretstream loop.

    python -m bench.import_files_bench [--quick] [--mib 2048] [--workdir DIR] [--keep]

A real intake instance (SQLite) holds ``--mib`` MiB of sealed files (25 MiB each, at most 5 per request, as
the server's defaults allow) in its blob rows, tied to their envelopes as an upload ties them. Then, each as a
fresh subprocess with its standard error on a pseudo-terminal (so each shows its progress as an operator and
a caseworker see it):

* export: `intake export --out BUNDLE` (envelopes and files from one snapshot, streamed row by row; bundle
  version 5);
* triage: `triage import BUNDLE` into a fresh copy of a home (verifies the bundle: its entries and its signed
  blob table; reads the entries again, opens every envelope, compares each blob's size and signed SHA-256
  with its manifest, then streams each blob once, checking its SHA-256 as it goes, and keeps it sealed in
  HOME/blobs, fsynced);
* bare: reads the same bundle file once, and for each blob runs libsodium's secretstream pull over its
  chunks and writes the plaintext to a file, fsynced: the least any import that decrypts could do.

Import and bare alternate, each after an ``os.sync()``. Peak memory is reported twice per command: the
process's own VmHWM (its peak resident memory since its exec; ru_maxrss would count the RSS of the large
benchmark process it was spawned from), and the largest sum of resident memory over the process and all
its descendants, sampled every 50 ms from /proc. The export runs `intake export`'s own click command in
the child process (``intake.cli.main``), configured by the ``INTAKE_*`` environment as the console script.
The caseworker key uses the test argon2id cost so that the figure is the import's own memory (the
production unlock alone takes 256 MiB, and frees it). The machine's load average is printed before and
after.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import pty
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nacl.bindings as sodium

import crypto
from bench.common import Row, print_rows
from crypto.filestream import ABYTES, CHUNK, HEADER_SIZE, FileSealer
from crypto.manifest import manifest_entry

TODAY = datetime.date(2026, 12, 2)
PASSPHRASE = "benchmark passphrase, not a secret, for speed only"
FILE_MIB = 25
AD = b"ITKF v1 chunk"


def _home(workdir: Path) -> tuple[Path, Path, crypto.PublicIdentity]:
    from triage.home import Home
    from triage.identities import Keygen

    home = workdir / "home"
    public = Keygen(Home(home), kdf=crypto.KDF_FOR_TESTS_ONLY).create("Bench", PASSPHRASE).public
    passphrase_file = workdir / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    return home, passphrase_file, public


def _server(workdir: Path, public: crypto.PublicIdentity, mib: int) -> tuple[dict[str, str], dict[bytes, bytes]]:
    """An intake instance holding ``mib`` MiB of sealed files in its database; its environment, each blob's key."""
    from intake.blobs import BlobWriter, Stager
    from intake.config import IntakeConfig
    from intake.instance import Instance
    from intake.storage import Storage

    config = IntakeConfig(instance_dir=workdir / "instance")
    Instance(config).initialize()
    storage = Storage(config.database_url)
    storage.add_recipient(public, TODAY)
    stager = Stager(config.instance_dir / "staging").id()
    sizes = [FILE_MIB << 20] * (mib // FILE_MIB) + ([(mib % FILE_MIB) << 20] if mib % FILE_MIB else [])
    seed = os.urandom(1 << 20)
    reply_key = crypto.derive_reply_keypair("1" * 30, bytes(32)).public.to_b64()
    keys = {}
    for at in range(0, len(sizes), 5):
        staged = []
        for size in sizes[at : at + 5]:
            writer = BlobWriter(storage, stager, TODAY, 1 << 62)
            sealer = FileSealer()
            for done in range(0, size, 1 << 20):
                writer.write(sealer.write(seed[: min(1 << 20, size - done)]))
            rest, facts = sealer.finish()
            writer.write(rest)
            writer.close()
            staged.append((writer.blob_id, facts))
            keys[writer.blob_id] = facts.key
        request = {"schema": 2, "kind": "request", "locale": "ru", "submitted_on": TODAY, "danger": "serious",
                   "people": 1, "contact_method": "signal", "contact": "+7 900", "story": "Документы во вложении.",
                   "consent": True, "reply_key": reply_key,
                   "files": [manifest_entry(f, b, f"scan-{at}-{i}.jpg", "image/jpeg")
                             for i, (b, f) in enumerate(staged)]}  # fmt: skip
        storage.seal_and_store(functools.partial(_seal, request), os.urandom(32), TODAY, 1 << 20,
                               files=[b for b, _ in staged])  # fmt: skip
    storage.dispose()
    env = {"INTAKE_INSTANCE_DIR": str(config.instance_dir), "INTAKE_DATABASE_URL": config.database_url}
    return env, keys


def _seal(request: dict[str, Any], recipients: list[crypto.PublicIdentity]) -> bytes:
    return crypto.seal_request(request, for_recipients=recipients)


def _plan(bundle: Path, keys: dict[bytes, bytes]) -> list[tuple[int, int, bytes]]:
    """Where each blob sits in the bundle, for the bare loop (found the way any reader would: by scanning)."""
    located = []
    read = crypto.read_bundle(bundle, expected_server=None)
    offset = bundle.stat().st_size - 64 - 4 - 56 * read.blob_count - read.blob_bytes - 24 * read.blob_count
    for blob_id, size, _ in read.blobs():
        offset += 24
        located.append((offset, size, keys[blob_id]))
        offset += size
    return located


class TreePeak:
    """The largest sum of resident memory of a process and its descendants, sampled from /proc every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree_rss(self) -> int:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
            tree.update(children)
            frontier.extend(children)
        total = 0
        for pid in tree:
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * resource.getpagesize()
            except OSError:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._tree_rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_on_terminal(command: list[str], env: dict[str, str] | None = None) -> dict[str, float | str]:
    """Run ``command`` with standard error on a pseudo-terminal: seconds, peaks (MiB) and what it showed there."""
    master, slave = pty.openpty()
    start = time.perf_counter()
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
                             env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", **(env or {})})  # fmt: skip
    os.close(slave)
    peak = TreePeak(child.pid)
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                piece = os.read(master, 1 << 16)
            except OSError:  # EIO: every end of the terminal is closed
                return
            if not piece:
                return
            shown.extend(piece)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    tree = peak.stop()
    reader.join(10)
    os.close(master)
    text = shown.decode(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed ({child.returncode}): {text[-2000:]}")
    own = [json.loads(line) for line in text.splitlines() if line.startswith('{"vmhwm_kib"')]
    del usage  # ru_maxrss counts the RSS of the parent this child was spawned from: VmHWM is its own
    return {"s": elapsed, "hwm_mib": own[-1]["vmhwm_kib"] / 1024 if own else 0.0, "tree_mib": tree / (1 << 20),
            "shown": text}  # fmt: skip


def bare(bundle: Path, plan: list[tuple[int, int, bytes]], out_dir: Path) -> None:
    """Decrypt every blob of the bundle with secretstream and copy the plaintext to a file, fsynced."""
    with bundle.open("rb") as source:
        for n, (offset, size, key) in enumerate(plan):
            source.seek(offset)
            head = source.read(HEADER_SIZE)
            state = sodium.crypto_secretstream_xchacha20poly1305_state()
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, head[5:], key)
            left = size - HEADER_SIZE
            with (out_dir / f"{n}.bin").open("wb") as out:
                while left:
                    sealed = source.read(min(CHUNK + ABYTES, left))
                    left -= len(sealed)
                    plain, _ = sodium.crypto_secretstream_xchacha20poly1305_pull(state, sealed, AD)
                    out.write(plain)
                out.flush()
                os.fsync(out.fileno())


def _print_peak() -> None:
    """This process's own peak resident memory (VmHWM: since its exec, unlike ru_maxrss, which a child spawned by
    a large parent inherits), as the last line on standard error."""
    status = Path("/proc/self/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print("\n" + json.dumps({"vmhwm_kib": hwm}), file=sys.stderr, flush=True)


def _run_export(out: Path) -> None:
    """`intake export --out OUT`, the console script's own code, in this process (configured by INTAKE_*)."""
    from intake.cli import main

    main(["export", "--out", str(out)], standalone_mode=False)


def _run_import(home: Path, passphrase_file: Path, bundle: Path, fingerprint: str) -> None:
    from triage.app import TriageConfig
    from triage.cli import main

    config = TriageConfig(kdf=crypto.KDF_FOR_TESTS_ONLY, today=lambda: TODAY)
    main(["--home", str(home), "--passphrase-file", str(passphrase_file), "import", "--fingerprint", fingerprint,
          str(bundle)], obj=config, standalone_mode=False)  # fmt: skip


def _updates(text: str, label: str) -> int:
    """How many times the terminal's line was redrawn showing ``label``."""
    return text.count(label)


def measure(mib: int, workdir: Path, rounds: int) -> dict[str, Any]:
    from intake.config import IntakeConfig
    from intake.instance import Instance

    load_before = os.getloadavg()
    home, passphrase_file, public = _home(workdir)
    env, keys = _server(workdir, public, mib)
    fingerprint = Instance(IntakeConfig(instance_dir=Path(env["INTAKE_INSTANCE_DIR"]))).server_key().public.fingerprint
    bundle = workdir / "export.evb"
    me = [sys.executable, "-m", "bench.import_files_bench"]
    os.sync()
    exported = run_on_terminal([*me, "--export", str(bundle)], env)
    shutil.rmtree(env["INTAKE_INSTANCE_DIR"])  # the disk: the bundle, two copies of the files, no database
    plan = _plan(bundle, keys)
    (workdir / "plan.json").write_text(json.dumps([(o, s, k.hex()) for o, s, k in plan]))
    imports, bares, rss, tree, import_updates, bare_tree = [], [], [], [], [], []
    for n in range(rounds):
        fresh = workdir / f"home-{n}"
        shutil.copytree(home, fresh)
        out = workdir / f"bare-{n}"
        out.mkdir()
        runs = [("bare", [*me, "--bare", str(bundle), str(workdir / "plan.json"), str(out)]),
                ("import", [*me, "--import", str(fresh), str(passphrase_file), str(bundle), fingerprint])]
        for side, command in runs if n % 2 == 0 else runs[::-1]:  # alternate which goes first
            os.sync()  # neither side pays for the other's dirty pages
            done = run_on_terminal(command)
            if side == "bare":
                bares.append(float(done["s"]))
                bare_tree.append(float(done["tree_mib"]))
            else:
                imports.append(float(done["s"]))
                rss.append(float(done["hwm_mib"]))
                tree.append(float(done["tree_mib"]))
                import_updates.append(_updates(str(done["shown"]), "Importing"))
        held = sum(p.stat().st_size for p in (fresh / "blobs").rglob("*.blob"))
        assert held >= mib << 20, "the import did not keep the files"
        shutil.rmtree(fresh)
        shutil.rmtree(out)
    return {"mib": mib, "import_s": statistics.median(imports), "bare_s": statistics.median(bares),
            "ratio": statistics.median(i / b for i, b in zip(imports, bares, strict=True)),
            "peak_mib": max(rss), "tree_mib": max(tree), "bare_tree_mib": max(bare_tree),
            "import_updates": min(import_updates), "bundle_mib": bundle.stat().st_size / (1 << 20),
            "export_s": float(exported["s"]), "export_peak_mib": float(exported["hwm_mib"]),
            "export_tree_mib": float(exported["tree_mib"]),
            "export_updates": _updates(str(exported["shown"]), "Writing the bundle"),
            "load_before": load_before[0], "load_after": os.getloadavg()[0],
            "rounds": " ".join(f"{i:.1f}/{b:.1f}" for i, b in zip(imports, bares, strict=True))}  # fmt: skip


def rows(m: dict[str, Any]) -> list[Row]:
    full = m["mib"] >= 1024
    size = f"{m['mib']:.0f} MiB of files"
    return [
        Row(f"load average (1 min) before / after ({size})", f"{m['load_before']:.2f} / {m['load_after']:.2f}",
            "reported", None),
        Row(f"triage import / bare secretstream decrypt-and-copy ({size})", f"{m['ratio']:.2f}x", "<= 1.5x",
            m["ratio"] <= 1.5 if full else None),
        Row(f"  triage import seconds, bare loop seconds ({size})", f"{m['import_s']:.1f} / {m['bare_s']:.1f}",
            "reported", None),
        Row(f"  each round, triage import / bare loop seconds ({size})", str(m["rounds"]), "reported", None),
        Row(f"  ratio of the medians ({size})", f"{m['import_s'] / m['bare_s']:.2f}x", "reported", None),
        Row(f"triage import peak memory, VmHWM of the process ({size})", f"{m['peak_mib']:.0f} MiB", "<= 256 MiB",
            m["peak_mib"] <= 256),
        Row(f"triage import peak memory, process tree sampled ({size})", f"{m['tree_mib']:.0f} MiB", "<= 256 MiB",
            m["tree_mib"] <= 256),
        Row(f"triage import progress bar redraws on the terminal ({size})", f"{m['import_updates']:.0f}",
            ">= 1 (a bar from 500 units: MiB of files and envelopes)",
            m["import_updates"] >= 1 if m["mib"] >= 512 else None),
        Row(f"intake export seconds, bundle MiB ({size})", f"{m['export_s']:.1f} / {m['bundle_mib']:.0f}",
            "reported", None),
        Row(f"intake export peak memory, VmHWM of the process ({size})", f"{m['export_peak_mib']:.0f} MiB",
            "<= 256 MiB", m["export_peak_mib"] <= 256),
        Row(f"intake export peak memory, process tree sampled ({size})", f"{m['export_tree_mib']:.0f} MiB",
            "<= 256 MiB", m["export_tree_mib"] <= 256),
        Row(f"intake export progress lines on the terminal ({size})", f"{m['export_updates']:.0f}", ">= 1",
            m["export_updates"] >= 1),
    ]  # fmt: skip


def collect(quick: bool) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="import-files-bench-"))
    try:
        return rows(measure(64 if quick else 1024, workdir, rounds=2 if quick else 1))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB of files instead of 1 GiB (a smoke run)")
    parser.add_argument("--mib", type=int, default=None, help="MiB of files in the bundle")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--bare", nargs=3, metavar=("BUNDLE", "PLAN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--import", dest="run_import", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        bundle, plan, out = args.bare
        located = [(o, s, bytes.fromhex(k)) for o, s, k in json.loads(Path(plan).read_text())]
        bare(Path(bundle), located, Path(out))
        _print_peak()
        return 0
    if args.run_import:
        home, passphrase_file, bundle, fingerprint = args.run_import
        _run_import(Path(home), Path(passphrase_file), Path(bundle), fingerprint)
        _print_peak()
        return 0
    if args.export:
        _run_export(Path(args.export))
        _print_peak()
        return 0
    mib = args.mib or (64 if args.quick else 1024)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="import-files-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        m = measure(mib, workdir, rounds=args.rounds or (2 if args.quick else 1))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_rows(f"triage import with files ({mib} MiB)", rows(m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
