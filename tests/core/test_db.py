"""after-commit callbacks: run once the outer transaction commits, dropped when it rolls back."""
from __future__ import annotations

from core import db as core_db
from sqlalchemy import text

from core.db import session


def test_callback_survives_a_rolled_back_savepoint(db):
    ran = []
    core_db.on_commit(lambda: ran.append("outer"))
    nested = session.begin_nested()
    nested.rollback()
    assert ran == []
    session.commit()
    assert ran == ["outer"]


def test_callback_dropped_on_rollback(db):
    ran = []
    session.execute(text("SELECT 1"))  # a transaction is open, as in a request that did work
    core_db.on_commit(lambda: ran.append("x"))
    session.rollback()
    session.commit()
    assert ran == []
