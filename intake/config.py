"""The server's settings: one frozen object, built from ``INTAKE_*`` variables in exactly one place.

Nothing in the package reads the environment except ``IntakeConfig.from_env``; everything else receives
a config object. No setting turns a protection off: testing relaxations live in the test helpers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

LANGUAGES = ("en", "ru")
RTL_LANGUAGES: frozenset[str] = frozenset()  # e.g. "ar", "fa" once translated; <html dir> follows


# Every INTAKE_* variable and the field it sets: docs/OPERATIONS.md's settings table is checked against these
# (tests/intake/test_config.py). INTAKE_INSTANCE_DIR sets ``instance_dir``.
TEXT_SETTINGS = MappingProxyType({"INTAKE_DATABASE_URL": "database_url", "INTAKE_DEFAULT_LOCALE": "default_locale",
                                  "INTAKE_EXIT_URL": "exit_url"})  # fmt: skip
NUMBER_SETTINGS = MappingProxyType({
    # The circuit worker's rules for uploads (intake.upload_stream).
    "INTAKE_UPLOAD_MIN_RATE": "upload_min_rate", "INTAKE_UPLOAD_WINDOW": "upload_window",
    "INTAKE_UPLOAD_MAX_BYTES": "upload_max_bytes", "INTAKE_UPLOADS_AT_ONCE": "uploads_at_once",
    "INTAKE_MAX_PENDING": "max_pending", "INTAKE_MAX_BODY_BYTES": "max_body_bytes", "INTAKE_CSRF_HOURS": "csrf_hours",
    "INTAKE_CIRCUIT_PER_MINUTE": "circuit_per_minute", "INTAKE_GLOBAL_PER_MINUTE": "global_per_minute",
    "INTAKE_REPLY_DAYS": "reply_days", "INTAKE_FOLLOWUPS_PER_DAY": "followups_per_day",
    "INTAKE_FILES_MAX": "files_max", "INTAKE_FILE_MAX_BYTES": "file_max_bytes",
    "INTAKE_FILES_MAX_BYTES": "files_max_bytes", "INTAKE_PENDING_MAX_BYTES": "pending_max_bytes",
})  # fmt: skip
FLAG_SETTINGS = MappingProxyType({"INTAKE_SECURE_COOKIES": "secure_cookies", "INTAKE_FILES": "files_enabled"})
MAX_FILES = 5  # the manifest format's bound (crypto.manifest.MAX_FILES)
# A file the server reads at start: the questionnaire (unset: the built-in evacuation-request, issue 23).
PATH_SETTINGS = MappingProxyType({"INTAKE_QUESTIONNAIRE": "questionnaire_path"})


def settings() -> dict[str, str]:
    """Every INTAKE_* variable ``from_env`` reads, and the field it sets."""
    return {"INTAKE_INSTANCE_DIR": "instance_dir", **TEXT_SETTINGS, **NUMBER_SETTINGS, **FLAG_SETTINGS, **PATH_SETTINGS}


class ConfigError(ValueError):
    """A setting is missing or not usable; the message names the variable."""


@dataclass(frozen=True)
class IntakeConfig:
    instance_dir: Path
    database_url: str = ""
    default_locale: str = "ru"
    exit_url: str = "https://yandex.ru/pogoda"
    max_pending: int = 20_000
    max_body_bytes: int = 256 * 1024
    max_form_parts: int = 64
    # An upload (a form with files) is read as a stream: at least this many bytes a second on average over
    # any window of this many seconds, at most this many bytes in all (50 MiB of files, plus the text and
    # the multipart framing), and this many at once per worker process (at most half its threads).
    upload_min_rate: int = 4096
    upload_window: int = 30
    upload_max_bytes: int = 51 * 1024 * 1024
    uploads_at_once: int = 4
    csrf_hours: int = 6
    secure_cookies: bool = False
    # Soft limits per worker process: submissions (and status look-ups) per minute.
    circuit_per_minute: int = 6
    # 60 a minute per worker is far above any real demand, and keeps a flood from filling the pending cap
    # (20,000) in less than hours: 2 workers x 60 = 120 a minute, about 2 h 45 min (bench/flood_bench.py).
    global_per_minute: int = 60
    # Follow-ups one receipt may send a day (per worker process, counted in memory only).
    followups_per_day: int = 10
    # Replies not deleted by the person are deleted this many days after they reached the server.
    reply_days: int = 60
    languages: tuple[str, ...] = field(default=LANGUAGES)
    # The questionnaire file (docs/FORMAT.md §12); None: the built-in evacuation-request.
    questionnaire_path: Path | None = None
    # Files with a request or follow-up (issue 24): on unless INTAKE_FILES=off; at most files_max files, each
    # at most file_max_bytes, all of them at most files_max_bytes. pending_max_bytes: the blob bytes stored
    # (staged, or waiting to be exported and acknowledged) past which the server takes no more files.
    files_enabled: bool = True
    files_max: int = 5
    file_max_bytes: int = 25 * 1024 * 1024
    files_max_bytes: int = 50 * 1024 * 1024
    pending_max_bytes: int = 4 * 1024 * 1024 * 1024

    def __post_init__(self) -> None:
        object.__setattr__(self, "instance_dir", Path(self.instance_dir))
        if self.questionnaire_path is not None:
            object.__setattr__(self, "questionnaire_path", Path(self.questionnaire_path))
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{Path(self.instance_dir).resolve() / 'intake.db'}")
        if self.default_locale not in self.languages:
            raise ConfigError(f"INTAKE_DEFAULT_LOCALE must be one of {', '.join(self.languages)}")
        if not self.exit_url.startswith(("https://", "http://")):
            raise ConfigError("INTAKE_EXIT_URL must be an http(s) address")
        for name in ("upload_min_rate", "upload_window", "upload_max_bytes", "uploads_at_once"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name in ("max_pending", "max_body_bytes", "max_form_parts", "csrf_hours", "circuit_per_minute",
                     "global_per_minute", "reply_days", "followups_per_day", "files_max", "file_max_bytes",
                     "files_max_bytes", "pending_max_bytes"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.files_max > MAX_FILES:
            raise ConfigError(f"INTAKE_FILES_MAX must be at most {MAX_FILES}: an envelope's manifest holds no more")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> IntakeConfig:
        """Read every ``INTAKE_*`` variable; ``overrides`` (e.g. from CLI options) win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if "INTAKE_INSTANCE_DIR" in env:
            values["instance_dir"] = Path(env["INTAKE_INSTANCE_DIR"])
        for var, name in TEXT_SETTINGS.items():
            if env.get(var):
                values[name] = env[var]
        for var, name in NUMBER_SETTINGS.items():
            if env.get(var):
                try:
                    values[name] = int(env[var])
                except ValueError:
                    raise ConfigError(f"{var} must be a whole number") from None
        for var, name in FLAG_SETTINGS.items():
            if env.get(var):
                values[name] = env[var].lower() in ("1", "true", "yes", "on")
        for var, name in PATH_SETTINGS.items():
            if env.get(var):
                values[name] = Path(env[var])
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "instance_dir" not in values:
            raise ConfigError("set INTAKE_INSTANCE_DIR (or --instance) to the folder that holds the server's state")
        return cls(**values)  # type: ignore[arg-type]
