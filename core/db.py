"""SQLAlchemy 2 base, engine and the scoped session every domain package uses.

The session is a plain ``scoped_session``: the web request wrapper and the job runner each commit or roll
back once at their boundary; operations only ``flush()``.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


session_factory = sessionmaker(expire_on_commit=False)
session = scoped_session(session_factory)
_engine: Engine | None = None


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            # Let SQLAlchemy, not pysqlite, emit BEGIN so transactions and SAVEPOINTs behave as documented.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            # IMMEDIATE takes the write lock up front: a transaction that reads and then writes can never fail
            # with "database is locked" because another connection committed in between (it waits instead).
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def configure(url_or_engine) -> Engine:
    """Bind the global session to an engine (made from a URL if needed); returns the engine."""
    global _engine
    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    _engine = engine
    session.remove()
    session_factory.configure(bind=engine)
    return engine


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("core.db.configure() has not been called")
    return _engine


# --- after-commit callbacks: mail and job dispatch happen only once the data they refer to is committed ---

def on_commit(fn) -> None:
    """Run ``fn()`` after the current transaction of the global session commits (dropped on rollback)."""
    session().info.setdefault("after_commit", []).append(fn)


@event.listens_for(session_factory, "after_commit")
def _run_after_commit(sess):
    callbacks = sess.info.pop("after_commit", [])
    for fn in callbacks:
        fn()


@event.listens_for(session_factory, "after_soft_rollback")
def _drop_after_commit(sess, previous_transaction):
    # A rolled-back SAVEPOINT (begin_nested) leaves the outer transaction, and its callbacks, alive.
    if not previous_transaction.nested:
        sess.info.pop("after_commit", None)
