"""The audit log: hash chain, verification naming the first broken entry, same-transaction writes, and on
PostgreSQL append-only rows and serialised concurrent appends."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from core import audit
from core import db as core_db
from core.audit import AuditEntry
from core.db import session
from tests import support


def _chain(n: int = 4) -> list[AuditEntry]:
    return [audit.record("test.entry", actor="test", object_type="thing", object_id=i, new={"i": i, "ș": "ț"})
            for i in range(n)]


def _allow_tampering() -> None:
    """On PostgreSQL the triggers refuse any change; the owner may switch them off inside this (rolled back)
    transaction, the way an attacker with the database owner's rights would."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))


def test_a_clean_chain_verifies():
    entries = _chain()
    assert entries[0].prev_hash in (audit.GENESIS, *[h for h in session.scalars(select(AuditEntry.hash))])
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    ok, bad, message = audit.verify()
    assert (ok, bad) == (True, None) and "chain intact" in message


def test_a_tampered_entry_is_named():
    entries = _chain()
    victim = entries[2]
    _allow_tampering()
    session.execute(text("UPDATE audit_entries SET reason = 'nothing happened' WHERE id = :id"), {"id": victim.id})
    ok, bad, message = audit.verify()  # the ORM still holds the old values: verify must read what is stored
    assert (ok, bad) == (False, victim.id)
    assert message.startswith(f"entry {victim.id}:") and "altered" in message


def test_a_rehashed_entry_breaks_the_next_link():
    entries = _chain()
    victim, nxt = entries[1], entries[2]
    _allow_tampering()
    fake = dict(audit._fields(victim), reason="forged")
    session.execute(text("UPDATE audit_entries SET reason = 'forged', hash = :h WHERE id = :id"),
                    {"h": audit._digest(victim.prev_hash, fake), "id": victim.id})
    ok, bad, message = audit.verify()
    assert (ok, bad) == (False, nxt.id) and f"entry {victim.id}" in message


def test_a_deleted_entry_is_named():
    entries = _chain()
    _allow_tampering()
    session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entries[1].id})
    ok, bad, message = audit.verify()
    assert (ok, bad) == (False, entries[2].id)
    assert message.startswith(f"entry {entries[2].id}:") and "removed" in message
    assert f"entry {entries[0].id}" in message


def test_the_cli_names_the_broken_entry(app):
    entries = _chain()
    session.commit()  # the command's app context ends the session: what it should see must be committed
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "chain intact" in result.output
    _allow_tampering()
    session.execute(text("UPDATE audit_entries SET actor = 'someone else' WHERE id = :id"), {"id": entries[0].id})
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"entry {entries[0].id}:" in result.output


def test_entries_roll_back_with_their_transaction():
    from tenants import operations
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    session.commit()  # the test's savepoint: what follows is a transaction of its own
    operations.create_user(email="rolled@back.ro", name="Gone")
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before + 1
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert audit.verify()[0]


def test_stored_values_hash_the_same_after_a_round_trip():
    when = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    e = audit.record("test.values", actor="x" * 100, old={"b": 1, "a": (1, 2), 3: "int key"},
                     new={"when": when, "day": dt.date(2026, 3, 1), "n": 1.5, "text": "Școala „Ion Creangă”"})
    assert e.at.microsecond == 0 and e.at.utcoffset() == dt.timedelta(0)
    assert len(e.actor) == 80
    assert e.new["when"] == when.isoformat() and e.old == {"b": 1, "a": [1, 2], "3": "int key"}
    session.expire_all()
    stored = session.get(AuditEntry, e.id)
    assert audit._digest(stored.prev_hash, audit._fields(stored)) == stored.hash
    assert audit.verify()[0]


def test_record_flushes_a_new_object_to_name_it(tree):
    from tenants.models import Building
    b = Building(unit_id=tree.units["A1.1"].id, name="Corp nou")
    session.add(b)
    e = audit.record("building.create", obj=b)
    assert e.object_id == str(b.id) and b.id is not None


# --- PostgreSQL: a database of their own, so commits and several connections are real ---

@pytest.fixture(scope="module")
def audit_pg(pg_url):
    url = support.fresh_pg_database(pg_url, "arbor_audit")
    support.migrate(url)
    eng = core_db.make_engine(url)
    yield eng
    eng.dispose()
    support.drop_pg_database(url)


@pytest.fixture
def on_pg(db, audit_pg):
    """Bind the global session to the audit database (committing for real) for this test."""
    saved = dict(core_db.session_factory.kw)
    core_db.session.remove()
    core_db.session_factory.configure(bind=audit_pg, join_transaction_mode="conditional_savepoint")
    try:
        yield audit_pg
    finally:
        core_db.session.remove()
        core_db.session_factory.configure(bind=saved["bind"], join_transaction_mode=saved["join_transaction_mode"])


@pytest.mark.postgres
@pytest.mark.parametrize("sql", ["UPDATE audit_entries SET reason = 'x' WHERE id = :id",
                                 "DELETE FROM audit_entries WHERE id = :id",
                                 "TRUNCATE audit_entries"])
def test_the_application_cannot_change_or_remove_entries(on_pg, sql):
    e = audit.record("test.immutable", actor="test")
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(sql), {"id": e.id})
    session.rollback()
    assert session.get(AuditEntry, e.id) is not None
    assert audit.verify()[0]


@pytest.mark.postgres
def test_timestamps_verify_whatever_the_session_time_zone(on_pg):
    audit.record("test.tz", actor="test")
    session.commit()
    session.execute(text("SET TIME ZONE 'Europe/Bucharest'"))
    at = session.execute(select(AuditEntry.at).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    assert at.utcoffset() != dt.timedelta(0)  # PostgreSQL hands the value back in the session's zone
    assert audit.verify()[0]
    session.rollback()


@pytest.mark.postgres
def test_a_second_append_waits_for_the_first_to_commit(on_pg):
    """The advisory lock: B's append blocks while A's transaction holds the chain, then chains onto A's entry."""
    a_recorded, a_may_commit, b_done = threading.Event(), threading.Event(), threading.Event()
    hashes, errors = {}, []

    def a():
        try:
            hashes["a"] = audit.record("test.lock", actor="A").hash
            a_recorded.set()
            a_may_commit.wait(10)
            session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            session.remove()

    def b():
        try:
            a_recorded.wait(10)
            hashes["b_prev"] = audit.record("test.lock", actor="B").prev_hash
            session.commit()
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            b_done.set()
            session.remove()

    ta, tb = threading.Thread(target=a), threading.Thread(target=b)
    ta.start()
    tb.start()
    assert a_recorded.wait(10)
    assert not b_done.wait(0.5), "the second append did not wait for the first transaction"
    a_may_commit.set()
    ta.join(10)
    tb.join(10)
    assert errors == []
    assert hashes["b_prev"] == hashes["a"]
    assert audit.verify()[0]


@pytest.mark.postgres
def test_concurrent_appends_keep_one_chain(on_pg):
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    session.rollback()
    workers, rounds = 4, 10
    barrier = threading.Barrier(workers)
    errors = []

    def work(k: int):
        try:
            for i in range(rounds):
                barrier.wait(10)
                audit.record("test.concurrent", actor=f"worker {k}", new={"i": i})
                time.sleep(0.002)
                session.commit()
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            session.remove()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before + workers * rounds
    ok, bad, message = audit.verify()
    assert ok, message
