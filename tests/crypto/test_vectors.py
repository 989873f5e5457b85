"""Every known-answer file in tests/vectors/ through our decoders: the outcome the header names, exactly."""

from __future__ import annotations

import base64
import hashlib

import pytest

import crypto
from crypto import filestream
from crypto.envelope import _open_payload
from crypto.request_schema import canonical_json
from tests.vectors.vectorfile import Vector, all_vectors

VECTORS = all_vectors()
ERRORS = {
    "malformed": crypto.MalformedError,
    "unsupported-version": crypto.UnsupportedVersionError,
    "not-recipient": crypto.NotRecipientError,
    "tampered": crypto.TamperedError,
    "unknown-signer": crypto.UnknownSignerError,
    "wrong-server": crypto.WrongServerError,
    "wrong-passphrase": crypto.WrongPassphraseError,
    "weak-kdf": crypto.WeakKdfError,
}


def b2(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def floor(vector: Vector) -> crypto.KdfParams:
    passes, memory_kib = vector.header["kdf-floor"].split()
    return crypto.KdfParams(opslimit=int(passes), memlimit=int(memory_kib) * 1024)


def decode(vector: Vector) -> bytes:
    """Run the decoder the vector's kind names; return the bytes FORMAT.md §9 says to hash on success."""
    h = vector.header
    if vector.kind == "envelope":
        identity = crypto.unlock_identity(base64.b64decode(h["identity"]), h["passphrase"], min_kdf=floor(vector))
        if h.get("decode") == "payload":  # §4.4 steps 1-6
            return canonical_json(crypto.open_envelope(vector.body, identity))
        return _open_payload(vector.body, identity)
    if vector.kind == "request":
        return canonical_json(crypto.decode_payload(vector.body))
    if vector.kind == "reply-key":
        pair = crypto.derive_reply_keypair(vector.body.decode("utf-8"), base64.b64decode(h["reply-secret"]))
        if pair.public.to_b64() != h["reply-public"] or crypto.mailbox_id(pair.public).hex() != h["mailbox"]:
            raise AssertionError("the derived reply key or mailbox differs from the vector's header")
        return pair.public.raw + crypto.mailbox_id(pair.public)
    if vector.kind == "reply":
        pair = crypto.derive_reply_keypair(h["receipt"], base64.b64decode(h["reply-secret"]))
        reply = crypto.open_reply(vector.body, pair)
        opened: dict[str, object] = {"text": reply.text, "written_on": reply.written_on.isoformat()}
        if reply.seq is not None:
            opened["seq"] = reply.seq
        return canonical_json(opened)
    if vector.kind == "file":
        key = base64.b64decode(h["key"])
        facts = filestream.SealedFile(key, int(h["size"]), h["sha256"], len(vector.body), h["blob-sha256"])
        return filestream.open_bytes(vector.body, facts)
    if vector.kind == "server-key":
        return crypto.ServerKey.from_bytes(vector.body).public.raw
    if vector.kind == "private-key":
        identity = crypto.unlock_identity(vector.body, h["passphrase"], min_kdf=floor(vector))
        box_sk, seed = identity.secret_bytes()
        name = identity.name.encode()
        return box_sk + seed + bytes([len(name)]) + name
    if vector.kind == "public-key":
        public = crypto.PublicIdentity.from_text(vector.body)
        return public.box_public + public.sign_public
    server = crypto.ServerPublicKey(base64.b64decode(h["server"]))
    if vector.kind == "bundle":
        bundle = crypto.read_bundle(vector.body, expected_server=server)
        people = b"".join(r.box_public + r.sign_public + r.name.encode() for r in bundle.header.recipients)
        people += b"".join(bundle.header.delivered)
        people += b"".join(r.box_public + r.sign_public + r.name.encode() for r in bundle.header.former)
        people += b"".join(
            b"".join(bytes.fromhex(f.replace("-", "")) for f in e.sealed_to) + e.envelope for e in bundle.entries()
        )
        people += b"".join(bundle.header.questionnaires)  # version 5: the questionnaires, then every blob
        return people + b"".join(blob_id + b"".join(chunks) for blob_id, _, chunks in bundle.blobs())
    if vector.kind == "ack":
        caseworkers = [base64.b64decode(k) for k in h["caseworkers"].split(",")]
        # The registry holds public identities; only the signing key matters to read_ack.
        registered = [_with_signing_key(k) for k in caseworkers]
        ack = crypto.read_ack(vector.body, server=server, caseworkers=registered)
        return b"".join(e.entry_id + e.digest for e in ack.entries) + b"".join(
            r.mailbox + r.container for r in ack.replies
        )
    raise AssertionError(f"unknown vector kind {vector.kind}")


def _with_signing_key(sign_public: bytes) -> crypto.PublicIdentity:
    return crypto.PublicIdentity("registered", b"\x09" * 32, sign_public)


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_vector(vector: Vector) -> None:
    if vector.expect == "success":
        assert b2(decode(vector)) == vector.header["payload-blake2b"]
    else:
        with pytest.raises(ERRORS[vector.expect]) as caught:
            decode(vector)
        # A subclass of the right class is not enough when a sibling class was meant.
        others = [cls for name, cls in ERRORS.items() if name != vector.expect and cls is not ERRORS[vector.expect]]
        assert not any(type(caught.value) is cls for cls in others)


def test_vectors_cover_every_outcome() -> None:
    seen = {(v.kind, v.expect) for v in VECTORS}
    for kind in ("envelope", "request", "private-key", "public-key", "bundle", "ack", "reply", "file"):
        assert (kind, "success") in seen
        assert (kind, "malformed") in seen
        assert (kind, "unsupported-version") in seen
    assert {("reply-key", "success"), ("reply-key", "malformed"), ("reply", "not-recipient")} <= seen
    assert {e for _, e in seen} == {"success", *ERRORS}
