"""`triage import` of a bundle with files against a bare secretstream-decrypt-and-copy loop over the same blobs.

    python -m bench.import_files_bench [--quick] [--mib 1024] [--workdir DIR] [--keep]

One bundle (bundle version 5) carries ``--mib`` MiB of sealed files (25 MiB each, at most 5 per request,
as the server's defaults allow). Both sides run as fresh subprocesses, alternating, each writing its
output to the same disk and fsyncing every file:

* triage: `triage import BUNDLE --json` into a fresh copy of a home (verifies the bundle: its entries and
  its signed blob table; reads the entries again, opens every envelope, compares each blob's size and
  signed SHA-256 with its manifest, then streams each blob once, checking its SHA-256 as it goes, and
  keeps it sealed in HOME/blobs, fsynced);
* bare: reads the same bundle file once, and for each blob runs libsodium's secretstream pull over its
  chunks and writes the plaintext to a file: the least any import that decrypts could do.

Peak memory is ru_maxrss of the import process. The caseworker key uses the test argon2id cost so that
the figure is the import's own memory (the production unlock alone takes 256 MiB, and frees it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nacl.bindings as sodium

import crypto
from bench.common import Row, print_rows
from crypto.filestream import ABYTES, CHUNK, HEADER_SIZE, FileSealer
from crypto.manifest import manifest_entry

TODAY = datetime.date(2026, 12, 2)
PASSPHRASE = "benchmark passphrase, not a secret, for speed only"
FILE_MIB = 25
AD = b"ITKF v1 chunk"


def build(workdir: Path, mib: int) -> tuple[Path, Path, Path, list[tuple[int, int, bytes]]]:
    """A home with one key, and a bundle carrying ``mib`` MiB of files; and each blob's (offset, size, key)."""
    from triage.home import Home
    from triage.identities import Keygen

    home = workdir / "home"
    public = Keygen(Home(home), kdf=crypto.KDF_FOR_TESTS_ONLY).create("Bench", PASSPHRASE).public
    passphrase_file = workdir / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    blobs_dir = workdir / "server-blobs"
    blobs_dir.mkdir()
    sizes = [FILE_MIB << 20] * (mib // FILE_MIB) + ([(mib % FILE_MIB) << 20] if mib % FILE_MIB else [])
    files = []
    seed = os.urandom(1 << 20)
    for size in sizes:
        blob_id = os.urandom(16)
        sealer = FileSealer()
        with (blobs_dir / blob_id.hex()).open("wb") as out:
            for at in range(0, size, 1 << 20):
                out.write(sealer.write(seed[: min(1 << 20, size - at)]))
            rest, facts = sealer.finish()
            out.write(rest)
        files.append((blob_id, facts))
    server = crypto.ServerKey.generate()
    reply_key = crypto.derive_reply_keypair("1" * 30, bytes(32)).public.to_b64()
    entries = []
    for serial, at in enumerate(range(0, len(files), 5), start=1):
        chunk = files[at : at + 5]
        request = {"schema": 2, "kind": "request", "locale": "ru", "submitted_on": TODAY, "danger": "serious",
                   "people": 1, "contact_method": "signal", "contact": "+7 900", "story": "Документы во вложении.",
                   "consent": True, "reply_key": reply_key,
                   "files": [manifest_entry(f, b, f"scan-{serial}-{i}.jpg", "image/jpeg")
                             for i, (b, f) in enumerate(chunk)]}  # fmt: skip
        envelope = crypto.seal_request(request, for_recipients=[public])
        entries.append(crypto.BundleEntry(os.urandom(16), serial, envelope, (public.fingerprint,)))

    def export(blob_id: bytes) -> crypto.ExportBlob:
        path = blobs_dir / blob_id.hex()

        def chunks():  # type: ignore[no-untyped-def]
            with path.open("rb") as handle:
                while piece := handle.read(1 << 20):
                    yield piece

        return crypto.ExportBlob(blob_id, path.stat().st_size, chunks)

    bundle = workdir / "export.bundle"
    with bundle.open("wb") as out:
        crypto.write_bundle(out, entries, count=len(entries), server_key=server, sequence=1, high_water=len(entries),
                            created_on=TODAY, recipients=[public], delivered=[],
                            blobs=[export(b) for b, _ in files])  # fmt: skip
    shutil.rmtree(blobs_dir)
    # Where each blob sits in the bundle, for the bare loop (found the way any reader would: by scanning).
    keys = {b: f.key for b, f in files}
    located = []
    read = crypto.read_bundle(bundle, expected_server=server.public)
    offset = bundle.stat().st_size - 64 - 4 - 56 * read.blob_count - read.blob_bytes - 24 * read.blob_count
    for blob_id, size, _ in read.blobs():
        offset += 24
        located.append((offset, size, keys[blob_id]))
        offset += size
    (workdir / "fingerprint").write_text(server.public.fingerprint)
    return home, passphrase_file, bundle, located


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


def _run_import(home: Path, passphrase_file: Path, bundle: Path, fingerprint: str) -> None:
    from triage.app import TriageConfig
    from triage.cli import main

    config = TriageConfig(kdf=crypto.KDF_FOR_TESTS_ONLY, today=lambda: TODAY)
    try:
        main(["--home", str(home), "--passphrase-file", str(passphrase_file), "import", "--fingerprint", fingerprint,
              str(bundle), "--json"], obj=config, standalone_mode=False)  # fmt: skip
    finally:
        print(json.dumps({"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), file=sys.stderr)


def _timed(command: list[str]) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=True)
    elapsed = time.perf_counter() - start
    tail = done.stderr.decode().strip().splitlines()
    return elapsed, json.loads(tail[-1]) if tail and tail[-1].startswith("{") else {}


def measure(mib: int, workdir: Path, rounds: int) -> dict[str, float]:
    home, passphrase_file, bundle, plan = build(workdir, mib)
    (workdir / "plan.json").write_text(json.dumps([(o, s, k.hex()) for o, s, k in plan]))
    fingerprint = (workdir / "fingerprint").read_text()
    me = [sys.executable, "-m", "bench.import_files_bench"]
    imports, bares, rss = [], [], []
    for n in range(rounds):
        fresh = workdir / f"home-{n}"
        shutil.copytree(home, fresh)
        out = workdir / f"bare-{n}"
        out.mkdir()
        runs = [("bare", [*me, "--bare", str(bundle), str(workdir / "plan.json"), str(out)]),
                ("import", [*me, "--import", str(fresh), str(passphrase_file), str(bundle), fingerprint])]
        for side, command in runs if n % 2 == 0 else runs[::-1]:  # alternate which goes first
            os.sync()  # neither side pays for the other's dirty pages
            elapsed, stats = _timed(command)
            if side == "bare":
                bares.append(elapsed)
            else:
                imports.append(elapsed)
                rss.append(stats.get("maxrss_kib", 0) / 1024)
        held = sum(p.stat().st_size for p in (fresh / "blobs").rglob("*.blob"))
        assert held >= mib << 20, "the import did not keep the files"
        shutil.rmtree(fresh)
        shutil.rmtree(out)
    return {"mib": mib, "import_s": statistics.median(imports), "bare_s": statistics.median(bares),
            "ratio": statistics.median(i / b for i, b in zip(imports, bares, strict=True)),
            "peak_mib": max(rss), "bundle_mib": bundle.stat().st_size / (1 << 20)}  # fmt: skip


def rows(m: dict[str, float]) -> list[Row]:
    full = m["mib"] >= 1024
    size = f"{m['mib']:.0f} MiB of files"
    return [
        Row(f"triage import / bare secretstream decrypt-and-copy ({size})", f"{m['ratio']:.2f}x", "<= 1.5x",
            m["ratio"] <= 1.5 if full else None),
        Row(f"  triage import seconds, bare loop seconds ({size})", f"{m['import_s']:.1f} / {m['bare_s']:.1f}",
            "reported", None),
        Row(f"triage import peak memory, ru_maxrss ({size})", f"{m['peak_mib']:.0f} MiB", "<= 256 MiB",
            m["peak_mib"] <= 256),
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
    args = parser.parse_args(argv)
    if args.bare:
        bundle, plan, out = args.bare
        located = [(o, s, bytes.fromhex(k)) for o, s, k in json.loads(Path(plan).read_text())]
        bare(Path(bundle), located, Path(out))
        print(json.dumps({"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), file=sys.stderr)
        return 0
    if args.run_import:
        home, passphrase_file, bundle, fingerprint = args.run_import
        _run_import(Path(home), Path(passphrase_file), Path(bundle), fingerprint)
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
