"""Alembic environment: the database URL comes from the caller (intake.migrate), never from a file."""

from __future__ import annotations

from alembic import context

from intake.storage import make_engine

url = context.config.attributes["database_url"]
engine = make_engine(url)
try:
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None, render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
