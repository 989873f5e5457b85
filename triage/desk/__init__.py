"""The caseworker's desk: a local web interface over the same encrypted case store as ``triage``.

What it does
------------
``triage desk`` asks for the passphrase once in the terminal, then serves a few pages to the browser
on this laptop: the queue (most urgent first, filters, a search over the decrypted text, counts and a
chart of the last weeks), a case page (the request in the words of the form, the reasons for its level,
status, notes, assignment, the audit trail), and the USB stick page (import a bundle, write the signed
return file). Every page calls ``triage.operations``, exactly as the command line does. English and
Russian, chosen by the caseworker.

What it never does
------------------
It never listens on anything but 127.0.0.1, never answers a path outside its random prefix, a foreign
Host header, a request that is not a top-level page the person or one of its own pages asked for (the
browser's Fetch Metadata, GET included), a browser without the session traded once for the one-time
code in the address it opened (or for the passphrase), or a POST without its CSRF token. It never puts
a word of a case into an address (searches go by POST and stay here behind a random token), never puts
the one-time code into another program's command line, loads nothing from another origin, runs no
script, lets the browser cache nothing, and writes nothing decrypted anywhere: the unlocked key and
the decrypted queue live in this process's memory until the desk locks (after the idle time, or when
asked). Flask is needed only for this (the ``[desk]`` extra); the rest of triage never imports it.
"""

from triage.desk.app import create_app
from triage.desk.state import DeskState

__all__ = ["DeskState", "create_app"]
