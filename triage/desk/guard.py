"""The desk's checks on where a request came from, and its refusals (one sentence, never a word of a case).

``fetch_refusal(headers, method, may_arrive_from_elsewhere)`` applies the browser's Fetch Metadata
(``Sec-Fetch-Site``, ``-Mode``, ``-Dest``) to every request, GET included:

- a page of the desk may be asked for only by the desk's own pages (``same-origin``) or by the person
  (``none``: the address typed, a bookmark), and only as a top-level page (``Sec-Fetch-Dest: document``),
  never as an image, a frame or a fetch from a page elsewhere;
- the one-time address (``/open``) may also arrive from elsewhere (the redirect file ``triage desk``
  opens is a ``file:`` page, so the browser calls that navigation cross-site), but only as a top-level
  navigation: its code is what vouches for it, and it is good once;
- a request **without** these headers is refused. Every browser the desk supports sends them (Chromium
  since 76, Firefox since 90, so Tor Browser too, Safari since 16.4), also to 127.0.0.1, which browsers
  treat as a secure origin. A client that sends none is either not a browser or one too old to tell an
  image on another site's page from a page the person opened, and for such a browser the desk cannot keep
  its promise; so it is told so in one sentence.

Refused requests never reach a view and never count as use for the idle lock.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from flask import Response, g

from triage.i18n import translator

COOKIE = "triage_desk"
NO_METADATA = 428  # the browser sent no Sec-Fetch headers: not a browser the desk can protect


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def fetch_refusal(
    headers: Mapping[str, str], method: str, *, may_arrive_from_elsewhere: bool = False, may_be_image: bool = False
) -> int | None:
    """The status to refuse with (403, or NO_METADATA), or None if the request may be answered.

    ``may_be_image``: the safe view's rebuilt pictures, which only an ``<img>`` on a page of this desk may ask for.
    """
    site = headers.get("Sec-Fetch-Site")
    mode = headers.get("Sec-Fetch-Mode")
    dest = headers.get("Sec-Fetch-Dest")
    if site is None or mode is None or dest is None:
        return NO_METADATA
    if may_be_image:
        return None if (site, mode, dest, method) == ("same-origin", "no-cors", "image", "GET") else 403
    if dest != "document" or mode != "navigate":
        return 403  # an image, frame, script, fetch or prefetch: the desk serves nothing but its own pages
    if site == "same-origin":
        return None
    if site == "none" and method in ("GET", "HEAD"):
        return None  # the person typed or pasted the address, or used a bookmark
    if may_arrive_from_elsewhere and method in ("GET", "HEAD"):
        return None
    return 403


def refuse(status: int) -> Response:
    t = g.get("t") or translator("en")
    words = {
        400: t.gettext(
            "This address is not the desk. Open the desk from the file or the address that `triage desk` gave you."
        ),
        403: t.gettext(
            "Refused. The desk answers only the pages you open yourself or through its own links, never a request "
            "made by another page."
        ),
        404: t.gettext("There is nothing at this address."),
        413: t.gettext("That was too large for the desk."),
        NO_METADATA: t.gettext(
            "This browser does not say where a request comes from, so the desk cannot tell the pages you open "
            "from requests made by other pages; open the desk in a current Firefox, Tor Browser or Chromium."
        ),
    }.get(status, t.gettext("Something went wrong; nothing was changed."))
    response = Response(words, status=status, mimetype="text/plain")
    response.headers["Vary"] = "Sec-Fetch-Site, Sec-Fetch-Mode, Sec-Fetch-Dest"
    return response
