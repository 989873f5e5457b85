"""The throwaway PostgreSQL server really runs, and each test gets its own empty database."""

from __future__ import annotations

import pytest

from tests.realparts import need_module

pytestmark = pytest.mark.postgres

_seen: list[str] = []


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_a_fresh_database(postgres_url: str, run: int) -> None:
    sqlalchemy = need_module("sqlalchemy")
    # Given a database made for this test only
    assert postgres_url.startswith("postgresql+psycopg://")
    assert postgres_url not in _seen
    _seen.append(postgres_url)
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            # Then it holds no table from the other run
            tables = conn.execute(sqlalchemy.text("SELECT count(*) FROM pg_tables WHERE schemaname='public'")).scalar()
            assert tables == 0
            # When a table is written and read back, it is a real PostgreSQL server
            conn.execute(sqlalchemy.text("CREATE TABLE t (v text)"))
            conn.execute(sqlalchemy.text("INSERT INTO t VALUES ('x')"))
            assert conn.execute(sqlalchemy.text("SELECT v FROM t")).scalar() == "x"
            assert "PostgreSQL" in conn.execute(sqlalchemy.text("SELECT version()")).scalar()
    finally:
        engine.dispose()
