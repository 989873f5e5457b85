"""The desk's refusals: one short sentence in the caseworker's language, never a word of a case."""

from __future__ import annotations

import hmac

from flask import Response, g

from triage.i18n import translator

COOKIE = "triage_desk"


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def refuse(status: int) -> Response:
    t = g.get("t") or translator("en")
    words = {
        400: t.gettext("This address is not the desk. Open the address that `triage desk` printed."),
        403: t.gettext("Refused. Open the desk with the address that `triage desk` printed in the terminal."),
        413: t.gettext("That was too large for the desk."),
    }.get(status, t.gettext("Something went wrong; nothing was changed."))
    return Response(words, status=status, mimetype="text/plain")
