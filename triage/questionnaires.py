"""The questionnaire versions this laptop knows: carried by bundles, accepted by a caseworker on purpose.

What a new version changes is worked out and worded in ``triage.questionnaire_changes``.

Invariant 20: every answer is shown with the words of the questionnaire version the person saw, and a
new version stops the import until a caseworker accepts it. A bundle (version 5) carries, signed, the
canonical bytes of every questionnaire version the server ever served. On import each is read with the
strict canonical reader (``crypto.questionnaire_canonical``): its SHA-256 is the hash the payloads name.
A version that is neither built in nor accepted stops the import (nothing is imported); it is kept in the
store as *waiting*, and the stop shows what changed against the last accepted version of the same
questionnaire, loudest where the server now asks something new (a new field, a question re-worded, a
field that changed kind). ``triage questionnaire accept PREFIX`` (or the desk's button) accepts it.

Storage, like the pinned recipient set: the list of accepted hashes lives in the sealed trust record
(``triage.trust``), so an edit of the file cannot accept a version; each version's bytes live in the
``questionnaires`` table sealed with the store key under a context naming its hash, and are checked
against that hash whenever they are read. A waiting version is only stored bytes: it decides nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import sqlite3
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import crypto
from crypto.answers import shipped
from crypto.questionnaire import BUILTIN, Questionnaire, QuestionnaireError
from crypto.questionnaire_canonical import load_canonical
from triage.errors import TriageError
from triage.i18n import N_, Translator, translator
from triage.questionnaire_changes import NewVersion, change_lines, compare
from triage.store import CaseStore
from triage.trust import StoreTamperedError

MIN_PREFIX = 8
BUILT_IN, ACCEPTED, WAITING = "built-in", "accepted", "waiting"
_PARSED: weakref.WeakKeyDictionary[CaseStore, dict[str, Questionnaire]] = weakref.WeakKeyDictionary()


def _context(sha256: str) -> bytes:
    return b"questionnaire:" + sha256.encode("ascii")


@functools.cache
def builtins() -> dict[str, Questionnaire]:
    """The questionnaires shipped with the package, by hash: accepted without asking."""
    return {q.sha256: q for q in map(shipped, BUILTIN)}


class QuestionnaireRefusedError(TriageError):
    """A bundle carries a questionnaire that cannot be read: nothing was imported."""


class QuestionnaireChangedError(TriageError):
    """A bundle carries questionnaire versions no caseworker accepted yet: nothing was imported."""

    def __init__(self, versions: Sequence[NewVersion]) -> None:
        self.versions = tuple(versions)
        super().__init__(self.in_language(translator("en")))

    def in_language(self, t: Translator) -> str:
        lines = [t.gettext("STOP: the server now asks other questions than the ones you accepted. Nothing was "
                           "imported.")]  # fmt: skip
        for version in self.versions:
            lines.append("")
            lines += [("!! " if loud else "   ") + text for loud, text in change_lines(version, t)]
        lines.append("")
        lines.append(t.gettext(
            "Check with your colleagues and the operator that this questionnaire is the one your organisation "
            "chose; only then accept it with `triage questionnaire accept %(prefix)s` and import again. A new "
            "question you did not expect may be how someone learns what they should not.",
            prefix=" ".join(v.questionnaire.sha256[:16] for v in self.versions),
        ))  # fmt: skip
        return "\n".join(lines)


@dataclass(frozen=True)
class Version:
    questionnaire: Questionnaire
    state: str  # BUILT_IN, ACCEPTED or WAITING


# -- reading what the store holds -------------------------------------------------------------------


def _open_row(store: CaseStore, sha256: str, sealed: bytes) -> Questionnaire:
    cached = _PARSED.setdefault(store, {})
    if sha256 in cached:
        return cached[sha256]
    try:
        data = store.unlocked_key().open(bytes(sealed), context=_context(sha256))
        if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), sha256):
            raise StoreTamperedError(_TAMPERED)
        made = load_canonical(data)
    except (crypto.CryptoError, QuestionnaireError):
        raise StoreTamperedError(_TAMPERED) from None
    cached[sha256] = made
    return made


def _stored(store: CaseStore, sha256: str) -> Questionnaire | None:
    row = store.db.execute("SELECT sealed FROM questionnaires WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else _open_row(store, sha256, row[0])


def _accepted(store: CaseStore) -> list[str]:
    return list(store.trust.questionnaires)


def is_accepted(store: CaseStore, sha256: str) -> bool:
    return sha256 in builtins() or sha256 in store.trust.questionnaires


def accepted_questionnaires(store: CaseStore) -> dict[str, Questionnaire]:
    """Every version a payload may name, by hash: the built-in ones, then those accepted, in that order."""
    found = dict(builtins())
    for sha256 in _accepted(store):
        made = _stored(store, sha256)
        if made is None:  # accepted in the sealed record, gone from the table: someone deleted it
            raise StoreTamperedError(_TAMPERED)
        found[sha256] = made
    return found


def known_questionnaire(store_or_session: Any, id: str, version: int, sha256: str) -> Questionnaire | None:
    """The accepted (or built-in) questionnaire a payload names, or None if this laptop does not know it.

    ``store_or_session`` is an unlocked ``CaseStore`` or anything with one as ``.store`` (a Session): the
    stored versions are sealed with the store key. All three of id, version and hash must match. Safe to
    call in a forked list worker (it never uses the store's own connection); ``lookup_for`` reads them all
    up front instead.
    """
    store = store_or_session if isinstance(store_or_session, CaseStore) else store_or_session.store
    if not isinstance(sha256, str):
        return None
    made = builtins().get(sha256)
    if made is None and sha256 in store.trust.questionnaires:
        made = _PARSED.get(store, {}).get(sha256) or _read_alone(store, sha256)
    if made is None or made.id != id or made.version != version:
        return None
    return made


def _read_alone(store: CaseStore, sha256: str) -> Questionnaire:
    """One stored version through a connection of its own, read-only: safe in a list worker after a fork,
    where the store's own SQLite connection must not be used."""
    db = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT sealed FROM questionnaires WHERE sha256 = ?", (sha256,)).fetchone()
    finally:
        db.close()
    if row is None:  # accepted in the sealed record, gone from the table: someone deleted it
        raise StoreTamperedError(_TAMPERED)
    return _open_row(store, sha256, row[0])


def lookup_for(store_or_session: Any) -> Callable[[str, int, str], Questionnaire | None]:
    """``known_questionnaire`` over a snapshot of the accepted versions, taken now: memory only afterwards.

    For the case views and the parallel list workers (which must not touch the parent's SQLite connection
    after a fork): the accepted versions are read and checked once, here, in the parent.
    """
    store = store_or_session if isinstance(store_or_session, CaseStore) else store_or_session.store
    known = accepted_questionnaires(store)

    def lookup(id: str, version: int, sha256: str) -> Questionnaire | None:
        made = known.get(sha256) if isinstance(sha256, str) else None
        return made if made is not None and made.id == id and made.version == version else None

    return lookup


def versions(store: CaseStore) -> list[Version]:
    """Every version this laptop knows: built in, accepted, or waiting for a caseworker, oldest first."""
    accepted = accepted_questionnaires(store)
    out = [Version(q, BUILT_IN if sha in builtins() else ACCEPTED) for sha, q in accepted.items()]
    for sha256, sealed in store.db.execute("SELECT sha256, sealed FROM questionnaires ORDER BY sha256"):
        if sha256 not in accepted:
            out.append(Version(_open_row(store, sha256, sealed), WAITING))
    return out


def last_accepted(store: CaseStore, questionnaire_id: str) -> Questionnaire | None:
    """The version of ``questionnaire_id`` accepted last (a built-in one counts as accepted first)."""
    same = [q for q in accepted_questionnaires(store).values() if q.id == questionnaire_id]
    return same[-1] if same else None


# -- import ----------------------------------------------------------------------------------------


def read_carried(carried: Iterable[bytes]) -> list[Questionnaire]:
    """Every questionnaire a bundle carries, read strictly; QuestionnaireRefusedError for one that is not."""
    found: list[Questionnaire] = []
    for n, data in enumerate(carried, 1):
        try:
            found.append(load_canonical(data, source=f"questionnaire {n}"))
        except QuestionnaireError as error:
            raise QuestionnaireRefusedError(
                N_("This bundle carries a questionnaire triage cannot read (%(reason)s). Nothing was imported. Ask "
                   "the operator to check the server's questionnaire (`intake questionnaire check FILE`) and export "
                   "again."), reason=str(error)[:300],
            ) from None  # fmt: skip
    return found


def check_carried(store: CaseStore, carried: Iterable[bytes]) -> dict[str, Questionnaire]:
    """Import's check (inside its transaction): every carried version is accepted, else the import stops.

    Returns every version a payload of this bundle may name (built in, accepted). Raises
    QuestionnaireRefusedError for a questionnaire that cannot be read, QuestionnaireChangedError for
    versions nobody accepted yet (the caller keeps those as waiting, outside the rolled-back transaction).
    """
    found = read_carried(carried)
    new = [q for q in {q.sha256: q for q in found}.values() if not is_accepted(store, q.sha256)]
    if new:
        raise QuestionnaireChangedError([compare(last_accepted(store, q.id), q) for q in new])
    return accepted_questionnaires(store)


@contextlib.contextmanager
def kept_when_stopped(store: CaseStore) -> Iterator[None]:
    """Around the import's transaction: after a stop has rolled it back, keep the new versions as waiting."""
    try:
        yield
    except QuestionnaireChangedError as stop:
        keep_waiting(store, stop)
        raise


def keep_waiting(store: CaseStore, stop: QuestionnaireChangedError) -> None:
    """Store the versions a stopped import brought, sealed, so that they can be shown and accepted."""
    key = store.unlocked_key()
    with store.transaction():
        for version in stop.versions:
            q = version.questionnaire
            store.db.execute("INSERT OR IGNORE INTO questionnaires VALUES (?, ?)",
                             (q.sha256, key.seal(q.canonical, context=_context(q.sha256))))  # fmt: skip


def names_known(payload: Mapping[str, Any], known: Mapping[str, Questionnaire]) -> bool:
    """Whether a request payload's questionnaire (schema 3) is one of ``known``, by id, version and hash.

    Payloads of schema 1 and 2 name none: they were made with the built-in questionnaire.
    """
    reference = payload.get("questionnaire")
    if payload.get("schema") in (1, 2, None) and reference is None:
        return True
    if not isinstance(reference, Mapping):
        return False
    made = known.get(reference.get("sha256"))  # type: ignore[arg-type]
    return made is not None and made.id == reference.get("id") and made.version == reference.get("version")


# -- accepting -------------------------------------------------------------------------------------


def find_version(store: CaseStore, prefix: str) -> Version:
    """The one version this home knows whose hash starts with ``prefix`` (at least 8 hex digits)."""
    wanted = "".join(prefix.split()).lower()
    if len(wanted) < MIN_PREFIX or len(wanted) > 64 or any(ch not in "0123456789abcdef" for ch in wanted):
        raise TriageError(N_("Give at least the first 8 characters of the questionnaire's hash, as "
                             "`triage questionnaire list` shows it."))  # fmt: skip
    matches = [v for v in versions(store) if v.questionnaire.sha256.startswith(wanted)]
    if not matches:
        raise TriageError(N_("No questionnaire version this home knows has a hash that starts like this; "
                             "`triage questionnaire list` shows them."))  # fmt: skip
    if len(matches) > 1:
        raise TriageError(N_("Several questionnaire versions have a hash that starts like this; give more of it."))
    return matches[0]


def find_waiting(store: CaseStore, prefix: str) -> Questionnaire:
    """The one waiting version whose hash starts with ``prefix`` (at least 8 hex digits)."""
    found = find_version(store, prefix)
    if found.state != WAITING:
        raise TriageError(N_("This questionnaire version is accepted already; nothing changed."))
    return found.questionnaire


def accept(store: CaseStore, prefix: str) -> Questionnaire:
    """Accept the waiting version ``prefix`` names, on purpose: the next import no longer stops for it."""
    with store.transaction():
        chosen = find_waiting(store, prefix)
        store.trust.questionnaires.append(chosen.sha256)
        store.save_trust()
    return chosen


def accept_all(store: CaseStore, prefixes: Sequence[str]) -> list[Questionnaire]:
    """Accept every waiting version ``prefixes`` name, all or none (the CLI, after a stop that named several)."""
    with store.transaction():
        chosen = [find_waiting(store, prefix) for prefix in prefixes]
        for q in chosen:
            if q.sha256 not in store.trust.questionnaires:
                store.trust.questionnaires.append(q.sha256)
        store.save_trust()
    return chosen


def waiting_change(store: CaseStore, questionnaire: Questionnaire) -> NewVersion:
    return compare(last_accepted(store, questionnaire.id), questionnaire)


_TAMPERED = N_(
    "The case store was changed without your key (a questionnaire it holds is missing or altered). Nothing was "
    "read or changed. Restore the store from your backup, or start a new home and import again, and tell your "
    "colleagues."
)


def accept_on_desk(store: CaseStore, hashes: Sequence[str]) -> None:
    """The desk's button: accept exactly the waiting versions its stop page showed (full hashes), at once."""
    if hashes:
        with store.transaction():
            for sha256 in hashes:
                chosen = find_waiting(store, sha256)
                if chosen.sha256 != sha256:
                    raise TriageError(N_("That questionnaire version is no longer waiting; import again."))
                store.trust.questionnaires.append(chosen.sha256)
            store.save_trust()
