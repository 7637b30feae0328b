"""Sessions: a fresh one at each sign-in step, a copied cookie dies at logout / password change / factor change,
other sessions can be signed out, idle and absolute timeouts."""
from __future__ import annotations

import pytest

from app.auth import guard
from tenants import factors
from tests.support import PASSWORD, TOTP_SECRET, login, totp_code

COOKIE = "arbor_session"


def copy_cookie(src, dst):
    dst.set_cookie(COOKIE, src.get_cookie(COOKIE).value, domain="localhost")


@pytest.fixture
def teacher(tree, make_user):
    return make_user("teacher", tree.schools["A1"])


def test_the_session_is_new_after_the_password_and_after_the_factor(client, teacher):
    client.get("/login")  # commits the test data (a session_transaction alone would end the transaction)
    with client.session_transaction() as s:
        s["planted"] = "by someone else"
        s["lang"] = "en"
    client.post("/login", data={"email": teacher.email, "password": PASSWORD})
    with client.session_transaction() as s:
        assert "planted" not in s and "_user_id" not in s and s["lang"] == "en" and "pending" in s
        s["planted"] = "again"
    client.post("/login/verify", data={"method": "totp", "code": totp_code(TOTP_SECRET, teacher)})
    with client.session_transaction() as s:
        assert "planted" not in s and "pending" not in s and s["lang"] == "en" and s["mfa"] is True
        assert s["_user_id"] == f"{teacher.id}:{teacher.session_version}"


def test_a_cookie_copied_before_logout_stops_working(app, client, teacher):
    login(client, teacher)
    thief = app.test_client()
    copy_cookie(client, thief)
    assert thief.get("/profile").status_code == 200  # the copy works while the session lives
    client.post("/logout")
    r = thief.get("/profile")
    assert r.status_code == 302 and "/login" in r.location
    assert thief.get("/api/v1/me").status_code == 401


def test_a_cookie_copied_before_a_password_change_stops_working(app, client, teacher):
    login(client, teacher)
    thief = app.test_client()
    copy_cookie(client, thief)
    r = client.post("/profile/password", data={"current": PASSWORD, "new": "lemn verde cu frunze rosii",
                                               "confirm": "lemn verde cu frunze rosii"})
    assert r.status_code == 302
    assert client.get("/profile").status_code == 200  # this session goes on, on a new cookie
    assert "/login" in thief.get("/profile").location


def test_a_cookie_copied_before_a_factor_change_stops_working(app, client, teacher, outbox):
    login(client, teacher)
    thief = app.test_client()
    copy_cookie(client, thief)
    client.post("/profile/factors/codes", data={"channel": "email"})
    client.post("/profile/factors/codes/confirm", data={"code": outbox.code()})
    assert factors.factor(teacher, "email") is not None
    assert client.get("/profile").status_code == 200
    assert "/login" in thief.get("/profile").location


def test_sign_out_my_other_sessions(app, client, teacher):
    login(client, teacher)
    laptop = app.test_client()
    login(laptop, teacher)
    page = client.get("/profile").get_data(as_text=True)
    assert page.count("<li>since ") == 2
    assert client.post("/profile/sessions/end-others").status_code == 302
    assert client.get("/profile").status_code == 200
    assert "/login" in laptop.get("/profile").location
    assert client.get("/profile").get_data(as_text=True).count("<li>since ") == 1


def test_disabling_an_account_ends_its_sessions(client, teacher):
    login(client, teacher)
    from core.db import session
    from tenants import accounts
    from tenants.models import User
    accounts.set_active(session.get(User, teacher.id), False)
    assert "/login" in client.get("/profile").location
    assert client.post("/login", data={"email": teacher.email, "password": PASSWORD}).status_code == 200


def test_idle_timeout(client, teacher, monkeypatch, app):
    login(client, teacher)
    t = guard.now()
    monkeypatch.setattr(guard, "now", lambda: t + app.config["SESSION_IDLE_MINUTES"] * 60 - 5)
    assert client.get("/profile").status_code == 200
    monkeypatch.setattr(guard, "now", lambda: t + 2 * app.config["SESSION_IDLE_MINUTES"] * 60 - 20)
    assert client.get("/profile").status_code == 200  # activity kept it alive
    monkeypatch.setattr(guard, "now", lambda: t + 4 * app.config["SESSION_IDLE_MINUTES"] * 60)
    r = client.get("/profile")
    assert r.status_code == 302 and "/login" in r.location
    with client.session_transaction() as s:
        assert "_user_id" not in s


def test_absolute_timeout_even_when_active(client, teacher, monkeypatch, app):
    login(client, teacher)
    t0 = guard.now()
    limit = app.permanent_session_lifetime.total_seconds()
    step = app.config["SESSION_IDLE_MINUTES"] * 60 - 10
    t = t0
    while t + step < t0 + limit:
        t += step
        monkeypatch.setattr(guard, "now", lambda t=t: t)
        assert client.get("/").status_code == 200
    monkeypatch.setattr(guard, "now", lambda: t0 + limit + 1)
    assert "/login" in client.get("/").location
    assert client.get("/api/v1/me").status_code == 401
