"""The database schema as SQLAlchemy Core tables (the migrations in ``migrations/`` create exactly these).

Only ciphertext and day-granular dates are stored. A receipt appears only as its keyed hash, a reply only
under the hash of its reply key (its mailbox).

No order within a day (invariant 15): every row is keyed by a random or keyed-hash value, and on SQLite
the tables are ``WITHOUT ROWID``, so there is no insertion-ordered rowid, except ``envelopes``: a 33 KB row
costs much less to insert in a rowid table (revision 0010), and each envelope's rowid is a random 63-bit
value drawn when it is stored (``intake.storage``), never the next number. An envelope gets its serial
only when it is first exported, and the envelopes of one export get theirs in a shuffled order.
"""

from __future__ import annotations

import secrets

from sqlalchemy import BigInteger, Column, Date, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()


def random_rowid() -> int:
    """A stored envelope's SQLite rowid: uniform over 0 .. 2**63 - 1, so rowid order says nothing of arrival
    (a collision, 1 chance in 2**63 for each envelope stored, would fail its group commit: nothing of it
    stored, nobody receipted)."""
    return secrets.randbits(63)

envelopes = Table(
    "envelopes",
    metadata,
    Column("id", LargeBinary(16), primary_key=True),
    # Assigned at first export, in a shuffled order (NULL until then).
    Column("serial", BigInteger, nullable=True, unique=True),
    Column("envelope", LargeBinary, nullable=False),
    Column("received_on", Date, nullable=False),
    # The fingerprints (comma-separated) of the caseworker keys this envelope was sealed to: only an
    # acknowledgement signed by one of them deletes it. NULL for envelopes stored before revision 0004.
    Column("sealed_to", Text, nullable=True),
    # A rowid table on SQLite, with random rowids (see above): ``id`` is its primary key all the same.
)

receipts = Table(
    "receipts",
    metadata,
    Column("lookup", LargeBinary(32), primary_key=True),
    Column("envelope_id", LargeBinary(16), nullable=True, index=True),
    Column("status", String(16), nullable=False),
    Column("status_on", Date, nullable=False),
    sqlite_with_rowid=False,
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

recipients = Table(
    "recipients",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("public_text", Text, nullable=False),
    Column("added_on", Date, nullable=False),
)

# Keys removed from ``recipients`` while some stored envelope was sealed to them: the export names them
# (bundle version 4) so that every entry can still say who can read it. A row leaves when no stored
# envelope names its fingerprint any more (intake.rotation).
former_recipients = Table(
    "former_recipients",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("public_text", Text, nullable=False),
    Column("removed_on", Date, nullable=False),
)

applied_acks = Table(
    "applied_acks",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("applied_on", Date, nullable=False),
    sqlite_with_rowid=False,
)

replies = Table(
    "replies",
    metadata,
    Column("id", LargeBinary(16), primary_key=True),
    Column("mailbox", LargeBinary(32), nullable=False, index=True),
    Column("container", LargeBinary, nullable=False),
    Column("stored_on", Date, nullable=False),
    sqlite_with_rowid=False,
)

# BLAKE2b-32 of every reply container stored, kept for the replies' retention period even after the person
# deleted the reply: each bundle confirms them to the laptops, and a reply carried again is stored once.
reply_digests = Table(
    "reply_digests",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("stored_on", Date, nullable=False),
    sqlite_with_rowid=False,
)

# One-time submission tokens already used (intake.once): a keyed hash and the day it may be forgotten.
used_tokens = Table(
    "used_tokens",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("forget_after", Date, nullable=False),
    sqlite_with_rowid=False,
)

# Every questionnaire version the server served (intake.questionnaires): its canonical bytes (docs/FORMAT.md
# §12.2) under their SHA-256, and the day it was first served. Each export carries them all (bundle version 5).
questionnaires = Table(
    "questionnaires",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("canonical", LargeBinary, nullable=False),
    Column("recorded_on", Date, nullable=False),
    sqlite_with_rowid=False,
)

# Sealed files (crypto.filestream), ciphertext only, in bounded chunk rows (intake.blobs). ``envelope_id`` is
# set, and ``stager`` cleared, in the transaction that stores the envelope whose manifest names the blob;
# until then the blob is staged by the process ``stager`` names. ``size``: the bytes stored so far.
blobs = Table(
    "blobs",
    metadata,
    Column("id", LargeBinary(16), primary_key=True),
    Column("envelope_id", LargeBinary(16), nullable=True, index=True),
    Column("stager", LargeBinary(16), nullable=True, index=True),
    Column("size", BigInteger, nullable=False),
    Column("staged_on", Date, nullable=False),
    sqlite_with_rowid=False,
)

blob_chunks = Table(
    "blob_chunks",
    metadata,
    Column("blob_id", LargeBinary(16), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

SERIAL_COUNTER = "serial"  # the highest serial assigned (at export): the bundle's high-water mark
RECEIVED_COUNTER = "received"  # envelopes ever stored (requests and follow-ups)
COLLECTED_COUNTER = "collected"  # envelopes deleted by acknowledgements
BUNDLE_COUNTER = "bundle"
RECEIVED = "received"
COLLECTED = "collected"
