"""The one place triage reads the process environment; everything else is handed what it needs.

Only a few variables matter, each documented where it is used: TRIAGE_HOME and XDG_DATA_HOME (the home
folder), TRIAGE_LANG and LANG (the language), VISUAL or EDITOR and XDG_RUNTIME_DIR (where free text is
written). Tests pass their own mapping instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def variables() -> Mapping[str, str]:
    return os.environ
