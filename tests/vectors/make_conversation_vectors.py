"""Known-answer files for the conversation formats: schema 2 payloads, reply keys, reply containers.

Called by ``make_vectors.main``; kept apart so that each file stays readable. docs/FORMAT.md §3, §10, §11.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable

import nacl.bindings

import crypto
from crypto.binary import encode_day, u8
from crypto.reply import MAGIC, PLAINTEXT_BUCKET
from crypto.request_schema import canonical_json

DAY = datetime.date(2026, 11, 22)
DIGITS = "314159265358979323846264338327"
SECRET = bytes(range(100, 132))
Write = Callable[..., None]


def payloads(write: Write, b2: Callable[[bytes], str], base: dict[str, object]) -> None:
    reply_key = crypto.derive_reply_keypair(DIGITS, SECRET).public.to_b64()
    v2 = {**base, "schema": 2, "kind": "request", "reply_key": reply_key}
    followup = {
        "schema": 2, "kind": "followup", "locale": "ru", "submitted_on": "2026-11-25", "reply_key": reply_key,
        "message": "Да, это я. Звоните после 22:00. 🏳️‍🌈",
    }  # fmt: skip

    def canon(raw: bytes) -> str:
        return b2(canonical_json(crypto.decode_payload(raw)))

    def dump(value: dict[str, object]) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")

    good = crypto.encode_request(v2)
    write("request-success-schema-2", good, kind="request", expect="success", payload_blake2b=canon(good),
          comment="a schema 2 request: kind and reply_key")  # fmt: skip
    answer = crypto.encode_followup(followup)
    write("request-success-followup", answer, kind="request", expect="success", payload_blake2b=canon(answer),
          comment="a follow-up (schema 2, kind followup)")  # fmt: skip
    spaced = json.dumps(followup, indent=1).encode()
    write("request-success-followup-noncanonical", spaced, kind="request", expect="success",
          payload_blake2b=canon(spaced), comment="a follow-up with whitespace and \\u escapes")  # fmt: skip
    faults: list[tuple[str, dict[str, object], str]] = [
        ("kind-missing", {k: v for k, v in v2.items() if k != "kind"}, "schema 2 without kind"),
        ("kind-unknown", {**v2, "kind": "reply"}, "kind is neither request nor followup"),
        ("reply-key-missing", {k: v for k, v in v2.items() if k != "reply_key"}, "schema 2 requests need it"),
        ("reply-key-small-order", {**v2, "reply_key": "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA="},
         "the reply key is a point of order 8"),
        ("reply-key-noncanonical", {**v2, "reply_key": reply_key[:42] + chr(ord(reply_key[42]) ^ 1) + "="},
         "base64 with non-zero unused bits"),
        ("schema-1-with-reply-key", {**base, "reply_key": reply_key}, "reply_key is not a schema 1 key"),
        ("request-with-message", {**v2, "message": "hi"}, "message belongs to a follow-up"),
        ("followup-with-story", {**followup, "story": "x"}, "story belongs to a request"),
        ("followup-empty-message", {**followup, "message": " \n\t"}, "a message of white space only"),
        ("followup-message-too-long", {**followup, "message": "ж" * 4001}, "4,001 characters"),
        ("followup-missing-locale", {k: v for k, v in followup.items() if k != "locale"}, "no default in a follow-up"),
        ("followup-schema-1", {**followup, "schema": 1}, "kind is not a schema 1 key"),
    ]  # fmt: skip
    for name, value, comment in faults:
        write(f"request-malformed-{name}", dump(value), kind="request", expect="malformed", comment=comment)
    write("request-unsupported-version", dump({**v2, "schema": 4}), kind="request", expect="unsupported-version",
          comment="schema 4 (the first schema no reader knows)")  # fmt: skip


def reply_keys(write: Write, b2: Callable[[bytes], str], b64: Callable[[bytes], str]) -> None:
    pair = crypto.derive_reply_keypair(DIGITS, SECRET)
    mailbox = crypto.mailbox_id(pair.public)
    write("reply-key-success", DIGITS.encode(), kind="reply-key", expect="success", reply_secret=b64(SECRET),
          reply_public=pair.public.to_b64(), mailbox=mailbox.hex(), payload_blake2b=b2(pair.public.raw + mailbox),
          comment="body: the 30 receipt digits; reply_pk and mailbox as FORMAT.md §10 derives them")  # fmt: skip
    for name, digits, comment in [
        ("short", DIGITS[:29], "29 digits"),
        ("separators", DIGITS[:5] + " " + DIGITS[5:29], "a space among the digits: callers strip separators"),
        ("non-ascii-digit", DIGITS[:29] + "٣", "an Arabic-Indic digit"),
    ]:
        write(f"reply-key-malformed-{name}", digits.encode(), kind="reply-key", expect="malformed",
              reply_secret=b64(SECRET), comment=comment)  # fmt: skip


def replies(write: Write, b2: Callable[[bytes], str], b64: Callable[[bytes], str]) -> None:
    pair = crypto.derive_reply_keypair(DIGITS, SECRET)
    other = crypto.derive_reply_keypair(DIGITS[::-1], SECRET)
    who = {"receipt": DIGITS, "reply_secret": b64(SECRET)}

    def reply_json(text: str, day: str = "2026-11-24", seq: int | None = 1) -> bytes:
        value: dict[str, object] = {"text": text, "written_on": day}
        if seq is not None:
            value["seq"] = seq
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def raw(data: bytes, *, prefix: int | None = None, dirty: bool = False, version: int = 2) -> bytes:
        padding = bytearray(PLAINTEXT_BUCKET - len(data))
        if dirty:
            padding[-1] = 1
        plaintext = (len(data) if prefix is None else prefix).to_bytes(4, "big") + data + bytes(padding)
        return MAGIC + bytes([version]) + nacl.bindings.crypto_box_seal(plaintext, pair.public.raw)

    text = "Здравствуйте. Мы получили вашу заявку. Ответьте, пожалуйста: где вы сейчас?"
    good = crypto.seal_reply(text, written_on=datetime.date(2026, 11, 24), seq=1, to=pair.public)
    write("reply-success", good, kind="reply", expect="success", payload_blake2b=b2(reply_json(text)),
          comment="version 2; hash: the canonical reply JSON, seq included", **who)  # fmt: skip
    full = "🏳️‍🌈" * 1000
    write("reply-success-4000-characters", crypto.seal_reply(full, written_on=DAY, seq=3, to=pair.public),
          kind="reply", expect="success", payload_blake2b=b2(reply_json(full, DAY.isoformat(), 3)),
          comment="4,000 code points of emoji, 14,000 bytes; the third reply to its case", **who)  # fmt: skip
    loose = b'{ "written_on": "2026-11-24",\n "seq": 2, "text": "\\u0434\\u0430" }'
    write("reply-success-noncanonical", raw(loose), kind="reply", expect="success",
          payload_blake2b=b2(reply_json("да", seq=2)), comment="whitespace and \\u escapes inside",
          **who)  # fmt: skip
    old = raw(reply_json("да", seq=None), version=1)
    write("reply-success-version-1", old, kind="reply", expect="success",
          payload_blake2b=b2(reply_json("да", seq=None)),
          comment="version 1 (no seq) is still read; hash without seq", **who)  # fmt: skip
    write("reply-not-recipient", crypto.seal_reply(text, written_on=DAY, seq=1, to=other.public), kind="reply",
          expect="not-recipient", comment="sealed to another reply key", **who)  # fmt: skip
    flipped = bytearray(good)
    flipped[5000] ^= 0x20
    write("reply-not-recipient-altered", bytes(flipped), kind="reply", expect="not-recipient",
          comment="one bit flipped: a sealed box cannot tell this from another key's container", **who)  # fmt: skip
    write("reply-unsupported-version", good[:4] + b"\x03" + good[5:], kind="reply", expect="unsupported-version",
          comment="version 3", **who)  # fmt: skip
    for name, body, comment in [
        ("magic", b"ITKX" + good[4:], "wrong magic"),
        ("short", good[:-1], "one byte short of the fixed size"),
        ("long", good + b"\x00", "one byte over the fixed size"),
        ("length-prefix", raw(reply_json("hi"), prefix=PLAINTEXT_BUCKET + 1), "L = 16,385 exceeds the bucket"),
        ("padding", raw(reply_json("hi"), dirty=True), "the last padding byte is 1"),
        ("empty-text", raw(reply_json(" ")), "text of white space only"),
        ("text-too-long", raw(reply_json("я" * 4001)), "4,001 characters"),
        ("control-character", raw(reply_json("a\x07b")), "a BEL inside the text"),
        ("bad-day", raw(reply_json("hi", "2026-02-30")), "30 February"),
        ("unknown-key", raw(reply_json("hi")[:-1] + b',"from":"x"}'), "a key outside the three"),
        ("duplicate-key", raw(b'{"seq":1,"text":"a","text":"b","written_on":"2026-11-24"}'), "text twice"),
        ("not-json", raw(b"\xff\xfe"), "not UTF-8"),
        ("seq-missing", raw(reply_json("hi", seq=None)), "version 2 without seq"),
        ("seq-zero", raw(reply_json("hi", seq=0)), "seq counts from 1"),
        ("seq-not-integer", raw(b'{"seq":1.0,"text":"hi","written_on":"2026-11-24"}'), "seq 1.0 is not an integer"),
        ("seq-too-large", raw(reply_json("hi", seq=1_000_001)), "seq above 1,000,000"),
        ("version-1-with-seq", raw(reply_json("hi"), version=1), "seq is not a version 1 key"),
    ]:
        write(f"reply-malformed-{name}", body, kind="reply", expect="malformed", comment=comment, **who)


def return_files(
    write: Write,
    b2: Callable[[bytes], str],
    alice: crypto.Identity,
    server: crypto.ServerKey,
    entries: list[crypto.AckEntry],
    signed: Callable[[bytes, object], bytes],
    trusted: dict[str, str],
) -> None:
    """Version 2 acknowledgements (return files, FORMAT.md §8.2) with replies, and version 1 still read."""
    pair = crypto.derive_reply_keypair(DIGITS, SECRET)
    mailbox = crypto.mailbox_id(pair.public)
    containers = [crypto.seal_reply(t, written_on=DAY, seq=n, to=pair.public)
                  for n, t in enumerate(("Первый ответ.", "Второй."), start=1)]
    replies = [crypto.AckReply(mailbox, c) for c in containers]
    joined = b"".join(e.entry_id + e.digest for e in entries)
    good = crypto.make_ack(entries, identity=alice, server=server.public, bundle_sequence=7, created_on=DAY,
                           replies=replies)  # fmt: skip
    write("ack-success-with-replies", good, kind="ack", expect="success",
          payload_blake2b=b2(joined + b"".join(r.mailbox + r.container for r in replies)),
          comment="two replies to one mailbox, in the order written", **trusted)  # fmt: skip
    old_plain = b'{"text":"Old reply.","written_on":"2026-11-22"}'
    old_container = MAGIC + b"\x01" + nacl.bindings.crypto_box_seal(
        len(old_plain).to_bytes(4, "big") + old_plain + bytes(PLAINTEXT_BUCKET - len(old_plain)), pair.public.raw)
    mixed = [crypto.AckReply(mailbox, old_container), replies[0]]
    write("ack-success-with-version-1-reply", crypto.make_ack(entries, identity=alice, server=server.public,
          bundle_sequence=7, created_on=DAY, replies=mixed), kind="ack", expect="success",
          payload_blake2b=b2(joined + b"".join(r.mailbox + r.container for r in mixed)),
          comment="a reply container of version 1 next to one of version 2: both are carried", **trusted)  # fmt: skip
    head = (b"ITKA" + u8(1) + alice.public.sign_public + server.public.raw + (7).to_bytes(8, "big") + bytes(16)
            + encode_day(DAY) + len(entries).to_bytes(4, "big") + joined)  # fmt: skip
    write("ack-success-version-1", signed(head, alice.sign), kind="ack", expect="success", payload_blake2b=b2(joined),
          comment="a version 1 acknowledgement (no reply count) is still read", **trusted)  # fmt: skip
    v2_head = b"ITKA" + u8(2) + head[5:]

    def body(reply_count: int, reply_bytes: bytes) -> bytes:
        return signed(v2_head + reply_count.to_bytes(4, "big") + reply_bytes, alice.sign)

    one = replies[0].mailbox + replies[0].container
    for name, data, comment in [
        ("reply-count-over-limit", body(1001, b""), "1,001 replies announced: over the bound of 1,000"),
        ("reply-count-disagrees", body(2, one), "two replies announced, one follows"),
        ("no-reply-count", signed(v2_head, alice.sign), "version 2 without its reply count"),
        ("reply-container-magic", body(1, one[:32] + b"ITKX" + one[36:]), "a reply that is not an ITKR container"),
        ("reply-container-short", body(1, one[:-1]), "a reply one byte short"),
        ("entry-count-over-limit", signed(v2_head[:97] + (1_000_001).to_bytes(4, "big"), alice.sign),
         "count 1,000,001 is over the bound, whatever follows"),
    ]:  # fmt: skip
        write(f"ack-malformed-{name}", data, kind="ack", expect="malformed", comment=comment, **trusted)
