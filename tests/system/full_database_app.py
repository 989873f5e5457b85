"""gunicorn entry point for the database-full test: the real app, plus a test-only size cap on its database.

SQLite's ``max_page_count`` makes the database "full" (SQLITE_FULL, exactly what a full disk gives) without
a special file system. The cap is read from the file named by ``SYSTEM_TEST_PAGE_LIMIT_FILE`` every time a
connection is taken from the pool, so the test can take space away and give it back while the server runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event

from intake.app import create_app
from intake.config import IntakeConfig

LIMIT_FILE = Path(os.environ["SYSTEM_TEST_PAGE_LIMIT_FILE"])

app = create_app(IntakeConfig.from_env())


def _apply_cap(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA max_page_count = {int(LIMIT_FILE.read_text().strip())}")
    cursor.close()


event.listen(app.extensions["intake"].storage.engine, "checkout", _apply_cap)
