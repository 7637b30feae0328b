"""Report pages: the versions of a node's report with "generate now" (job page, then the new version), the report
rendered as HTML (totals, indicators, risk flags explained, exclusions with reasons, hash, downloads), the ISG's
signature page (a wrong code signs nothing), and another county's report, file or sign page is a 404."""
from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from core.db import session
from exports import reports
from exports.models import ReportSignature
from tests import support
from tests.exports.test_reports_support import report_engine, submit_county

__all__ = ["report_engine"]


@pytest.fixture
def as_user(app):
    """as_user(user) → a test client signed in as ``user``, showing English (the assertions read the msgids)."""
    def make(user):
        c = app.test_client()
        support.login(c, user)
        c.post("/language", data={"lang": "en"})
        return c
    return make


def _signatures() -> int:
    return session.execute(select(func.count()).select_from(ReportSignature)).scalar_one()


def test_generate_now_shows_progress_then_the_new_version(report_engine, as_user, campaign, tree, who):
    school = tree.schools["A1"]
    c = as_user(who.director)
    url = f"/campaigns/{campaign.id}/nodes/{school.id}/reports"
    page = c.get(url)
    assert page.status_code == 200 and 'id="no-reports"' in page.text and 'id="generate-form"' in page.text
    r = c.post(url)
    assert r.status_code == 303 and re.search(r"/jobs/\d+$", r.location)
    job_page = c.get(r.location)
    assert job_page.status_code == 200 and 'id="job-status"' in job_page.text and "100%" in job_page.text
    page = c.get(url)
    rid = reports.latest(campaign.id, school.id).id
    assert f'data-report-id="{rid}"' in page.text and 'data-version="1"' in page.text
    assert c.get(f"/campaigns/{campaign.id}/nodes/{school.id}/reports").text.count("data-version=") == 1
    # a helper may read reports but has no generate button
    helper = as_user(who.helper)
    unit_page = helper.get(f"/campaigns/{campaign.id}/nodes/{tree.units['A1.1'].id}/reports")
    assert unit_page.status_code == 200 and 'id="generate-form"' not in unit_page.text
    assert helper.post(f"/campaigns/{campaign.id}/nodes/{tree.units['A1.1'].id}/reports").status_code == 403


def test_the_report_page_shows_the_data_hash_and_downloads(report_engine, as_user, campaign, tree, who):
    submit_county(campaign, tree, who)
    session.commit()
    unit = reports.latest(campaign.id, tree.units["A1.1"].id)
    c = as_user(who.responsible)
    page = c.get(f"/reports/{unit.id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert unit.sha256 in html and 'id="totals"' in html and 'id="report-version"' in html
    assert 'id="signature"' not in html  # only the county report is signed
    data = unit.data
    assert str(data["totals"]["pupils"]) in html
    if data["risk"]:
        assert 'class="meta explanation"' in html
    else:
        assert 'id="no-risk"' in html
    for f in reports.files_meta(unit):
        assert f["sha256"] in html
        r = c.get(f"/reports/{unit.id}/files/{f['format']}")
        assert r.status_code == 200 and hashlib.sha256(r.data).hexdigest() == f["sha256"]
    assert c.get(f"/reports/{unit.id}/files/docx").status_code == 404

    county = reports.latest(campaign.id, tree.a.id)
    html = as_user(who.inspector).get(f"/reports/{county.id}").text
    assert 'data-state="awaiting"' in html and 'id="sign-link"' not in html  # inspectors do not sign
    assert 'id="children"' in html and tree.schools["A1"].name in html
    assert '<figure class="chart">' in html and "<svg" in html  # units at risk per school
    assert 'id="sign-link"' in as_user(who.isg).get(f"/reports/{county.id}").text


def test_exclusions_and_risk_flags_are_explained(report_engine, as_user, campaign, tree, who, make_user):
    from workflows import state
    state.transition(who.inspector, campaign, tree.units["A1.2"], "exclude", "clădire închisă pentru renovare")
    from tests.workflows.conftest import submit_unit
    submit_unit(campaign, tree, "A1.1", who.responsible)
    state.transition(who.director, campaign, tree.schools["A1"], "submit")
    session.commit()
    school = reports.latest(campaign.id, tree.schools["A1"].id)
    html = as_user(who.director).get(f"/reports/{school.id}").text
    assert "clădire închisă pentru renovare" in html and 'id="exclusions"' in html
    # every flagged item carries one sentence per explanation code
    from app.web.reports import CODE_SENTENCES
    risk = school.data["risk"]
    assert html.count('class="meta explanation"') == sum(len([c for c in i["codes"] if c in CODE_SENTENCES])
                                                         for i in risk)
    if any("predominant" in i["codes"] for i in risk):
        assert "predominantly composed" in html


def test_the_isg_signs_on_the_sign_page(report_engine, as_user, campaign, tree, who):
    submit_county(campaign, tree, who)
    session.commit()
    county = reports.latest(campaign.id, tree.a.id)
    c = as_user(who.isg)
    url = f"/reports/{county.id}/sign"
    page = c.get(url)
    assert page.status_code == 200 and 'id="sign-form"' in page.text and county.sha256 in page.text
    wrong = "123456" if support.totp_code(user=who.isg) != "123456" else "654321"
    r = c.post(url, data={"method": "totp", "code": wrong})
    assert r.status_code == 422 and "That code is wrong" in r.text
    assert _signatures() == 0
    r = c.post(url, data={"method": "totp", "code": support.totp_code(user=who.isg)})
    assert r.status_code == 303 and r.location.endswith(f"/reports/{county.id}")
    html = c.get(f"/reports/{county.id}").text
    assert 'data-state="signed"' in html and who.isg.name in html
    assert _signatures() == 1
    assert as_user(who.inspector).get(url).status_code == 403


def test_another_countys_report_file_and_sign_page_are_404(report_engine, as_user, campaign, tree, who, make_user):
    submit_county(campaign, tree, who)
    session.commit()
    county = reports.latest(campaign.id, tree.a.id)
    c = as_user(make_user("isg", tree.b))
    assert c.get(f"/reports/{county.id}").status_code == 404
    assert c.get(f"/reports/{county.id}/files/pdf").status_code == 404
    assert c.get(f"/reports/{county.id}/sign").status_code == 404
    assert c.post(f"/reports/{county.id}/sign", data={"code": "123456"}).status_code == 404
    assert c.get(f"/campaigns/{campaign.id}/nodes/{tree.a.id}/reports").status_code == 404
    assert c.post(f"/campaigns/{campaign.id}/nodes/{tree.a.id}/reports").status_code == 404
    assert _signatures() == 0


def test_the_campaign_node_page_links_to_the_reports(as_user, campaign, tree, who):
    url = f"/campaigns/{campaign.id}/nodes/{tree.schools['A1'].id}"
    html = as_user(who.director).get(url).text
    assert f'href="/campaigns/{campaign.id}/nodes/{tree.schools["A1"].id}/reports"' in html
    assert 'id="reports-link"' not in as_user(who.teacher).get(url).text  # teachers do not read reports


def test_a_new_version_voids_the_signature_on_the_page(report_engine, as_user, campaign, tree, who):
    submit_county(campaign, tree, who)
    session.commit()
    v1 = reports.latest(campaign.id, tree.a.id)
    reports.sign(who.isg, v1, support.totp_code(user=who.isg))
    assert reports.generate(campaign, tree.a, reason="on_demand").id == v1.id  # nothing changed: no new version
    v2 = reports.generate(campaign, tree.a, reason="reissued")
    session.commit()
    c = as_user(who.isg)
    old = c.get(f"/reports/{v1.id}").text
    assert 'data-state="void"' in old and 'id="newer-version"' in old and 'id="sign-link"' not in old
    new = c.get(f"/reports/{v2.id}").text
    assert 'data-state="awaiting"' in new and 'id="sign-link"' in new and 'id="newer-version"' not in new
    listing = c.get(f"/campaigns/{campaign.id}/nodes/{tree.a.id}/reports").text
    assert 'data-version="2"' in listing and 'data-signature="void"' in listing
    assert c.post(f"/reports/{v1.id}/sign", data={"method": "totp", "code": support.totp_code(user=who.isg)}
                  ).status_code == 409  # only the latest version is signed


def test_the_national_report_shows_which_county_reports_are_signed(report_engine, as_user, campaign, tree, who):
    submit_county(campaign, tree, who)
    session.commit()
    reports.sign(who.isg, reports.latest(campaign.id, tree.a.id), support.totp_code(user=who.isg))
    national = reports.generate(campaign, tree.ministry, reason="on_demand", actor=who.commission)
    session.commit()
    html = as_user(who.commission).get(f"/reports/{national.id}").text
    row_a = re.search(rf'<tr data-child-id="{tree.a.id}".*?</tr>', html, re.S).group(0)
    row_b = re.search(rf'<tr data-child-id="{tree.b.id}".*?</tr>', html, re.S).group(0)
    assert 'data-signature="signed"' in row_a
    assert "data-signature" not in row_b  # county B has issued no report yet


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    """Where e-mail lands in this test; ``outbox.code()`` is the last 6-digit code sent."""
    from email import message_from_bytes, policy

    from core import mail
    folder = tmp_path / "outbox"
    monkeypatch.setattr(mail.settings, "outbox", str(folder))
    monkeypatch.setattr(mail.settings, "smtp_url", None)

    class Box:
        def code(self) -> str:
            files = sorted(folder.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
            body = message_from_bytes(files[-1].read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
            return re.search(r"\b(\d{6})\b", body).group(1)
    return Box()


def test_the_isg_signs_with_an_emailed_code(report_engine, as_user, campaign, tree, who, outbox):
    from tenants import factors
    submit_county(campaign, tree, who)
    factors.enrol(who.isg, "email", destination=who.isg.email)
    session.commit()
    county = reports.latest(campaign.id, tree.a.id)
    c = as_user(who.isg)
    url = f"/reports/{county.id}/sign"
    page = c.get(f"{url}?method=email")
    assert 'id="send-code"' in page.text and 'value="email"' in page.text
    r = c.post(f"{url}/send", data={"channel": "email"})
    assert r.status_code == 303 and r.location.endswith(f"{url}?method=email")
    code = outbox.code()
    other = as_user(who.isg)  # another session of the same person: the code belongs to the first one's attempt
    assert other.post(url, data={"method": "email", "code": code}).status_code == 422
    assert _signatures() == 0
    assert c.post(url, data={"method": "email", "code": code}).status_code == 303
    assert _signatures() == 1


def test_the_commission_reads_a_county_report_only_once_the_isg_has_signed_it(report_engine, as_user, campaign,
                                                                              tree, who):
    """Seed 003: the county report goes to the commission once the inspector general signs it. Until then the
    commission sees the version listed (awaiting signature) but not its content, on the pages and through the API;
    the county's own inspectors read it all along."""
    submit_county(campaign, tree, who)
    session.commit()
    county = reports.latest(campaign.id, tree.a.id)
    commission = as_user(who.commission)
    listing = commission.get(f"/campaigns/{campaign.id}/nodes/{tree.a.id}/reports").text
    assert f'data-report-id="{county.id}"' in listing and f'href="/reports/{county.id}"' not in listing
    assert "once the inspector general has signed it" in listing
    assert 'id="generate-form"' not in listing
    assert commission.get(f"/reports/{county.id}").status_code == 403
    assert commission.get(f"/reports/{county.id}/files/pdf").status_code == 403
    api = commission.get(f"/api/v1/reports/{county.id}")
    assert api.status_code == 403 and api.json["error"]["details"]["code"] == "awaiting_signature"
    assert commission.get(f"/api/v1/reports/{county.id}/download?format=csv").status_code == 403
    items = commission.get(f"/api/v1/campaigns/{campaign.id}/nodes/{tree.a.id}/reports").json["items"]
    assert [i["withheld"] for i in items] == [True]
    assert as_user(who.inspector).get(f"/reports/{county.id}").status_code == 200

    reports.sign(who.isg, county, support.totp_code(user=who.isg))
    session.commit()
    assert commission.get(f"/reports/{county.id}").status_code == 200
    assert commission.get(f"/api/v1/reports/{county.id}").json["signature"]["void"] is False
    assert commission.get(f"/reports/{county.id}/files/pdf").status_code == 200
