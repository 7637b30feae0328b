"""Password reset by e-mail: one answer for every address, a link that works once, and the second factor still
needed afterwards."""
from __future__ import annotations

import re

import pytest

from core.db import session
from tenants.models import User
from tests.support import TOTP_SECRET, totp_code

NEW = "rochia albastra din dulap"


@pytest.fixture
def teacher(tree, make_user):
    return make_user("teacher", tree.schools["A1"])


def _link(outbox) -> str:
    return re.search(r"http://localhost(/password/reset/\S+)", outbox.last_body()).group(1)


def test_reset_link_works_once_and_the_second_factor_is_still_needed(client, app, teacher, outbox):
    r = client.post("/password/forgot", data={"email": teacher.email.upper()})
    assert r.status_code == 302
    [msg] = outbox.mails()
    assert msg["To"] == teacher.email
    link = _link(outbox)
    page = client.get(link)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    r = client.post(link, data={"new": "password123456", "confirm": "password123456"})
    assert r.status_code == 422 and "too common" in r.get_data(as_text=True)
    r = client.post(link, data={"new": NEW, "confirm": NEW})
    assert r.status_code == 302 and r.location.endswith("/login")
    # Nobody is signed in by the reset.
    assert "/login" in client.get("/profile").location
    # Single use: the password hash moved on, so the same link is dead.
    assert client.get(link).status_code == 400
    assert client.post(link, data={"new": "alt text foarte lung", "confirm": "alt text foarte lung"}).status_code == 400
    # The new password works, and the second factor is still asked for.
    r = client.post("/login", data={"email": teacher.email, "password": NEW})
    assert r.location.endswith("/login/verify")
    assert "/login" in client.get("/profile").location
    r = client.post("/login/verify", data={"method": "totp", "code": totp_code(TOTP_SECRET, teacher)})
    assert r.status_code == 302 and client.get("/profile").status_code == 200


def test_unknown_addresses_get_the_same_answer_and_no_mail(client, outbox):
    r = client.post("/password/forgot", data={"email": "nobody@nowhere.ro"}, follow_redirects=True)
    assert r.status_code == 200 and "If an account uses that address" in r.get_data(as_text=True)
    assert outbox.mails() == []


def test_reset_mails_are_throttled_per_account(client, teacher, outbox):
    for _ in range(5):
        client.post("/password/forgot", data={"email": teacher.email})
    assert len(outbox.mails()) == 3


def test_tampered_and_expired_links_are_refused(client, app, teacher, outbox, monkeypatch):
    client.post("/password/forgot", data={"email": teacher.email})
    link = _link(outbox)
    assert client.get(link[:-3] + "abc").status_code == 400
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MINUTES", -1)
    assert client.get(link).status_code == 400


def test_a_reset_ends_sessions_and_lifts_a_lockout(client, app, teacher, outbox):
    from tests.support import login
    login(client, teacher)
    attacker = app.test_client()
    for _ in range(6):
        attacker.post("/login", data={"email": teacher.email, "password": "nu e parola mea"},
                      environ_base={"REMOTE_ADDR": "203.0.113.50"})
    fresh = app.test_client()
    env = {"REMOTE_ADDR": "192.0.2.10"}  # a new device of the owner: locked out too
    assert fresh.post("/login", data={"email": teacher.email, "password": "x" * 12}, environ_base=env
                      ).status_code == 429
    fresh.post("/password/forgot", data={"email": teacher.email}, environ_base=env)
    fresh.post(_link(outbox), data={"new": NEW, "confirm": NEW}, environ_base=env)
    assert "/login" in client.get("/profile").location  # the old session died with the old password
    r = fresh.post("/login", data={"email": teacher.email, "password": NEW}, environ_base=env)
    assert r.status_code == 302
    assert session.get(User, teacher.id).password_hash.startswith("$argon2id$")
