"""The profile: details, password change, factors, recovery codes, sessions, tokens; personal data not cached."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import session
from tenants import factors
from tenants.models import User
from tests.support import PASSWORD, login


@pytest.fixture
def teacher(tree, make_user):
    return make_user("teacher", tree.schools["A1"], name="Ana Pop")


def test_the_profile_shows_every_section_and_is_not_cached(client, teacher):
    login(client, teacher)
    r = client.get("/profile")
    page = r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-store"
    for anchor in ('id="details-form"', 'id="password-form"', 'id="factor-list"', 'id="session-list"',
                   'id="end-other-sessions"', "Recovery codes left", 'action="/profile/tokens"'):
        assert anchor in page
    assert 'id="factors-off"' not in page  # staff cannot turn two-step sign-in off


def test_details_are_saved_and_audited(client, teacher):
    login(client, teacher)
    r = client.post("/profile/details", data={"name": "Ana  Maria Pop", "phone": "0722 000 111"})
    assert r.status_code == 302
    user = session.get(User, teacher.id)
    assert (user.name, user.phone) == ("Ana Maria Pop", "0722 000 111")
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "user.update")).scalar()
    assert entry.new == {"name": "Ana Maria Pop", "phone": "0722 000 111"}


@pytest.mark.parametrize("new,message", [("scurta", "at least 12"), ("qwertyuiop123", "too common"),
                                         ("AnaPop-2025!!", "your e-mail address or your name")])
def test_password_change_applies_the_policy(client, teacher, new, message):
    login(client, teacher)
    r = client.post("/profile/password", data={"current": PASSWORD, "new": new, "confirm": new})
    assert r.status_code == 422 and message in r.get_data(as_text=True)


def test_password_change_needs_the_current_password(client, teacher):
    login(client, teacher)
    new = "lampa de pe masa verde"
    r = client.post("/profile/password", data={"current": "not it at all", "new": new, "confirm": new})
    assert r.status_code == 200 and "current password is wrong" in r.get_data(as_text=True)
    r = client.post("/profile/password", data={"current": PASSWORD, "new": new, "confirm": new + "x"})
    assert r.status_code == 422 and "differ" in r.get_data(as_text=True)
    r = client.post("/profile/password", data={"current": PASSWORD, "new": new, "confirm": new})
    assert r.status_code == 302
    client.post("/logout")
    assert login(client, teacher, password=new).status_code == 302
    actions = {e.action for e in session.execute(select(AuditEntry)).scalars()}
    assert {"user.password_change", "user.password_change_failed"} <= actions


def test_recovery_codes_can_be_renewed(client, teacher):
    login(client, teacher)
    r = client.post("/profile/recovery-codes")
    assert r.status_code == 200 and r.get_data(as_text=True).count("<li><code>") == 10
    assert factors.recovery_codes_left(teacher) == 10


def test_staff_remove_a_factor_only_when_another_remains(client, teacher):
    login(client, teacher)
    client.post("/profile/factors/totp/remove")
    assert factors.factor(teacher, "totp") is not None
    factors.enrol(teacher, "email", destination=teacher.email)
    login(client, teacher)  # the enrolment above ended the session
    assert client.post("/profile/factors/totp/remove").status_code == 302
    assert factors.factor(teacher, "totp") is None
    assert client.get("/profile").status_code == 200  # this session goes on
