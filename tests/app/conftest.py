"""Fixtures shared by the page and API tests: one user per workflow role on the test tree, and a launched campaign
(tests/workflows/conftest.py builds both)."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect

from core.db import session
from tenants import operations
from tests.workflows.conftest import launch, people


@pytest.fixture
def who(tree, make_user):
    return people(tree, make_user)


@pytest.fixture
def campaign(who, tree):
    return launch(who, tree)


@pytest.fixture
def api_client(app):
    """A test client that re-attaches the test's objects after each request (a refused request rolls the shared
    session back and the app removes it, which would leave them detached and expired)."""
    c = app.test_client()
    plain = c.open

    def open_(*args, **kwargs):
        held = list(session.identity_map.values())
        try:
            return plain(*args, **kwargs)
        finally:
            for obj in held:
                if inspect(obj).detached:
                    session.add(obj)
    c.open = open_
    return c


@pytest.fixture
def auth():
    """auth(user, scopes="read write") → the Authorization header of a fresh token (cached per user+scope)."""
    cache = {}

    def make(user, scopes: str = "read write") -> dict:
        if (user.id, scopes) not in cache:
            _tok, raw = operations.issue_token(user, "test", scopes)
            cache[(user.id, scopes)] = {"Authorization": f"Bearer {raw}"}
            session.commit()  # a refused request rolls back to here (commits are savepoint releases in tests)
        return cache[(user.id, scopes)]
    return make
