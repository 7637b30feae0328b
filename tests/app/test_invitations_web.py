"""Invitation pages: invite, mail, accept (new and existing accounts), resend, revoke, lists and the dashboard."""
from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes, policy as email_policy

import pytest
from flask import url_for
from sqlalchemy import select

from core import mail
from core.db import session, utcnow
from tenants import invitations as inv_ops
from tenants.invitations import Invitation
from tenants.models import User

GOOD_PASSWORD = "verde-pădure-liniștită-42"


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    monkeypatch.setattr(mail.settings, "outbox", str(tmp_path / "outbox"))
    monkeypatch.setattr(mail.settings, "smtp_url", None)
    return tmp_path / "outbox"


def _mails(outbox):
    files = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    return [message_from_bytes(f.read_bytes(), policy=email_policy.default) for f in files]


def _link(msg) -> str:
    return re.search(r"https?://[^/\s]+(/invite/\S+)", msg.get_content()).group(1)


def _invite(client, node, role="director", email="nou@scoala.ro", name="Ion Nou"):
    return client.post(f"/nodes/{node.id}/invite", data={"role": role, "email": email, "name": name})


@pytest.fixture
def isg(tree, make_user, login):
    user = make_user("isg", tree.a, name="Elena Inspector")
    login(user)
    return user


def test_invite_mail_accept_sign_in(app, client, tree, isg, outbox):
    school = tree.schools["A1"]
    page = client.get(f"/nodes/{school.id}/invite?role=director")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<option selected value="director">' in html and 'value="school_admin"' in html
    assert 'value="teacher"' not in html
    r = _invite(client, school)
    assert r.status_code == 302
    [msg] = _mails(outbox)
    assert msg["To"] == "nou@scoala.ro" and school.name in msg["Subject"]
    assert "Elena Inspector" in msg.get_content()
    link = _link(msg)
    inv = session.execute(select(Invitation).where(Invitation.email == "nou@scoala.ro")).scalar_one()
    assert (inv.node_id, inv.role, inv.sent_count) == (school.id, "director", 1)

    client.post("/logout")
    anon = app.test_client()
    page = anon.get(link)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Ion Nou" in page.get_data(as_text=True) and school.name in page.get_data(as_text=True)
    weak = anon.post(link, data={"name": "Ion Nou", "password": "scurt", "confirm": "scurt"})
    assert weak.status_code == 200 and "12" in weak.get_data(as_text=True)
    r = anon.post(link, data={"name": "Ion Nou", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD})
    assert r.status_code == 302
    with app.test_request_context():  # staff go on to enrol a second factor (when the security module is there)
        enrol = url_for("auth.enrol") if "auth.enrol" in app.view_functions else "/"
    assert r.location.split("?")[0] == enrol
    user = session.execute(select(User).where(User.email == "nou@scoala.ro")).scalar_one()
    assert [(m.node_id, m.role) for m in user.memberships] == [(school.id, "director")]
    # Signed in as the new account (the second-factor enrolment takes over from here).
    with anon.session_transaction() as s:
        assert s.get("_user_id", "").startswith(f"{user.id}:")
    again = app.test_client().get(link)
    assert again.status_code == 410 and "Ion Nou" not in again.get_data(as_text=True)


def test_roles_out_of_reach_are_refused(client, tree, isg, outbox):
    r = _invite(client, tree.schools["A1"], role="teacher")
    assert r.status_code == 200 and _mails(outbox) == []
    assert client.post(f"/nodes/{tree.units['A1.1'].id}/invite",
                       data={"role": "unit_helper", "email": "x@y.ro", "name": "X"}).status_code == 403
    assert _invite(client, tree.schools["B1"]).status_code == 404
    assert client.get(f"/nodes/{tree.schools['B1'].id}/invite").status_code == 404


def test_duplicate_invitation_shows_a_message(client, tree, isg, outbox):
    _invite(client, tree.schools["A1"])
    r = _invite(client, tree.schools["A1"], email="NOU@scoala.ro")
    assert r.status_code == 200 and len(_mails(outbox)) == 1
    assert session.execute(select(Invitation)).scalars().all().__len__() == 1


def test_resend_replaces_the_link_and_revoke_kills_it(app, client, tree, isg, outbox):
    _invite(client, tree.schools["A1"])
    inv = session.execute(select(Invitation)).scalar_one()
    old = _link(_mails(outbox)[0])
    assert client.post(f"/invitations/{inv.id}/resend").status_code == 302
    mails = _mails(outbox)
    assert len(mails) == 2
    new = _link(mails[1])
    assert new != old
    anon = app.test_client()
    dead = anon.get(old)
    assert dead.status_code == 404 and "Ion Nou" not in dead.get_data(as_text=True)
    assert anon.get(new).status_code == 200
    assert client.post(f"/invitations/{inv.id}/revoke", data={"next": "/invitations"}).location == "/invitations"
    revoked = anon.get(new)
    assert revoked.status_code == 410 and "nou@scoala.ro" not in revoked.get_data(as_text=True)
    assert anon.post(new, data={"name": "X", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}).status_code == 410
    assert session.execute(select(User).where(User.email == "nou@scoala.ro")).scalar() is None


def test_expired_and_tampered_links_get_a_clear_page(app, client, tree, isg, outbox):
    _invite(client, tree.schools["A1"])
    link = _link(_mails(outbox)[0])
    anon = app.test_client()
    tampered = anon.get(link[:-3] + ("abc" if not link.endswith("abc") else "xyz"))
    assert tampered.status_code == 404 and "Ion Nou" not in tampered.get_data(as_text=True)
    inv = session.execute(select(Invitation)).scalar_one()
    inv.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    expired = anon.get(link)
    assert expired.status_code == 410 and "Ion Nou" not in expired.get_data(as_text=True)


def test_an_existing_account_signs_in_then_accepts(app, client, tree, isg, outbox, make_user, login):
    teacher = make_user("teacher", tree.schools["A2"], email="profa@scoala.ro")
    _invite(client, tree.schools["A1"], email="profa@scoala.ro", name="Profa")
    link = _link(_mails(outbox)[0])
    other = app.test_client()
    page = other.get(link)
    assert page.status_code == 200 and "/login?next=" in page.get_data(as_text=True)
    login(isg, other)
    assert other.get(link).status_code == 403  # signed in as someone else
    mine = app.test_client()
    login(teacher, mine)
    assert mine.get(link).status_code == 200
    r = mine.post(link)
    assert r.status_code == 302 and r.location == f"/nodes/{tree.schools['A1'].id}"
    teacher = session.get(User, teacher.id)
    assert {(m.node_id, m.role) for m in teacher.memberships} == {(tree.schools["A2"].id, "teacher"),
                                                                  (tree.schools["A1"].id, "director")}


def test_the_list_shows_states_and_filters(client, tree, isg, outbox, make_user):
    _invite(client, tree.schools["A1"], email="a1@x.ro", name="Ana Unu")
    _invite(client, tree.schools["A2"], email="a2@x.ro", name="Bogdan Doi")
    inv2 = session.execute(select(Invitation).where(Invitation.email == "a2@x.ro")).scalar_one()
    client.post(f"/invitations/{inv2.id}/revoke")
    other = make_user("isg", tree.b)
    inv_ops.create(other, tree.schools["B1"], email="b1@x.ro", name="Carmen Trei", role="director",
                   secret_keys=["k"])
    page = client.get("/invitations").get_data(as_text=True)
    assert "Ana Unu" in page and "Bogdan Doi" in page and "Carmen Trei" not in page
    assert 'class="table-wrap"' in page
    revoked = client.get("/invitations?state=revoked").get_data(as_text=True)
    assert "Bogdan Doi" in revoked and "Ana Unu" not in revoked
    assert f"/invitations/{inv2.id}/resend" not in revoked


def test_schools_without_accounts_dashboard(app, client, tree, isg, outbox, make_user, login):
    make_user("director", tree.schools["A1"])
    _invite(client, tree.schools["A2"], name="Dana Director")
    page = client.get(f"/nodes/{tree.a.id}/schools-without-accounts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Școala A2" in html and "Școala A1" not in html and "Dana Director" in html
    assert f"/nodes/{tree.schools['A2'].id}/invite?role=director" in html
    assert client.get(f"/nodes/{tree.b.id}/schools-without-accounts").status_code == 404
    assert client.get(f"/nodes/{tree.schools['A1'].id}/schools-without-accounts").status_code == 404
    commission = app.test_client()
    login(make_user("commission", tree.ministry), commission)
    assert "Școala B1" in commission.get(f"/nodes/{tree.b.id}/schools-without-accounts").get_data(as_text=True)


def test_only_inviters_get_the_pages(app, tree, make_user, login):
    c = app.test_client()
    login(make_user("teacher", tree.schools["A1"]), c)
    assert c.get("/invitations").status_code == 403
    assert c.get(f"/nodes/{tree.schools['A1'].id}/invite").status_code == 403
    assert "/invitations" not in c.get("/").get_data(as_text=True)
    d = app.test_client()
    login(make_user("director", tree.schools["A1"]), d)
    assert d.get("/invitations").status_code == 200
    assert "/invitations" in d.get("/").get_data(as_text=True)


def test_a_director_invites_a_unit_responsible(app, tree, make_user, login, outbox):
    c = app.test_client()
    login(make_user("director", tree.schools["A1"]), c)
    page = c.get(f"/nodes/{tree.schools['A1'].id}/invite").get_data(as_text=True)
    assert f"/nodes/{tree.units['A1.2'].id}/invite" in page  # the units below, where responsibles are named
    r = c.post(f"/nodes/{tree.units['A1.2'].id}/invite",
               data={"role": "unit_responsible", "email": "resp@x.ro", "name": "Rita Resp"})
    assert r.status_code == 302 and len(_mails(outbox)) == 1
