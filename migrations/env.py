"""Alembic environment: the URL comes from the caller (``flask db upgrade``, tests) or DATABASE_URL."""
import os

from alembic import context
from sqlalchemy import create_engine, pool

from migrations.models import metadata

config = context.config


def _url() -> str:
    return config.attributes.get("url") or os.environ.get("DATABASE_URL") or "sqlite:///instance/arbor.db"


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def _run(conn) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=conn.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
