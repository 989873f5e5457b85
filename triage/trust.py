"""What decides trust in the case store, sealed in one record that a plain edit of the file cannot forge.

The pinned server key, the recipient set the caseworkers accepted, the replay state (the last bundle
imported) and a manifest of every envelope the store holds (how many, and a hash of their ids and
digests: exactly what an acknowledgement will name) live in one ``meta`` row sealed with the store key.
Without that key nobody can write a valid one, so deleting a pin, rewinding the replay check, or adding
or removing an envelope row (which would change what the server is told to forget) is caught the next
time the store is unlocked: a store that holds anything but no trust record, or whose envelopes differ
from the manifest, is *tampered* and nothing is read from it.

What this cannot catch: the whole file replaced by an older copy of itself (sealed by the same key).
That is said in docs/THREAT_MODEL.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

import crypto
from triage.errors import TriageError

TRUST_ROW = "trust"
_CONTEXT = b"meta:trust"


class StoreTamperedError(TriageError):
    """The case store was changed without the store key: nothing in it is trusted or used."""


@dataclass
class TrustState:
    server: str | None = None  # the pinned server key, text form
    last_bundle: dict[str, Any] | None = None  # {"sequence", "digest", "high_water"}
    recipients: list[dict[str, str]] | None = None  # the accepted recipient set: name, box and sign keys (hex)
    count: int = 0
    manifest: str = field(default_factory=lambda: manifest_hash([]))
    # The questionnaire versions a caseworker accepted (SHA-256 hex, in the order accepted; triage.questionnaires).
    questionnaires: list[str] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> TrustState:
        value = json.loads(data)
        return cls(value["server"], value["last_bundle"], value["recipients"], int(value["count"]), value["manifest"],
                   [str(sha) for sha in value.get("questionnaires", [])])  # fmt: skip

    def pinned_server(self) -> crypto.ServerPublicKey | None:
        return None if self.server is None else crypto.ServerPublicKey.from_text(self.server)

    def accepted_recipients(self) -> list[crypto.PublicIdentity] | None:
        if self.recipients is None:
            return None
        return [crypto.PublicIdentity(r["name"], bytes.fromhex(r["box"]), bytes.fromhex(r["sign"]))
                for r in self.recipients]  # fmt: skip

    def accept_recipients(self, keys: list[crypto.PublicIdentity]) -> None:
        self.recipients = [{"name": k.name, "box": k.box_public.hex(), "sign": k.sign_public.hex()} for k in keys]


def manifest_hash(pairs: list[tuple[bytes, bytes]]) -> str:
    hasher = hashlib.blake2b(b"triage manifest v1", digest_size=32)
    for entry_id, digest in sorted(pairs):
        hasher.update(entry_id + digest)
    return hasher.hexdigest()


def current_manifest(db: sqlite3.Connection) -> tuple[int, str]:
    rows = db.execute("SELECT entry_id, digest FROM envelopes UNION ALL SELECT entry_id, digest FROM followups")
    pairs = [(bytes(e), bytes(d)) for e, d in rows]
    return len(pairs), manifest_hash(pairs)


def _holds_anything(db: sqlite3.Connection) -> bool:
    for table in ("envelopes", "followups", "records", "requests", "listing", "meta", "outbox"):
        if db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:  # noqa: S608 (fixed names)
            return True
    return False


def load(db: sqlite3.Connection, key: crypto.StoreKey) -> TrustState:
    """The verified trust state; StoreTamperedError if it is missing from a used store or disagrees with it."""
    row = db.execute("SELECT sealed FROM meta WHERE name = ?", (TRUST_ROW,)).fetchone()
    if row is None:
        if _holds_anything(db):
            raise StoreTamperedError(_TAMPERED)
        return TrustState()
    try:
        state = TrustState.from_bytes(key.open(row[0], context=_CONTEXT))
    except (crypto.CryptoError, ValueError, KeyError, TypeError):
        raise StoreTamperedError(_TAMPERED) from None
    count, manifest = current_manifest(db)
    records = db.execute("SELECT count(*) FROM records").fetchone()[0]
    cases = db.execute("SELECT count(*) FROM envelopes").fetchone()[0]
    if count != state.count or not hmac.compare_digest(manifest, state.manifest) or records < cases:
        raise StoreTamperedError(_TAMPERED)
    return state


def save(db: sqlite3.Connection, key: crypto.StoreKey, state: TrustState) -> None:
    """Seal ``state`` with the manifest of the envelopes as they are now (call inside the write transaction)."""
    state.count, state.manifest = current_manifest(db)
    sealed = key.seal(state.to_bytes(), context=_CONTEXT)
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (TRUST_ROW, sealed))


_TAMPERED = (
    "The case store was changed without your key (a pin, the bundle record or the list of envelopes is "
    "missing or altered). Nothing was read or changed. Do not import or acknowledge with it: restore the "
    "store from your backup, or start a new home and import again, and tell your colleagues."
)
