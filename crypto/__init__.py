"""Sealing evacuation requests, and the signed files that carry them between server and laptop.

What it does
------------
* Caseworker identities: an X25519 key (requests are sealed to it) and an Ed25519 key (acknowledgements
  are signed with it). ``Identity.generate(name)`` makes one; ``lock_identity`` writes the private key file
  under a passphrase (argon2id, then XChaCha20-Poly1305); ``unlock_identity`` reads it back, refusing a file
  whose argon2id cost is below a floor (the production cost unless a test passes its own).
  ``PublicIdentity.to_text()`` / ``PublicIdentity.from_text()`` are the self-signed public key file the
  caseworker hands to the operator; ``.fingerprint`` is what two people read aloud to compare.
* Requests: ``encode_request`` checks a request against schema 1 or 2 and gives the canonical bytes;
  ``seal_request(request, for_recipients=[...])`` encodes, pads and seals it in one step;
  ``open_request(envelope, identity)`` gives the checked request back as a dict.
* Follow-ups (a requester's answer): ``seal_followup`` seals one to exactly the request envelope's size;
  ``open_envelope`` returns whichever payload an envelope holds, and ``payload_kind`` says which.
* Reply keys: ``derive_reply_keypair(receipt_digits, reply_secret)`` gives the requester's X25519 pair
  (the public half goes into a schema 2 payload as ``reply_key``); ``mailbox_id`` names where the server
  files replies to it.
* Replies (laptop -> requester): ``seal_reply(text, written_on=, seq=, to=reply_public)`` gives a container of
  one fixed size (``REPLY_SIZE``); ``open_reply(container, keypair)`` gives the ``Reply`` back.
* The export bundle (server -> laptop): ``write_bundle`` is signed with the server's ``ServerKey`` and,
  given ``recipients=``, signs the server's recipient set in and says per entry (``sealed_to``) who can
  read it; ``read_bundle`` verifies it before handing out a single entry. Given ``questionnaires=`` or
  ``blobs=`` (``ExportBlob``: sealed files, streamed) it is version 5; ``Bundle.blobs()`` streams each file
  once, checked against its signed SHA-256 (``BlobChunks``). A path may be the first of a bundle's parts
  (``crypto.bundle_parts``, for FAT32 sticks).
* The acknowledgement, or return file (laptop -> server): ``make_ack`` is signed by a caseworker
  identity and carries sealed replies (``AckReply``); ``read_ack`` accepts it only from a registered
  caseworker and only for this server, and gives ``Ack.replies`` (empty for a version 1 file).
* ``StoreKey`` encrypts the triage tool's own records (status, notes) at rest.

What it never does
------------------
It never writes a file, never logs, never reads configuration or the environment, and never lets a
caller choose a nonce, a recipient stanza or a primitive. Every failure is a ``CryptoError``; callers
act on the subclass (see ``crypto.errors``). ``docs/FORMAT.md`` specifies every byte.
"""

from crypto.ack import MAX_REPLIES, Ack, AckEntry, AckReply, make_ack, read_ack
from crypto.bundle import Bundle, BundleEntry, BundleHeader, read_bundle
from crypto.bundle_v5 import BlobChunks, ExportBlob
from crypto.bundle_writer import write_bundle
from crypto.envelope import (
    envelope_digest,
    envelope_size,
    open_envelope,
    open_request,
    padded_size,
    seal_followup,
    seal_request,
)
from crypto.errors import (
    CryptoError,
    MalformedError,
    NotRecipientError,
    RequestInvalidError,
    RequestTooLargeError,
    TamperedError,
    UnknownSignerError,
    UnsupportedVersionError,
    WeakKdfError,
    WrongPassphraseError,
    WrongServerError,
)
from crypto.followup import MESSAGE_LIMIT, decode_payload, encode_followup
from crypto.keyfile import (
    KDF_FOR_TESTS_ONLY,
    KDF_PRODUCTION,
    KdfParams,
    lock_identity,
    unlock_identity,
)
from crypto.keys import Identity, PublicIdentity, ServerKey, ServerPublicKey, normalize_fingerprint
from crypto.manifest import MANIFEST_WORST_BYTES, FileEntry, check_manifest, manifest_entry, sanitize_name
from crypto.records import StoreKey
from crypto.reply import REPLY_SIZE, Reply, open_reply, reply_digest, seal_reply
from crypto.reply import TEXT_LIMIT as REPLY_TEXT_LIMIT
from crypto.reply_keys import ReplyKeyPair, ReplyPublicKey, derive_reply_keypair, mailbox_id
from crypto.request_schema import (
    MAX_REQUEST_BYTES,
    SCHEMA_VERSION,
    decode_request,
    encode_request,
    payload_kind,
)

__all__ = [
    "KDF_FOR_TESTS_ONLY",
    "KDF_PRODUCTION",
    "MANIFEST_WORST_BYTES",
    "MAX_REPLIES",
    "MAX_REQUEST_BYTES",
    "MESSAGE_LIMIT",
    "REPLY_SIZE",
    "REPLY_TEXT_LIMIT",
    "SCHEMA_VERSION",
    "Ack",
    "AckEntry",
    "AckReply",
    "BlobChunks",
    "Bundle",
    "BundleEntry",
    "BundleHeader",
    "CryptoError",
    "ExportBlob",
    "FileEntry",
    "Identity",
    "KdfParams",
    "MalformedError",
    "NotRecipientError",
    "PublicIdentity",
    "Reply",
    "ReplyKeyPair",
    "ReplyPublicKey",
    "RequestInvalidError",
    "RequestTooLargeError",
    "ServerKey",
    "ServerPublicKey",
    "StoreKey",
    "TamperedError",
    "UnknownSignerError",
    "UnsupportedVersionError",
    "WeakKdfError",
    "WrongPassphraseError",
    "WrongServerError",
    "check_manifest",
    "decode_payload",
    "decode_request",
    "derive_reply_keypair",
    "encode_followup",
    "encode_request",
    "envelope_digest",
    "envelope_size",
    "lock_identity",
    "mailbox_id",
    "make_ack",
    "manifest_entry",
    "normalize_fingerprint",
    "open_envelope",
    "open_reply",
    "open_request",
    "padded_size",
    "payload_kind",
    "read_ack",
    "read_bundle",
    "reply_digest",
    "sanitize_name",
    "seal_followup",
    "seal_reply",
    "seal_request",
    "unlock_identity",
    "write_bundle",
]
