"""Fixtures shared by the page and API tests: one user per workflow role on the test tree, and a launched campaign
(tests/workflows/conftest.py builds both)."""
from __future__ import annotations

import pytest

from tests.workflows.conftest import launch, people


@pytest.fixture
def who(tree, make_user):
    return people(tree, make_user)


@pytest.fixture
def campaign(who, tree):
    return launch(who, tree)
