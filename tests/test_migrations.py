"""The schema is the migrations: one head, and no drift between models and migrations on either engine."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from app.config import ROOT
from migrations.models import metadata
from tests import support


def _script() -> ScriptDirectory:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(cfg)


def test_single_head():
    assert len(_script().get_heads()) == 1


def _assert_no_drift(url: str) -> None:
    support.migrate(url)
    eng = create_engine(url)
    with eng.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        tables = set(inspect(conn).get_table_names())
    eng.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    assert {t.name for t in metadata.sorted_tables} <= tables


def test_sqlite_migrates_without_drift(tmp_path):
    _assert_no_drift(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgresql_migrates_without_drift(pg_url):
    url = support.fresh_pg_database(pg_url, "arbor_migrations")
    try:
        _assert_no_drift(url)
    finally:
        support.drop_pg_database(url)
