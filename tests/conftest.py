"""Test harness: schema built once through Alembic, one rolled-back transaction per test, factory fixtures.

The database is ``ARBOR_TEST_DATABASE_URL`` (PostgreSQL in CI) or a SQLite file. Tests that need PostgreSQL or
Redis use the ``pg_url`` / ``redis_url`` fixtures: they skip when the service is absent, except under CI=true,
where a missing service is an error.
"""
from __future__ import annotations

import itertools
import os

import pytest

from core import db as core_db
from tests import support

PASSWORD = support.PASSWORD


def _require(name: str, reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url():
    """URL of a PostgreSQL server database reserved for tests (created empty per session)."""
    base = os.environ.get("ARBOR_TEST_PG_URL") or os.environ.get("ARBOR_TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        _require("PostgreSQL", "set ARBOR_TEST_PG_URL to run PostgreSQL tests")
    url = support.fresh_pg_database(base, "arbor_pgtests")
    yield url
    support.drop_pg_database(url)


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("ARBOR_TEST_REDIS_URL")
    if not url:
        _require("Redis", "set ARBOR_TEST_REDIS_URL to run Redis tests")
    import redis
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as e:
        _require("Redis", f"Redis at {url} is not reachable: {e}")
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("ARBOR_TEST_DATABASE_URL")
    if url and url.startswith("postgresql"):
        url = support.fresh_pg_database(url, "arbor_tests")
        yield url
        support.drop_pg_database(url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'arbor-test.db'}"


@pytest.fixture(scope="session")
def engine(database_url):
    support.migrate(database_url)
    eng = core_db.make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def app(engine, tmp_path_factory):
    from app import create_app
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(support.test_config(engine, instance))
    return application


@pytest.fixture(autouse=True)
def db(request, engine):
    """Every test runs inside a transaction that is rolled back; commits become SAVEPOINT releases."""
    if "live_server" in request.fixturenames or request.node.get_closest_marker("no_rollback"):
        yield None
        return
    conn = engine.connect()
    trans = conn.begin()
    core_db.session.remove()
    core_db.session_factory.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield core_db.session
    finally:
        core_db.session.remove()
        trans.rollback()
        conn.close()
        core_db.session_factory.configure(bind=engine, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def client(app):
    return app.test_client()


_seq = itertools.count(1)


@pytest.fixture
def make_user(db):
    """make_user(role, node, email=None) → a User with that membership and password ``PASSWORD``."""
    def make(role: str | None = None, node=None, email: str | None = None, name: str = "Test User"):
        return support.make_user(role, node, email or f"user{next(_seq)}@test.arbor.ro", name)
    return make


@pytest.fixture
def tree(db):
    """Two counties (A and B), each with two schools of two units with two classes; see support.build_tree."""
    return support.build_tree()


@pytest.fixture
def login(client):
    """login(user) signs the test client in as ``user`` (through the real login form)."""
    def do(user, c=None):
        return support.login(c or client, user)
    return do
