"""The database schema as SQLAlchemy Core tables (the migrations in ``migrations/`` create exactly these).

Only ciphertext and day-granular dates are stored. A receipt appears only as its keyed hash.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

envelopes = Table(
    "envelopes",
    metadata,
    Column("id", LargeBinary(16), primary_key=True),
    Column("serial", BigInteger, nullable=False, unique=True),
    Column("envelope", LargeBinary, nullable=False),
    Column("received_on", Date, nullable=False),
)

receipts = Table(
    "receipts",
    metadata,
    Column("lookup", LargeBinary(32), primary_key=True),
    Column("envelope_id", LargeBinary(16), nullable=True, index=True),
    Column("status", String(16), nullable=False),
    Column("status_on", Date, nullable=False),
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

applied_acks = Table(
    "applied_acks",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("applied_on", Date, nullable=False),
)

SERIAL_COUNTER = "serial"
COLLECTED_COUNTER = "collected"
BUNDLE_COUNTER = "bundle"
RECEIVED = "received"
COLLECTED = "collected"
