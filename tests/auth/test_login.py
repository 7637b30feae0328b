"""Sign-in through the web: password, then the second factor; staff without one are confined to enrolment;
parents turn two-step sign-in on and off; throttling per account and per address."""
from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import session
from tenants import factors
from tests.support import PASSWORD, TOTP_SECRET, login, totp_code


def actions(name: str) -> list:
    return list(session.execute(select(AuditEntry).where(AuditEntry.action == name)).scalars())


def password_step(client, user, password=PASSWORD, **kw):
    return client.post("/login", data={"email": user.email, "password": password}, **kw)


@pytest.fixture
def teacher(tree, make_user):
    return make_user("teacher", tree.schools["A1"])


@pytest.fixture
def parent(tree, make_user):
    return make_user("parent", tree.schools["A1"], name="Oana Pavel")


def test_staff_sign_in_needs_the_code_and_nothing_opens_before_it(client, teacher):
    r = password_step(client, teacher)
    assert r.status_code == 302 and r.location.endswith("/login/verify")
    for path in ("/", "/profile", "/jobs"):
        assert "/login" in client.get(path).location  # nobody is signed in yet
    assert client.get("/api/v1/me").status_code == 401
    page = client.get("/login/verify").get_data(as_text=True)
    assert 'id="verify-form"' in page and 'name="code"' in page and 'name="method"' in page
    r = client.post("/login/verify", data={"method": "totp", "code": "000000"})
    assert r.status_code == 200 and actions("auth.second_factor_failed")
    r = client.post("/login/verify", data={"method": "totp", "code": totp_code(TOTP_SECRET, teacher)})
    assert r.status_code == 302 and client.get("/").status_code == 200
    [entry] = [e for e in actions("auth.login") if e.user_id == teacher.id]
    assert entry.new == {"method": "totp"}


def test_a_totp_code_is_refused_on_replay(client, app, teacher):
    code = totp_code(TOTP_SECRET, teacher)
    password_step(client, teacher)
    assert client.post("/login/verify", data={"method": "totp", "code": code}).status_code == 302
    other = app.test_client()
    password_step(other, teacher)
    r = other.post("/login/verify", data={"method": "totp", "code": code})
    assert r.status_code == 200 and "wrong, expired or already used" in r.get_data(as_text=True)


def test_staff_without_a_factor_reach_only_enrolment(client, tree, make_user):
    director = make_user("director", tree.schools["A1"], totp=False)
    r = password_step(client, director)
    assert r.status_code == 302 and "/profile/factors/add" in r.location
    for path in ("/", "/profile", "/jobs", "/search", "/imports", f"/nodes/{tree.schools['A1'].id}"):
        r = client.get(path)
        assert r.status_code == 302 and r.location.endswith("/profile/factors/add"), path
    assert client.post("/profile/tokens", data={"name": "x"}).location.endswith("/profile/factors/add")
    r = client.get("/api/v1/me")
    assert r.status_code == 403 and r.json["error"]["code"] == "second_factor_required"
    assert client.get("/profile/factors/add").status_code == 200
    # Enrol the app: the page shows a QR code and the key; a correct code turns it on.
    page = client.get("/profile/factors/totp").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page and 'id="totp-secret"' in page
    import re
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    r = client.post("/profile/factors/totp", data={"code": pyotp.TOTP(secret).now()})
    assert r.status_code == 200 and 'id="recovery-codes"' in r.get_data(as_text=True)
    assert client.get("/").status_code == 200 and client.get("/profile").status_code == 200
    assert factors.recovery_codes_left(director) == 10
    assert actions("factor.enrol")


def test_enrolment_by_email_code(client, tree, make_user, outbox):
    teacher = make_user("teacher", tree.schools["A1"], totp=False)
    password_step(client, teacher)
    r = client.post("/profile/factors/codes", data={"channel": "email"})
    assert r.location.endswith("/profile/factors/codes/confirm")
    assert outbox.mails()[-1]["To"] == teacher.email
    r = client.post("/profile/factors/codes/confirm", data={"code": outbox.code()})
    assert r.status_code == 200 and client.get("/").status_code == 200
    assert factors.factor(teacher, "email").destination == teacher.email


def test_sign_in_with_an_email_code(client, app, parent, outbox):
    factors.enrol(parent, "email", destination=parent.email)
    password_step(client, parent)
    r = client.post("/login/verify/send", data={"channel": "email"})
    assert r.location.endswith("/login/verify?method=email")
    code = outbox.code()
    # The code belongs to this sign-in attempt: another attempt (another browser) cannot use it.
    other = app.test_client()
    password_step(other, parent)
    r = other.post("/login/verify", data={"method": "email", "code": code})
    assert r.status_code == 200
    assert client.post("/login/verify", data={"method": "email", "code": code}).status_code == 302
    client.post("/logout")
    password_step(client, parent)
    assert client.post("/login/verify", data={"method": "email", "code": code}).status_code == 200  # used


def test_sign_in_with_an_sms_code(client, parent, sms_box):
    factors.enrol(parent, "sms", destination="+40722123456")
    password_step(client, parent)
    assert "+407…456" in client.get("/login/verify?method=sms").get_data(as_text=True)
    client.post("/login/verify/send", data={"channel": "sms"})
    [msg] = sms_box.messages()
    assert msg.startswith("To: +40722123456")
    assert client.post("/login/verify", data={"method": "sms", "code": sms_box.code()}).status_code == 302
    assert client.get("/profile").status_code == 200


def test_a_recovery_code_signs_in_once(client, app, teacher):
    codes = factors.generate_recovery_codes(teacher)
    password_step(client, teacher)
    r = client.post("/login/verify", data={"method": "recovery", "code": codes[0]})
    assert r.status_code == 302 and client.get("/").status_code == 200
    other = app.test_client()
    password_step(other, teacher)
    assert other.post("/login/verify", data={"method": "recovery", "code": codes[0]}).status_code == 200
    assert other.post("/login/verify", data={"method": "recovery", "code": codes[1]}).status_code == 302


def test_a_parent_turns_two_step_sign_in_on_and_off(client, parent):
    login(client, parent)  # no factor: the password is enough
    assert client.get("/").status_code == 200
    page = client.get("/profile").get_data(as_text=True)
    assert 'id="factors-on"' in page
    import re
    page = client.get("/profile/factors/totp").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    r = client.post("/profile/factors/totp", data={"code": pyotp.TOTP(secret).now()})
    assert 'id="recovery-codes"' in r.get_data(as_text=True)
    assert client.get("/profile").status_code == 200  # this session continues
    client.post("/logout")
    assert password_step(client, parent).location.endswith("/login/verify")
    step = pyotp.TOTP(secret)
    import time
    r = client.post("/login/verify", data={"method": "totp", "code": step.at(time.time() + 30)})
    assert r.status_code == 302
    r = client.post("/profile/factors/off")
    assert r.status_code == 302 and not factors.has_factor(parent)
    client.post("/logout")
    r = password_step(client, parent)
    assert r.status_code == 302 and not r.location.endswith("/login/verify")
    assert actions("factor.disable")


def test_sensitive_actions_ask_for_the_factor_again(client, teacher, monkeypatch):
    login(client, teacher)
    from app.auth import guard
    later = guard.now() + 3600
    monkeypatch.setattr(guard, "now", lambda: later)
    monkeypatch.setattr("app.auth.second_factor.now", lambda: later)
    with client.session_transaction() as s:  # keep the session itself alive
        s["seen_at"] = later
    r = client.post("/profile/tokens", data={"name": "ci"}, headers={"Referer": "http://localhost/profile"})
    assert r.status_code == 302 and "/reauth" in r.location
    page = client.get(r.location).get_data(as_text=True)
    assert 'id="verify-form"' in page
    code = totp_code(TOTP_SECRET, teacher)
    r = client.post("/reauth?next=/profile", data={"method": "totp", "code": code})
    assert r.status_code == 302 and r.location.endswith("/profile")
    r = client.post("/profile/tokens", data={"name": "ci"})
    assert r.status_code == 200 and 'id="new-token"' in r.get_data(as_text=True)


def test_wrong_passwords_lock_the_account_for_new_clients_only(client, app, teacher):
    # The teacher signed in from this address before: it is trusted for the account.
    login(client, teacher)
    client.post("/logout")
    attacker = app.test_client()
    env = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(5):
        assert password_step(attacker, teacher, "wrong password!", environ_base=env).status_code == 200
    r = password_step(attacker, teacher, environ_base=env)  # even the right password is not tried now
    assert r.status_code == 429 and "Too many attempts" in r.get_data(as_text=True)
    [lock] = actions("auth.lockout")
    assert lock.new == {"scope": "account", "seconds": 60} and lock.object_id == str(teacher.id)
    # The owner, from a client that signed in before, is not locked out.
    assert login(client, teacher).status_code == 302


def test_one_address_cannot_spray_many_accounts(app, tree, make_user):
    parent = make_user("parent", tree.schools["A1"])
    attacker = app.test_client()
    env = {"REMOTE_ADDR": "198.51.100.77"}
    statuses = [attacker.post("/login", data={"email": f"nobody{i}@x.ro", "password": "Summer2024!!"},
                              environ_base=env).status_code for i in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    r = attacker.post("/login", data={"email": parent.email, "password": PASSWORD}, environ_base=env)
    assert r.status_code == 429
    # Another address is not affected.
    assert app.test_client().post("/login", data={"email": parent.email, "password": PASSWORD}).status_code == 302


def test_wrong_codes_are_throttled(client, teacher):
    password_step(client, teacher)
    for _ in range(5):
        assert client.post("/login/verify", data={"method": "totp", "code": "000000"}).status_code == 200
    r = client.post("/login/verify", data={"method": "totp", "code": totp_code(TOTP_SECRET, teacher)})
    assert r.status_code == 429
    assert any(e.new["scope"] == "second_factor" for e in actions("auth.lockout"))


def test_other_modules_cannot_sign_in_a_user_with_a_factor_without_it(app, client, teacher, parent):
    # Invitations sign new accounts in with complete_login(user, "none"): that only works without a factor.
    from app.auth.guard import complete_login
    client.get("/login")  # commits the test data (a request context's teardown would end the transaction)
    with app.test_request_context("/"):
        assert complete_login(teacher, "none").endswith("/login/verify")
        from flask import session as web_session
        assert "_user_id" not in web_session and web_session["pending"]["uid"] == teacher.id
    with app.test_request_context("/"):
        assert complete_login(parent, "none", "/jobs") == "/jobs"


def test_the_pages_forms_work_as_a_browser_submits_them(client, parent, outbox):
    """Submit the forms with exactly the fields the pages carry (hidden ones included)."""
    from tests.auth.conftest import form_fields
    factors.enrol(parent, "email", destination=parent.email)
    login_page = client.get("/login").get_data(as_text=True)
    fields = form_fields(login_page, "login-form")
    fields.update(email=parent.email, password=PASSWORD)
    r = client.post("/login", data=fields)
    page = client.get(r.location).get_data(as_text=True)
    send = form_fields(page, "send-code")
    assert send["channel"] == "email"
    client.post("/login/verify/send", data=send)
    page = client.get("/login/verify?method=email").get_data(as_text=True)
    fields = form_fields(page, "verify-form")
    assert fields["method"] == "email"
    fields["code"] = outbox.code()
    r = client.post("/login/verify?method=email", data=fields)
    assert r.status_code == 302 and client.get("/profile").status_code == 200
