"""Build the laptop kit on a connected machine: everything `triage` needs, for one Python and platform.

    python3 deploy/laptop_kit.py --out /media/usb/laptop-kit --python-version 3.11 --platform manylinux2014_x86_64
    (or: make laptop-kit KIT=/media/usb/laptop-kit LAPTOP_PYTHON=3.11 LAPTOP_PLATFORM=manylinux2014_x86_64)

The kit folder holds:

    wheels/            the project wheel, every dependency pinned in requirements/laptop.lock (downloaded for
                       the laptop's Python and platform, each checked against the lock's hashes), and pip
    requirements.txt   the lock plus the project wheel's own hash: pip installs nothing that is not listed here
    install.sh         the one command to run on the laptop: checks SHA256SUMS, then installs with no network
    PYTHON_VERSION     the laptop Python this kit is for (install.sh refuses any other)
    SHA256SUMS         the SHA-256 of every file above (`sha256sum -c` format)

Wheels with compiled code (cffi, PyNaCl) only fit one Python version and platform, so both are chosen
explicitly: check `python3 --version` on the laptop. Nothing here is secret; its integrity is: read the
printed checksum of SHA256SUMS to the caseworker on another channel.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "laptop.lock"
SERVER_LOCK = ROOT / "requirements" / "server.lock"
# The [desk] extra (Flask) and what it pulls in, taken with their hashes from the server's lock: the same
# versions the server runs. pip --require-hashes refuses the install if this list ever misses one.
DESK_PACKAGES = ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "blinker")
INSTALL_SH = Path(__file__).resolve().parent / "laptop_install.sh"


class KitError(Exception):
    """The kit cannot be built; the message says why and what to do."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(command, check=False)  # noqa: S603 - our interpreter's pip, arguments built here
    if done.returncode != 0:
        raise KitError(f"pip {args[0]} failed (see its message above); nothing usable was written.")


def locked_blocks(lock_text: str, names: tuple[str, ...]) -> str:
    """The entries for ``names`` (each `name==version \\` with its hash lines) cut from a pip-compile lock."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lock_text.splitlines():
        head = re.match(r"^([A-Za-z0-9_.-]+)==", line)
        if head:
            current = blocks.setdefault(head.group(1).lower(), [])
        elif not line.startswith(" "):
            current = None
        if current is not None:
            current.append(line)
    missing = [n for n in names if n not in blocks]
    if missing:
        raise KitError(f"requirements/server.lock has no {', '.join(missing)}; run `make lock`.")
    return "".join("\n".join(blocks[n]) + "\n" for n in names)


def build(out: Path, python_version: str, platform: str, *, with_desk: bool = False) -> str:
    """Write the kit into ``out`` (new or empty); return the SHA-256 of its SHA256SUMS file."""
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        raise KitError(f"LAPTOP_PYTHON (--python-version) must look like 3.11, not {python_version!r}.")
    if out.exists() and any(out.iterdir()):
        raise KitError(f"{out} is not empty; give a new or empty folder (nothing was overwritten).")
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    # The project wheel: pure Python, fits every laptop.
    pip("wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT))
    (project,) = wheels.glob("evac_intake-*.whl")
    version = project.name.split("-")[1]
    # Every locked dependency, as wheels for the laptop (never built from source there), hash-checked.
    target = ["--only-binary=:all:", "--no-deps", "--python-version", python_version, "--platform", platform,
              "--implementation", "cp"]  # fmt: skip
    locked = LOCK.read_text(encoding="utf-8")
    if with_desk:
        locked += "# the [desk] extra, from requirements/server.lock\n"
        locked += locked_blocks(SERVER_LOCK.read_text(encoding="utf-8"), DESK_PACKAGES)
    (out / "requirements.txt").write_text(locked, encoding="utf-8")
    pip("download", "--quiet", *target, "--require-hashes", "-r", str(out / "requirements.txt"), "-d", str(wheels))
    # pip itself, run from its wheel on the laptop: no python3-venv (ensurepip) needed there.
    pip("download", "--quiet", *target, f"pip=={importlib.metadata.version('pip')}", "-d", str(wheels))
    extra = "[desk]" if with_desk else ""
    requirements = locked + f"evac-intake{extra}=={version} \\\n    --hash=sha256:{sha256(project)}\n"
    (out / "requirements.txt").write_text(requirements, encoding="utf-8")
    (out / "PYTHON_VERSION").write_text(python_version + "\n", encoding="utf-8")
    shutil.copyfile(INSTALL_SH, out / "install.sh")
    (out / "install.sh").chmod(0o755)
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    sums = "".join(f"{sha256(p)}  {p.relative_to(out).as_posix()}\n" for p in files)
    (out / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return sha256(out / "SHA256SUMS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the offline laptop kit for triage (see docs/OPERATIONS.md).")
    parser.add_argument("--out", type=Path, required=True, help="kit folder to create (new or empty)")
    parser.add_argument("--python-version", required=True,
                        help="the laptop's Python, major.minor (Tails 7 and Debian 13: 3.13; Tails 6 and Debian 12: "
                             "3.11); check with `python3 --version` there")  # fmt: skip
    parser.add_argument("--platform", required=True,
                        help="the laptop's wheel platform: manylinux2014_x86_64 for a 64-bit Intel/AMD laptop "
                             "(Tails, Debian), manylinux2014_aarch64 for 64-bit ARM")  # fmt: skip
    parser.add_argument("--with-desk", action="store_true",
                        help="include the desk (`triage desk`: Flask and its libraries, loopback only)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        checksum = build(args.out.resolve(), args.python_version, args.platform, with_desk=args.with_desk)
    except KitError as error:
        print(error, file=sys.stderr)
        return 1
    kit = args.out.resolve()
    desk = " with the desk" if args.with_desk else ""
    print(f"Laptop kit{desk} for Python {args.python_version} on {args.platform}: {kit}")
    print(f"SHA-256 of SHA256SUMS: {checksum}")
    print("Read this checksum to the caseworker on another channel. On the laptop, with no network:")
    print(f"    sha256sum .../{kit.name}/SHA256SUMS   # must print the checksum above")
    print(f"    sh .../{kit.name}/install.sh          # into ~/triage-venv; Tails: ~/Persistent/triage-venv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
