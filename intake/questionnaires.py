"""Every questionnaire version the server serves is recorded, so every export can carry them all.

A laptop shows each answer with the words of the questionnaire version the person saw, and stops when a
version it never accepted arrives (invariant 20). For that, the server records the canonical bytes of the
questionnaire it serves (docs/FORMAT.md §12.2) under their SHA-256, the hash the payloads name: at
``intake init`` and whenever the app starts (a changed INTAKE_QUESTIONNAIRE is recorded before the first
person sees it). Nothing is ever removed: an envelope asked with an old version may still be waiting, and
a laptop that missed a version must still be able to read it. ``intake export`` passes all of them to the
bundle (version 5).
"""

from __future__ import annotations

import datetime
import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from crypto.questionnaire import Questionnaire
from crypto.questionnaire_canonical import MAX_CANONICAL_BYTES
from intake.config import ConfigError, IntakeConfig
from intake.tables import questionnaires

if TYPE_CHECKING:
    from intake.storage import Storage

_ALL = select(questionnaires.c.canonical).order_by(questionnaires.c.sha256)


def served_questionnaire(config: IntakeConfig) -> Questionnaire:
    """The questionnaire this server asks people with: INTAKE_QUESTIONNAIRE, else the built-in one (the form's
    own loader, so what is recorded is exactly what is served)."""
    from intake.questionnaire_form import load_configured

    return load_configured(config)


def record(storage: Storage, questionnaire: Questionnaire, day: datetime.date) -> bool:
    """Remember ``questionnaire``'s canonical bytes under its hash; True if this version is new here."""
    data = questionnaire.canonical
    if len(data) > MAX_CANONICAL_BYTES:
        raise ConfigError(f"The questionnaire {questionnaire.id!r} is too large to travel in a bundle: its "
                          f"canonical form is {len(data):,} bytes, at most {MAX_CANONICAL_BYTES:,}. Shorten its "
                          "words.")  # fmt: skip
    sha256 = hashlib.sha256(data).hexdigest()
    known = select(questionnaires.c.sha256).where(questionnaires.c.sha256 == sha256)
    try:
        with storage.reading() as conn:
            if conn.execute(known).first() is not None:
                return False  # every start after the first: a read, no write
    except (OperationalError, ProgrammingError):  # no such table: the code was upgraded, the database not yet
        raise ConfigError("The database is older than this version of intake (it cannot record the questionnaire "
                          "it serves): run `intake init`, which upgrades it, then start again.") from None
    try:
        with storage.writing() as conn:
            if conn.execute(known).first() is not None:
                return False
            conn.execute(insert(questionnaires).values(sha256=sha256, canonical=data, recorded_on=day))
    except IntegrityError:  # another worker started at the same moment and recorded it first
        return False
    return True


def record_served(storage: Storage, config: IntakeConfig, day: datetime.date) -> Questionnaire:
    """Record the questionnaire ``config`` serves (``intake init``, app start); returns it."""
    served = served_questionnaire(config)
    record(storage, served, day)
    return served


def recorded(conn: Connection) -> list[bytes]:
    """The canonical bytes of every version recorded, sorted by hash (what an export carries)."""
    return [bytes(row.canonical) for row in conn.execute(_ALL)]
