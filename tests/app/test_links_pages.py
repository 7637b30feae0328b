"""The unit responsible's link pages: class list with link status, issue / re-issue (e-mailed only when asked),
revoke, remind, issue for all classes, the link page and the QR sheet (no-store, no-referrer, one QR per class),
and who may reach them (unit helper 403, other units and counties 404)."""
from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes, policy as email_policy
from html import unescape

import pytest
from sqlalchemy import select

from app.web import links as web_links
from core import mail
from core.audit import AuditEntry
from core.db import session, utcnow
from tests import support
from workflows import links, state as sm
from workflows.models import Campaign, ClassLink


@pytest.fixture
def as_user(app):
    def make(user):
        c = app.test_client()
        support.login(c, user)
        c.post("/language", data={"lang": "en"})
        return c
    return make


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    monkeypatch.setattr(mail.settings, "outbox", str(tmp_path / "outbox"))
    monkeypatch.setattr(mail.settings, "smtp_url", None)
    return tmp_path / "outbox"


def _mails(outbox):
    """Mails to form teachers (the tests' teachers are @scoala.ro; staff hear about the launch too)."""
    files = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    mails = [message_from_bytes(f.read_bytes(), policy=email_policy.default) for f in files]
    return [m for m in mails if m["To"].endswith("@scoala.ro")]


def _manage(campaign, unit):
    return f"/campaigns/{campaign.id}/nodes/{unit.id}/links"


def _issue_url(campaign, cls):
    return f"/campaigns/{campaign.id}/classes/{cls.id}/link"


def _link(campaign, cls) -> ClassLink | None:
    session.expire_all()
    return links.link_of(campaign, cls)


def _url_of(app, link) -> str:
    with app.test_request_context():
        return web_links.link_url(links.token_for(link, [app.config["SECRET_KEY"]]))


def _statuses(html: str) -> dict[int, str]:
    return {int(c): s for c, s in re.findall(r'data-class-id="(\d+)" data-link-status="(\w+)"', html)}


def _audit(action):
    return session.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)) \
        .scalars().all()


def test_issue_a_link_and_show_it(app, who, tree, campaign, as_user, outbox):
    unit, cls = tree.units["A1.1"], tree.classes["A1.1.0"]
    c = as_user(who.responsible)
    page = c.get(_manage(campaign, unit))
    assert page.status_code == 200
    assert _statuses(page.get_data(as_text=True)) == {tree.classes["A1.1.0"].id: "not_issued",
                                                      tree.classes["A1.1.1"].id: "not_issued"}
    before = utcnow()
    r = c.post(_issue_url(campaign, cls), data={"days": "5", "teacher_name": " Ana Pop ",
                                                "teacher_email": "Ana@Scoala.ro"})
    after = utcnow()
    assert r.status_code == 303 and r.location.endswith(_issue_url(campaign, cls))
    link = _link(campaign, cls)
    assert (link.version, link.teacher_name, link.teacher_email) == (1, "Ana Pop", "ana@scoala.ro")
    assert before + dt.timedelta(days=5) <= links.aware(link.expires_at) <= after + dt.timedelta(days=5)
    assert _mails(outbox) == []  # not asked to e-mail it
    [entry] = _audit("link.issue")
    assert entry.user_id == who.responsible.id and entry.object_id == str(link.id)
    token = links.token_for(link, [app.config["SECRET_KEY"]])
    assert token not in str(entry.new) and token not in str(entry.old)

    shown = c.get(r.location)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store" and shown.headers["Referrer-Policy"] == "no-referrer"
    html = unescape(shown.get_data(as_text=True))
    url = _url_of(app, link)
    assert f'value="{url}"' in html and url.endswith(f"/l/{token}")
    assert f'src="{web_links.qr_data_uri(url)}"' in html
    listed = c.get(_manage(campaign, unit)).get_data(as_text=True)
    assert _statuses(listed)[cls.id] == "issued" and "Ana Pop" in listed and token not in listed


def test_validity_is_capped_at_the_deadline(app, who, tree, campaign, as_user):
    campaign.deadline = dt.date.today() + dt.timedelta(days=2)
    session.commit()
    c = as_user(who.responsible)
    c.post(_issue_url(campaign, tree.classes["A1.1.0"]), data={"days": "14"})
    end = dt.datetime.combine(campaign.deadline + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    assert links.aware(_link(campaign, tree.classes["A1.1.0"]).expires_at) == end
    r = c.post(_issue_url(campaign, tree.classes["A1.1.1"]), data={"days": "500"}, follow_redirects=True)
    assert "A link is valid for 1 to 120 days." in r.get_data(as_text=True)
    assert _link(campaign, tree.classes["A1.1.1"]) is None


def test_reissue_emails_the_new_link_only_when_asked(app, who, tree, campaign, as_user, outbox):
    cls = tree.classes["A1.1.0"]
    c = as_user(who.responsible)
    c.post(_issue_url(campaign, cls), data={"days": "14", "teacher_name": "Ana Pop",
                                            "teacher_email": "ana@scoala.ro", "send_email": "1"})
    first = _link(campaign, cls)
    old_url, old_token = _url_of(app, first), links.token_for(first, [app.config["SECRET_KEY"]])
    [msg] = _mails(outbox)
    assert msg["To"] == "ana@scoala.ro" and cls.name in msg["Subject"] and old_url in msg.get_content()
    assert first.emailed_at is not None and len(_audit("link.email")) == 1
    # the form offers to e-mail the re-issued link, since the last one was e-mailed
    html = c.get(_manage(campaign, tree.units["A1.1"])).get_data(as_text=True)
    assert re.search(r'name="send_email" value="1" checked', html)

    c.post(_issue_url(campaign, cls), data={"days": "7", "teacher_name": "Ana Pop",
                                            "teacher_email": "ana@scoala.ro", "send_email": "1"})
    link = _link(campaign, cls)
    assert link.version == 2
    mails = _mails(outbox)
    assert len(mails) == 2 and mails[1]["To"] == "ana@scoala.ro"
    new_url = _url_of(app, link)
    assert new_url != old_url and new_url in mails[1].get_content() and old_url not in mails[1].get_content()
    assert links.open_token(old_token, [app.config["SECRET_KEY"]])[1] == "superseded"
    assert [e.new["version"] for e in _audit("link.reissue")] == [2]

    c.post(_issue_url(campaign, cls), data={"days": "7", "teacher_name": "Ana Pop", "teacher_email": "ana@scoala.ro"})
    assert _link(campaign, cls).version == 3 and len(_mails(outbox)) == 2  # not asked this time


def test_sending_needs_an_address(who, tree, campaign, as_user, outbox):
    cls = tree.classes["A1.1.0"]
    c = as_user(who.responsible)
    r = c.post(_issue_url(campaign, cls), data={"days": "14", "send_email": "1"}, follow_redirects=True)
    assert "An e-mail address is needed to send the link." in r.get_data(as_text=True)
    r = c.post(_issue_url(campaign, cls), data={"days": "14", "teacher_email": "nu-e-adresa"}, follow_redirects=True)
    assert "This is not an e-mail address." in r.get_data(as_text=True)
    assert _link(campaign, cls) is None and _mails(outbox) == []


def test_revoke_and_remind(app, who, tree, campaign, as_user, outbox):
    cls = tree.classes["A1.1.0"]
    c = as_user(who.responsible)
    c.post(_issue_url(campaign, cls), data={"days": "14", "teacher_email": "ana@scoala.ro"})
    link = _link(campaign, cls)
    url = _url_of(app, link)
    r = c.post(f"/links/{link.id}/remind")
    assert r.status_code == 303 and r.location.endswith(_manage(campaign, tree.units["A1.1"]))
    [msg] = _mails(outbox)
    # mails to form teachers go out in Romanian (they have no account to choose a language)
    assert msg["To"] == "ana@scoala.ro" and url in msg.get_content() and msg["Subject"].startswith("Reamintire:")
    assert _link(campaign, cls).reminded_at is not None and len(_audit("link.remind")) == 1

    r = c.post(f"/links/{link.id}/revoke")
    assert r.status_code == 303
    link = _link(campaign, cls)
    assert (link.version, links.refusal(link)) == (2, "revoked")
    assert [e.new for e in _audit("link.revoke")] == [{"version": 2, "revoked": True}]
    html = c.get(_manage(campaign, tree.units["A1.1"])).get_data(as_text=True)
    assert _statuses(html)[cls.id] == "revoked"
    r = c.post(f"/links/{link.id}/revoke", follow_redirects=True)
    assert "already revoked" in r.get_data(as_text=True)
    r = c.post(f"/links/{link.id}/remind", follow_redirects=True)
    assert "No reminder sent" in r.get_data(as_text=True) and len(_mails(outbox)) == 1
    # the link page of a dead link sends back to the list
    assert c.get(_issue_url(campaign, cls)).status_code == 303


def test_issue_for_all_classes_and_the_qr_sheet(app, who, tree, campaign, as_user, outbox):
    import segno
    unit = tree.units["A1.1"]
    c = as_user(who.responsible)
    r = c.post(f"{_manage(campaign, unit)}/all", data={"days": "10"}, follow_redirects=True)
    assert r.status_code == 200 and "Links issued: 2" in r.get_data(as_text=True)
    classes = [tree.classes["A1.1.0"], tree.classes["A1.1.1"]]
    issued = [_link(campaign, k) for k in classes]
    assert all(x is not None and x.version == 1 for x in issued) and len(_audit("link.issue")) == 2
    assert _mails(outbox) == []
    # again: working links are kept
    r = c.post(f"{_manage(campaign, unit)}/all", data={"days": "10"}, follow_redirects=True)
    assert "Links issued: 0" in r.get_data(as_text=True) and [_link(campaign, k).version for k in classes] == [1, 1]

    sheet = c.get(f"{_manage(campaign, unit)}/sheet")
    assert sheet.status_code == 200
    assert sheet.headers["Cache-Control"] == "no-store" and sheet.headers["Referrer-Policy"] == "no-referrer"
    html = unescape(sheet.get_data(as_text=True))
    cards = re.findall(r'<li class="qr-card" data-class-id="(\d+)">(.*?)</li>', html, re.S)
    assert sorted(int(cid) for cid, _ in cards) == sorted(k.id for k in classes)
    for cid, card in cards:
        link = next(x for x in issued if x.class_id == int(cid))
        url = _url_of(app, link)
        [src] = re.findall(r'<img class="qr" src="([^"]+)"', card)
        assert src.startswith("data:image/svg+xml")
        assert src == segno.make(url, error="m").svg_data_uri(scale=4, border=2)  # the QR encodes the link URL
        assert url in card
    # a revoked link leaves the sheet
    c.post(f"/links/{issued[0].id}/revoke")
    html = unescape(c.get(f"{_manage(campaign, unit)}/sheet").get_data(as_text=True))
    assert html.count('class="qr-card"') == 1 and classes[0].name in html.split('id="sheet-missing"')[1]


def test_no_link_for_a_locked_or_submitted_class_or_a_closed_campaign(who, tree, campaign, as_user):
    cls = tree.classes["A1.1.0"]
    sm.transition(who.responsible, campaign, cls, "lock")
    session.commit()
    c = as_user(who.responsible)
    html = c.get(_manage(campaign, tree.units["A1.1"])).get_data(as_text=True)
    assert "No link can be issued now" in html
    r = c.post(_issue_url(campaign, cls), data={"days": "14"}, follow_redirects=True)
    assert "No link issued for" in r.get_data(as_text=True) and _link(campaign, cls) is None
    session.get(Campaign, campaign.id).status = "closed"  # the test's object is detached by the requests
    session.commit()
    r = c.post(f"{_manage(campaign, tree.units['A1.1'])}/all", data={"days": "14"}, follow_redirects=True)
    assert "not running" in r.get_data(as_text=True)
    assert session.execute(select(ClassLink)).scalars().all() == []


def test_who_may_reach_the_pages(who, tree, campaign, as_user, make_user):
    link = links.issue(who.responsible, campaign, tree.classes["A1.1.0"])
    session.commit()
    unit, cls = tree.units["A1.1"], tree.classes["A1.1.0"]
    urls = [("get", _manage(campaign, unit)), ("post", _issue_url(campaign, cls)), ("get", _issue_url(campaign, cls)),
            ("post", f"/links/{link.id}/revoke"), ("post", f"/links/{link.id}/remind"),
            ("post", f"{_manage(campaign, unit)}/all"), ("get", f"{_manage(campaign, unit)}/sheet")]
    for user, status in ((who.helper, 403), (who.director, 403), (who.responsible_12, 404), (who.inspector_b, 404)):
        c = as_user(user)
        for method, url in urls:
            assert getattr(c, method)(url).status_code == status, (user.email, method, url)
    assert _link(campaign, cls).version == 1
    # the responsible of county B's unit cannot reach county A's class through their own unit either
    b_resp = make_user("unit_responsible", tree.units["B1.1"])
    c = as_user(b_resp)
    assert c.get(_manage(campaign, tree.units["B1.1"])).status_code == 200
    assert c.post(_issue_url(campaign, cls), data={"days": "3"}).status_code == 404
    assert c.get(f"/campaigns/{campaign.id}/nodes/{tree.schools['B1'].id}/links").status_code == 404  # not a unit


def test_campaign_pages_show_link_counts_and_the_way_in(who, tree, campaign, as_user):
    a = links.issue(who.responsible, campaign, tree.classes["A1.1.0"])
    a.opened_at = utcnow()
    session.commit()
    unit_page = as_user(who.responsible).get(f"/campaigns/{campaign.id}/nodes/{tree.units['A1.1'].id}")
    html = unit_page.get_data(as_text=True)
    assert 'id="links-manage-link"' in html and _manage(campaign, tree.units["A1.1"]) in html
    assert "1 issued · 1 opened · 0 submitted through the link" in html
    helper = as_user(who.helper).get(f"/campaigns/{campaign.id}/nodes/{tree.units['A1.1'].id}").get_data(as_text=True)
    assert 'id="links-progress"' in helper and 'id="links-manage-link"' not in helper
    county = as_user(who.inspector).get(f"/campaigns/{campaign.id}/nodes/{tree.a.id}").get_data(as_text=True)
    assert "1 issued · 1 opened · 0 submitted through the link" in county
    other = as_user(who.inspector_b).get(f"/campaigns/{campaign.id}/nodes/{tree.b.id}").get_data(as_text=True)
    assert "0 issued · 0 opened · 0 submitted through the link" in other
