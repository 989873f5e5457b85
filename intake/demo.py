"""``python -m intake.demo`` (the README's ``make run``): a local server with a DEMO caseworker key.

On first run it creates ``./demo/``: the server instance (``demo/instance``), a caseworker home made by
``triage keygen`` (``demo/caseworker``: the private key locked with the production argon2id cost) and
the DEMO passphrase in ``demo/DEMO-ONLY-passphrase.txt``. Keeping a passphrase beside its key is only
acceptable because this is a throwaway demo: never do this with a real caseworker key.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from intake.config import IntakeConfig
from intake.instance import Instance
from intake.storage import Storage, today

BANNER = "=" * 72
# The demo's reply (from standard input: a reply never comes from the command line, which history keeps).
DEMO_REPLY = "Мы получили вашу заявку и внимательно её прочитали. Скоро мы снова напишем вам здесь."
WORDS = (
    "amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo", "juniper", "kestrel",
    "lumen", "maple", "nectar", "onyx", "prairie", "quartz", "raven", "sierra", "tundra", "umber", "violet",
    "willow", "yarrow", "zephyr", "canyon", "meadow", "pebble", "lantern", "orchid", "saffron", "thistle",
)  # fmt: skip


def demo_passphrase() -> str:
    # Seven different words: triage keygen's rule is six different words. About 31 bits: a demo, not a real key.
    return "-".join(secrets.SystemRandom().sample(WORDS, 7))


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text + "\n")


def prepare(base: Path) -> tuple[IntakeConfig, Path, Path]:
    """Create the demo instance and the DEMO caseworker once; return config, home and passphrase file."""
    config = IntakeConfig(instance_dir=base / "instance", default_locale="ru")
    home, passphrase_file = base / "caseworker", base / "DEMO-ONLY-passphrase.txt"
    server = Instance(config).initialize()
    storage = Storage(config.database_url)
    try:
        if not (home / "DEMO.pub").exists():
            base.mkdir(parents=True, exist_ok=True)
            if not passphrase_file.exists():
                passphrase = demo_passphrase()
                _write_private(passphrase_file, passphrase)
                print(f"{BANNER}\nDEMO caseworker passphrase (a demo only, printed on purpose): {passphrase}\n{BANNER}")
            print("Creating the DEMO caseworker key (argon2id, 256 MiB: a second or two)...")
            keygen = [sys.executable, "-m", "triage.cli", "--home", str(home), "--passphrase-file",
                      str(passphrase_file), "keygen", "--name", "DEMO"]  # fmt: skip
            subprocess.run(keygen, check=True)  # noqa: S603 - our own interpreter, fixed arguments
        if not storage.recipients():
            from crypto import PublicIdentity

            storage.add_recipient(PublicIdentity.from_text((home / "DEMO.pub").read_bytes()), today())
    finally:
        storage.dispose()
    print(f"Server key fingerprint: {server.fingerprint}")
    return config, home, passphrase_file


def next_steps(base: Path, home: Path, passphrase_file: Path, url: str, bin_dir: Path | None = None) -> str:
    """The round trip, each line ready to paste in a new terminal, repeatable as often as wanted."""
    bin_dir = Path(sys.executable).parent if bin_dir is None else bin_dir
    # The first import checks the server's fingerprint; here the demo reads it from its own instance, where a
    # caseworker would type the one the operator reads to them.
    fingerprint = Instance(IntakeConfig(instance_dir=base / "instance")).server_key().public.fingerprint
    # Quoted, so that a demo folder with a space in its path still pastes as one word per path.
    instance, bundle, ack = (shlex.quote(str(base / name)) for name in ("instance", "export.bundle", "ack.file"))
    triage = f"triage --home {shlex.quote(str(home))} --passphrase-file {shlex.quote(str(passphrase_file))}"
    return "\n".join([
        BANNER,
        "  DEMO ONLY: the caseworker key below is a demo key with its passphrase on disk.",
        BANNER,
        f"  Open {url}ru/ (Russian) or {url}en/ (English) and send a request.",
        "  Then, in another terminal, paste these lines (the first puts intake and triage on your PATH):",
        f"    export PATH={shlex.quote(str(bin_dir))}:\"$PATH\"",
        f"    intake --instance {instance} export --out {bundle} --overwrite",
        f"    {triage} import --fingerprint {fingerprint} {bundle}",
        f"    {triage} list",
        f"    {triage} show ID          # ID: the first column of the list",
        f"    {triage} set ID --status contacted",
        f"    printf '%s\\n' {shlex.quote(DEMO_REPLY)} | {triage} reply ID",
        f"    {triage} ack --out {ack} --overwrite",
        f"    intake --instance {instance} apply-ack {ack}",
        f"  Then open {url}ru/status (or {url}en/status) and type the receipt number the request page showed:",
        "  the reply is there, sealed so that only that receipt opens it.",
        "  --overwrite replaces the file of the previous round: fine in this folder, never on a USB stick",
        "  whose file has not been used yet. Send another request and repeat from `export`.",
        BANNER,
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the intake server locally with a DEMO caseworker key.")
    parser.add_argument("--dir", type=Path, default=Path("demo"), help="demo folder (default: ./demo)")
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default: 8080; 0: any free)")
    parser.add_argument("--prepare-only", action="store_true", help="set up the demo folder, do not serve")
    args = parser.parse_args(argv)
    base = args.dir.resolve()
    config, home, passphrase_file = prepare(base)
    if args.prepare_only:
        print(next_steps(base, home, passphrase_file, f"http://127.0.0.1:{args.port}/"))
        return 0
    from intake.app import create_app
    from intake.devserver import PortError, bind

    try:  # bind first: a taken port is said before any next step is printed
        server = bind(create_app(config), "127.0.0.1", args.port)
    except PortError as error:
        print(f"{error} Choose another port: make run PORT=8081 (or python -m intake.demo --port 8081).",
              file=sys.stderr)  # fmt: skip
        return 1
    print(next_steps(base, home, passphrase_file, f"http://127.0.0.1:{server.port}/"), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
