"""The terminal desk: the caseworker's desk for a laptop whose browser cannot reach loopback (Tails).

Why it exists: on Tails, Tor Browser sends every address, 127.0.0.1 included, to tor's SOCKS port
(tor refuses it: "The proxy server is refusing connections"), and the Unsafe Browser runs in a
network namespace without loopback, so `triage desk` cannot be opened in any browser there. This face
runs in the terminal instead (Textual), over the same operations as the command line and the browser
desk (``triage.operations``): the queue, a case (with its notes, trail and conversation), status and
notes, replies, import from the USB stick and the return file.

What it never does: listen on any socket, write anything decrypted to disk, or keep the key after it
closes. Free text (notes, replies) is typed into the screen, never passed through argv. It locks itself
(forgets the key and every decrypted case, and exits) after ``--idle-minutes`` without a key press.
"""

from triage.terminal.app import TerminalDesk

__all__ = ["TerminalDesk"]
