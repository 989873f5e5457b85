"""What the ``intake`` command says about keys removed while envelopes sealed to them wait (intake.rotation).

English only, like the rest of the operator's command line.
"""

from __future__ import annotations

ONLY_THIS_KEY = (
    "{count} waiting envelope(s) can be read only by {fingerprint}; nothing was removed. Export now and have "
    "this caseworker's acknowledgement applied first, or keep the key until then. To remove it anyway, add "
    "--force: those envelopes then stay on the server, left out of every export, until the key is added again "
    "or `intake recipients drop-unreadable --force` deletes them."
)
KEPT_AFTER_REMOVE = (
    "{count} waiting envelope(s) can now be read by no registered key: they stay on the server and out of "
    "exports. Add the key again (`intake recipients add FILE`) to export them, or delete them with "
    "`intake recipients drop-unreadable --force`."
)
DROP_PREVIEW = (
    "{count} waiting envelope(s) can be read by no registered key. Nothing was deleted; add --force to delete "
    "them (the receipts keep saying \"received\")."
)


def kept_lines(unreadable: int, unknown_key: int) -> list[str]:
    lines = []
    if unreadable:
        lines.append(
            f"Kept on the server, not exported: {unreadable} envelope(s) that no registered key can read "
            "(their keys were removed). `intake recipients add FILE` with the old key exports them; "
            "`intake recipients drop-unreadable --force` deletes them."
        )
    if unknown_key:
        lines.append(
            f"Kept on the server, not exported: {unknown_key} envelope(s) sealed also to a removed key whose "
            "public file this server no longer has (removed before this version kept it). Give it back with "
            "`intake recipients add --former OLD.pub` (the caseworker's home still holds OLD.pub): then they "
            "export, and nothing new is sealed to it."
        )
    return lines
