"""Seal and open throughput of crypto.seal_request / open_request against bare PyNaCl sealed boxes.

    python -m bench.crypto_bench [--quick]

The baseline seals and opens the same number of bytes (the padded 32 KiB payload) with one
``crypto_box_seal`` call: what any design must pay at least. Ratios above 1 would mean faster than that.
"""

from __future__ import annotations

import argparse

import nacl.bindings

import crypto
from bench.common import Row, interleaved_rate, print_rows
from crypto.envelope import FIXED_BUCKET


def _request() -> dict[str, object]:
    return {
        "schema": 1, "locale": "ru", "submitted_on": "2026-11-22", "danger": "immediate", "people": 2,
        "contact_method": "signal", "contact": "@bench", "story": "Помогите. " * 500, "consent": True,
    }  # fmt: skip


def collect(quick: bool = False) -> list[Row]:
    n, rounds = (30, 3) if quick else (200, 7)
    identity = crypto.Identity.generate("bench")
    public = identity.public
    box_public, box_secret = public.box_public, bytes(identity.box_private_key())
    request = _request()
    envelope = crypto.seal_request(request, for_recipients=[public])
    same_bytes = bytes(FIXED_BUCKET + 4)
    bare_sealed = nacl.bindings.crypto_box_seal(same_bytes, box_public)
    seal_ratio = interleaved_rate(
        lambda: crypto.seal_request(request, for_recipients=[public]),
        lambda: nacl.bindings.crypto_box_seal(same_bytes, box_public),
        n, rounds,
    )  # fmt: skip
    open_ratio = interleaved_rate(
        lambda: crypto.open_request(envelope, identity),
        lambda: nacl.bindings.crypto_box_seal_open(bare_sealed, box_public, box_secret),
        n, rounds,
    )  # fmt: skip
    return [
        Row("crypto seal rate vs bare crypto_box_seal", f"{seal_ratio:.2f}x", "report", None),
        Row("crypto open rate vs bare crypto_box_seal_open", f"{open_ratio:.2f}x", "report", None),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    args = parser.parse_args(argv)
    print_rows("crypto", collect(args.quick))


if __name__ == "__main__":
    main()
