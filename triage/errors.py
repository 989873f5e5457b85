"""What can go wrong in triage, each with one sentence a caseworker can act on.

Every failure the CLI reports is a ``TriageError`` (ours) or a ``crypto.CryptoError`` (the library's);
``explain`` turns either into the sentence shown to the person. Messages never hold request text,
passphrases or key material.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import crypto
from crypto.bundle_parts import PartsError
from triage.i18n import N_, Translator

if TYPE_CHECKING:
    from triage.i18n import Translator


AND = N_("and")


class TriageError(Exception):
    """A failure with a message that is safe and useful to show as it is.

    ``TriageError(N_("… %(name)s …"), name=value)`` keeps the sentence and its values apart, so that each
    face shows it in the caseworker's language (``explain_in``); without values the message is as written.
    """

    def __init__(self, message: str = "", **values: object) -> None:
        self.sentence, self.values = message, values
        super().__init__(message % values if values else message)

    def in_language(self, t: Translator) -> str:
        return t.gettext(self.sentence, **self.values) if self.values else t.gettext(str(self))


class HomeError(TriageError):
    """The home folder, a key file or the case store is missing or unusable."""


class NoAccessError(TriageError):
    """This caseworker's key has not been given access to the case store yet."""


class PolicyError(TriageError):
    """The priority policy file cannot be used; the message names the place and the fix."""


class ReplayError(TriageError):
    """A bundle older than (or conflicting with) the last one imported: nothing was imported."""


class CaseNotFoundError(TriageError):
    """No case, or more than one case, matches the id given."""


class FingerprintMismatchError(TriageError):
    """The fingerprint typed for the first import is not the bundle signer's: nothing was imported.

    The sentence never holds the signer's fingerprint, not even a part of it (a tired caseworker would
    copy it, and for a planted bundle it is the attacker's key): only which groups differ, counted from
    the left, so a misheard group can be read out again.
    """

    def __init__(self, differing: list[int], groups: int) -> None:
        self.differing, self.groups = differing, groups
        super().__init__(self.in_language(None))

    def in_language(self, t: Translator | None) -> str:
        from triage.i18n import translator

        t = t or translator("en")
        n = len(self.differing)
        if n <= 2:
            return t.ngettext(
                "The fingerprint you typed differs from the one this bundle is signed with in group %(which)s of "
                "%(groups)s (counting from the left); nothing was imported. Ask the operator to read that "
                "group to you again.",
                "The fingerprint you typed differs from the one this bundle is signed with in groups %(which)s of "
                "%(groups)s (counting from the left); nothing was imported. Ask the operator to read those "
                "groups to you again.",
                n, which=f" {t.gettext(AND)} ".join(str(i) for i in self.differing), groups=self.groups,
            )  # fmt: skip
        return t.ngettext(
            "The fingerprint you typed does not match the one this bundle is signed with (%(num)s of %(groups)s "
            "groups differs); nothing was imported. That is more than a slip: the bundle may not come from your "
            "server. Do not import it; call the operator on a channel you trust.",
            "The fingerprint you typed does not match the one this bundle is signed with (%(num)s of %(groups)s "
            "groups differ); nothing was imported. That is more than a slip: the bundle may not come from your "
            "server. Do not import it; call the operator on a channel you trust.",
            n, groups=self.groups,
        )  # fmt: skip


class TemplatedError(TriageError):
    """A refusal whose sentence names values: ``template`` is the catalog's msgid, filled in each language."""

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(template % values)
        self.template, self.values = template, values

    def in_language(self, t: Translator) -> str:
        return t.gettext(self.template) % self.values


def explain_in(error: BaseException, t: Translator) -> str:
    """``explain`` in the caseworker's language; an error that names values translates itself."""
    in_language = getattr(error, "in_language", None)
    if callable(in_language):
        return str(in_language(t))
    if isinstance(error, PartsError):  # a split bundle's part missing, extra or mixed up: which one, in words
        return t.gettext(error.template) % error.values
    return t.gettext(explain(error))


def explain(error: BaseException) -> str:
    """One clear sentence for the person at the keyboard, saying what to do next."""
    if isinstance(error, TriageError):
        return str(error)
    if isinstance(error, crypto.WrongPassphraseError):
        return N_("That passphrase does not open your key. Nothing was changed; try again.")
    if isinstance(error, crypto.WeakKdfError):
        return N_(
            "Your key file is protected more weakly than any key triage makes (it may have been replaced), so it "
            "was not opened; use your own key file from your backup, or make a new key with `triage keygen`."
        )
    if isinstance(error, crypto.UnknownSignerError):
        return N_(
            "This file is signed by a key you have not pinned (it may be forged, or the server key changed); "
            "nothing was imported. Ask the operator to read you the server fingerprint, then run "
            "`triage pin-server FILE` if it matches."
        )
    if isinstance(error, crypto.WrongServerError):
        return N_("This acknowledgement was made for a different server; nothing was changed.")
    if isinstance(error, crypto.TamperedError):
        return N_(
            "The file is damaged, truncated or was altered after it was signed; nothing was imported. "
            "Ask the operator for a fresh export."
        )
    if isinstance(error, crypto.NotRecipientError):
        return N_("This was not sealed to your key; ask the operator whether your public key is registered.")
    if isinstance(error, crypto.UnsupportedVersionError):
        return N_("This file was made by a newer version of the software; update triage and try again.")
    if isinstance(error, crypto.MalformedError):
        return f"This is not a file triage can read ({error}); check that you picked the right file."
    if isinstance(error, crypto.CryptoError):
        return N_("A cryptographic check failed; nothing was changed. Ask for a fresh copy of the file.")
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"Could not read or write a file{where}: {error.strerror or 'input/output error'}."
    return f"An unexpected error ({type(error).__name__}) stopped triage; nothing was changed. Please report it."
