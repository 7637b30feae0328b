"""The link API: POST issues (the only answer with the URL), GET lists without any token, DELETE revokes — with
the error contract (401/403/404/409/422), audit entries and versions."""
from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy as email_policy

import pytest
from sqlalchemy import select

from core import mail
from core.audit import AuditEntry
from core.db import session, utcnow
from workflows import links, state as sm

API = "/api/v1"


@pytest.fixture
def client(api_client):
    return api_client


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    monkeypatch.setattr(mail.settings, "outbox", str(tmp_path / "outbox"))
    monkeypatch.setattr(mail.settings, "smtp_url", None)
    return tmp_path / "outbox"


def _teacher_mails(outbox):
    files = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    mails = [message_from_bytes(f.read_bytes(), policy=email_policy.default) for f in files]
    return [m for m in mails if m["To"].endswith("@scoala.ro")]


def err(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    body = r.get_json()
    assert set(body["error"]) == {"code", "message", "details"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def _path(campaign, cls):
    return f"{API}/campaigns/{campaign.id}/classes/{cls.id}/links"


def _audit(action):
    return session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars().all()


def test_issue_list_reissue_revoke(app, client, auth, who, tree, campaign, outbox):
    cls = tree.classes["A1.1.0"]
    h = auth(who.responsible)
    assert client.get(_path(campaign, cls), headers=h).get_json() == {"items": []}
    before = utcnow()
    r = client.post(_path(campaign, cls), headers=h, json={"teacher_name": "Ana Pop", "teacher_email": "ana@scoala.ro"})
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    link = links.link_of(campaign, cls)
    token = links.token_for(link, [app.config["SECRET_KEY"]])
    assert body["id"] == link.id and body["url"].endswith(f"/l/{token}") and body["version"] == 1
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert before + dt.timedelta(days=14) <= expires <= utcnow() + dt.timedelta(days=14)  # the default validity
    assert r.headers["Cache-Control"] == "no-store"
    assert _teacher_mails(outbox) == []

    listed = client.get(_path(campaign, cls), headers=h)
    assert listed.status_code == 200
    [item] = listed.get_json()["items"]
    assert (item["id"], item["version"], item["status"], item["works"]) == (link.id, 1, "issued", True)
    assert item["teacher_email"] == "ana@scoala.ro" and item["expires_at"] == body["expires_at"]
    assert "url" not in item and token not in listed.get_data(as_text=True)

    r = client.post(_path(campaign, cls), headers=h, json={"days": 3, "send_email": True})
    assert r.status_code == 201 and r.get_json()["version"] == 2
    [msg] = _teacher_mails(outbox)
    assert msg["To"] == "ana@scoala.ro" and r.get_json()["url"] in msg.get_content()  # teacher kept, mailed
    assert links.open_token(token, [app.config["SECRET_KEY"]])[1] == "superseded"

    r = client.delete(f"{API}/links/{link.id}", headers=h)
    assert r.status_code == 200 and (r.get_json()["status"], r.get_json()["version"]) == ("revoked", 3)
    err(client.delete(f"{API}/links/{link.id}", headers=h), 409, "conflict")
    assert [len(_audit(a)) for a in ("link.issue", "link.reissue", "link.revoke", "link.email")] == [1, 1, 1, 1]
    for entry in _audit("link.issue") + _audit("link.reissue") + _audit("link.revoke"):
        assert "/l/" not in str(entry.new) and "/l/" not in str(entry.old)


def test_validity_and_body_are_checked(client, auth, who, tree, campaign):
    cls = tree.classes["A1.1.0"]
    h = auth(who.responsible)
    e = err(client.post(_path(campaign, cls), headers=h, json={"days": 0}), 422)
    assert e["details"] == {"days": "out_of_range"}
    err(client.post(_path(campaign, cls), headers=h, json={"days": "5"}), 422)
    err(client.post(_path(campaign, cls), headers=h, json={"teacher_email": "nope"}), 422)
    err(client.post(_path(campaign, cls), headers=h, json={"send_email": True}), 422)  # no address to send to
    err(client.post(_path(campaign, cls), headers=h, json=[1]), 422)
    assert links.link_of(campaign, cls) is None
    r = client.post(_path(campaign, cls), headers=h, json={"days": 120})
    end = dt.datetime.combine(campaign.deadline + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(r.get_json()["expires_at"]) == end  # capped at the deadline


def test_no_link_for_a_submitted_or_locked_class(client, auth, who, tree, campaign):
    cls = tree.classes["A1.1.0"]
    sm.transition(who.responsible, campaign, cls, "lock")
    session.commit()
    e = err(client.post(_path(campaign, cls), headers=auth(who.responsible), json={}), 409, "conflict")
    assert e["details"]["code"] == "locked"


def test_scope_and_permission(client, auth, who, tree, campaign, make_user):
    cls = tree.classes["A1.1.0"]
    link = links.issue(who.responsible, campaign, cls)
    session.commit()
    err(client.get(_path(campaign, cls)), 401, "unauthenticated")
    for user in (who.helper, who.director):
        err(client.get(_path(campaign, cls), headers=auth(user)), 403)
        err(client.post(_path(campaign, cls), headers=auth(user), json={}), 403)
        err(client.delete(f"{API}/links/{link.id}", headers=auth(user)), 403)
    b_resp = make_user("unit_responsible", tree.units["B1.1"])
    for user in (who.responsible_12, who.inspector_b, b_resp):
        err(client.get(_path(campaign, cls), headers=auth(user)), 404)
        err(client.post(_path(campaign, cls), headers=auth(user), json={}), 404)
        err(client.delete(f"{API}/links/{link.id}", headers=auth(user)), 404)
    err(client.post(_path(campaign, cls), headers=auth(who.responsible, "read"), json={}), 403)
    err(client.get(f"{API}/campaigns/99999/classes/{cls.id}/links", headers=auth(who.responsible)), 404)
    session.expire_all()
    assert (links.link_of(campaign, cls).version, links.link_of(campaign, cls).revoked_at) == (1, None)
