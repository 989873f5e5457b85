"""What every command shares: the home folder, asking for the passphrase, and the unlocked session.

``TriageConfig`` (``triage.config``) is how a test changes behaviour that production never changes:
pass ``TriageConfig(kdf=crypto.KDF_FOR_TESTS_ONLY, today=...)`` as ``obj`` to click's CliRunner. There
is no environment variable or command-line flag for either. What a command then does with the session
lives in ``triage.operations``.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

import crypto
from triage.config import TriageConfig
from triage.errors import explain_in
from triage.home import Home, read_passphrase_file
from triage.i18n import Translator, translator
from triage.operations import Session, unlock
from triage.passphrase import ask_new_passphrase, read_secret

PASSPHRASE_TRIES = 3
__all__ = ["PASSPHRASE_TRIES", "App", "TriageConfig", "friendly_errors"]


@dataclass
class App:
    config: TriageConfig
    home: Home
    passphrase_file: Path | None
    caseworker: str | None
    lang: str = "en"

    @property
    def t(self) -> Translator:
        """What the commands print, in the caseworker's language (--lang, $TRIAGE_LANG or the locale)."""
        return translator(self.lang)

    def passphrase(self, *, new: bool = False) -> str:
        if self.passphrase_file is not None:
            return read_passphrase_file(self.passphrase_file)
        return ask_new_passphrase() if new else read_secret(self.t.gettext("Passphrase"))

    def identity(self) -> crypto.Identity:
        """Unlock the caseworker's key; someone typing gets three tries, a passphrase file one."""
        self.home.require()  # before asking: no passphrase prompt for a home that does not exist
        tries = 1 if self.passphrase_file is not None else PASSPHRASE_TRIES
        for attempt in range(1, tries + 1):
            try:
                # The cost new keys get is also the floor for reading one: production, unless a test says so.
                return unlock(self.home, self.passphrase(), min_kdf=self.config.kdf, name=self.caseworker)
            except crypto.WrongPassphraseError:
                if attempt == tries:
                    raise
                click.echo(self.t.gettext("That passphrase does not open your key; try again."), err=True)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """Ask for the passphrase, then the operations on the case store unlocked with it; closed after."""
        with Session.open(self.config, self.home, self.identity()) as session:
            yield session


F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(command: F) -> F:
    """One clear sentence on stderr and a non-zero exit for every failure; never a stack trace."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = args[0].t if args and isinstance(args[0], App) else translator("en")
        try:
            return command(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(t.gettext("Stopped. Nothing was changed."), err=True)
            sys.exit(130)
        except sqlite3.Error:
            click.echo(t.gettext("The case store could not be read or written (damaged, full disk, or in use)."),
                       err=True)  # fmt: skip
            sys.exit(1)
        except Exception as error:  # every other failure: a sentence, not a trace
            # The fixed sentences are in the catalogue; a message that names a file or a case stays as written.
            click.echo(explain_in(error, t), err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
