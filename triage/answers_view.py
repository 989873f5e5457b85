"""What a request was asked with: its questionnaire, found once, and its answers keyed by field id.

Every face (list, show, CSV, JSON, the desks) and the policy read a request through ``AnswerReader.read``:

* schema 1 and 2 payloads were made with the built-in form, ``evacuation-request``: their fields already
  sit at the top of the payload under the questionnaire's field ids;
* a schema 3 payload names its questionnaire (id, version, SHA-256 of the canonical file) and keeps its
  answers under ``answers``. The reader asks a lookup for exactly that version (the built-ins, and once
  a caseworker accepted them, the versions bundles carried: ``triage.questionnaires``), checks the answers
  against it, and lays them out at the top level as for schema 2, so that a field id means one thing
  everywhere (field ids never collide with the payload's own keys: crypto.questionnaire.RESERVED_IDS).

A questionnaire the laptop does not hold, or answers that do not fit the one they name, never stop a
listing: the case is shown with its raw field ids and a warning (``Asked.warning``), and never with the
words of another version, which could misstate what the person was asked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crypto.answers import builtin_lookup, normalize_answers, shipped
from crypto.errors import MalformedError
from crypto.questionnaire import Questionnaire
from triage.i18n import N_

Lookup = Callable[[str, int, str], "Questionnaire | None"]
SHIPPED = "evacuation-request"  # the form schema 1 and 2 requests were made with
PAYLOAD_ONLY = ("questionnaire", "answers")  # what the flat request leaves out (it is in ``Asked.ref``)

UNKNOWN = N_(
    "This request was made with a questionnaire this laptop does not hold (%(id)s, version %(version)s): its "
    "answers are shown with their field ids, not the words the person saw. Accept that questionnaire version "
    "when an import offers it."
)
MISFIT = N_(
    "These answers do not fit the questionnaire they name (%(id)s, version %(version)s): they are shown with "
    "their field ids. Treat the request with care and tell the operator."
)


def store_lookup(store: Any) -> Lookup:
    """The questionnaires this store's caseworkers accepted, plus the built-ins (``triage.questionnaires``)."""
    try:
        from triage.questionnaires import known_questionnaire  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # a triage without questionnaire versions: the built-ins only
        return builtin_lookup
    return functools.partial(known_questionnaire, store)


def reference(questionnaire: Questionnaire) -> dict[str, Any]:
    return {"id": questionnaire.id, "version": questionnaire.version, "sha256": questionnaire.sha256}


@dataclass(frozen=True)
class Asked:
    """The questionnaire a request was answered on (None: not held, or the answers do not fit it), the
    reference the payload gave (id, version, sha256), and a sentence for the caseworker when words are missing."""

    questionnaire: Questionnaire | None
    ref: Mapping[str, Any]
    warning: str | None = None
    warning_values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def questionnaire_id(self) -> str:
        return str(self.ref.get("id", ""))


def asked_with_shipped() -> Asked:
    """How a schema 1 or 2 request is shown: with the built-in form it was made with."""
    return _shipped_asked()


@functools.cache
def _shipped_asked() -> Asked:
    return Asked(shipped(), reference(shipped()))


class AnswerReader:
    """Resolves each payload's questionnaire through ``lookup`` (once per version) and flattens its answers."""

    def __init__(self, lookup: Lookup = builtin_lookup) -> None:
        self._lookup = lookup
        self._found: dict[tuple[str, int, str], Questionnaire | None] = {}
        self._shipped = asked_with_shipped()

    def questionnaire(self, questionnaire_id: str, version: int, sha256: str) -> Questionnaire | None:
        key = (questionnaire_id, version, sha256)
        if key not in self._found:
            found = self._lookup(*key)
            # A lookup must give exactly the version named: a hash that differs means other words.
            self._found[key] = found if found is not None and (found.id, found.version, found.sha256) == key else None
        return self._found[key]

    def read(self, payload: dict[str, Any]) -> tuple[dict[str, Any], Asked]:
        """The request as every face reads it (the payload's own keys and the answers by field id), and
        what it was asked with. ``payload`` is a decoded request (crypto.decode_request)."""
        if payload.get("schema") != 3:
            return payload, self._shipped  # already flat: no copy per case (this runs for every case listed)
        ref = payload["questionnaire"]
        answers = payload["answers"]
        found = self.questionnaire(ref["id"], ref["version"], ref["sha256"])
        values = {"id": ref["id"], "version": ref["version"]}
        if found is None:
            asked = Asked(None, ref, UNKNOWN, values)
        else:
            try:
                answers = normalize_answers(found, answers)
            except MalformedError:
                asked = Asked(None, ref, MISFIT, values)
            else:
                asked = Asked(found, ref)
        flat = {key: value for key, value in payload.items() if key not in PAYLOAD_ONLY}
        flat.update(answers)
        return flat, asked


def story_field(questionnaire: Questionnaire | None) -> str | None:
    """The field that holds the person's own account: the longest long text (the first of equals)."""
    if questionnaire is None:
        return None
    best = None
    for candidate in questionnaire.fields:
        if candidate.kind == "long_text" and (best is None or (candidate.max_chars or 0) > (best.max_chars or 0)):
            best = candidate
    return None if best is None else best.id


def text_fields(questionnaire: Questionnaire | None, request: Mapping[str, Any]) -> tuple[str, ...]:
    """The free-text answers a search looks in: the questionnaire's text fields (any text, when not held)."""
    if questionnaire is None:
        payload_keys = {"schema", "kind", "locale", "submitted_on", "reply_key"}
        return tuple(k for k, v in request.items() if isinstance(v, str) and k not in payload_keys)
    return tuple(f.id for f in questionnaire.fields if f.kind in ("short_text", "long_text"))
