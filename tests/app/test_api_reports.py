"""The report API: generate (202 + job polling, in-process), list versions, the report as JSON, downloads whose bytes
hash to the stored SHA-256, the ISG's signature with a fresh code — and another county's report, file or signature
is a 404."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from core.db import session
from exports import reports
from exports.models import ReportSignature
from tests import support
from tests.exports.test_reports_support import report_engine, submit_county
from tests.workflows.conftest import submit_unit

__all__ = ["report_engine"]
API = "/api/v1"


@pytest.fixture
def client(api_client):
    return api_client


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    return r.json


def err(r, status: int) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    assert set(r.json["error"]) == {"code", "message", "details"}
    return r.json["error"]


def _signatures() -> int:
    return session.execute(select(func.count()).select_from(ReportSignature)).scalar_one()


def test_generate_poll_read_and_download(report_engine, client, auth, campaign, tree, who):
    school = tree.schools["A1"]
    h = auth(who.director)
    body = ok(client.post(f"{API}/campaigns/{campaign.id}/nodes/{school.id}/reports", headers=h), 202)
    assert set(body) >= {"job_id"}
    job = ok(client.get(f"{API}/jobs/{body['job_id']}", headers=h))
    assert (job["status"], job["progress"], job["kind"]) == ("done", 100, reports.TASK), job
    rid = job["report_id"]
    assert job["result"]["report_id"] == rid

    listed = ok(client.get(f"{API}/campaigns/{campaign.id}/nodes/{school.id}/reports", headers=h))
    assert [(i["id"], i["version"], i["reason"]) for i in listed["items"]] == [(rid, 1, "on_demand")]

    rep = ok(client.get(f"{API}/reports/{rid}", headers=h))
    assert (rep["version"], rep["level"], rep["node_id"], rep["latest"]) == (1, "school", school.id, True)
    assert rep["sha256"] == reports.data_sha256(rep["data"])
    assert rep["signature"] is None and rep["signature_state"] == "not_required"
    for key in ("totals", "children", "exclusions", "completion", "risk", "version", "ruleset", "generated_at"):
        assert key in rep["data"], key
    stored = {f["format"]: f["sha256"] for f in rep["files"]}
    assert set(stored) == {"pdf", "xlsx", "csv"}
    for fmt in ("pdf", "xlsx", "csv"):
        r = client.get(f"{API}/reports/{rid}/download?format={fmt}", headers=h)
        assert r.status_code == 200, r.get_data(as_text=True)
        assert hashlib.sha256(r.data).hexdigest() == stored[fmt] == r.headers["X-Content-SHA256"]
        assert "attachment" in r.headers["Content-Disposition"]
    err(client.get(f"{API}/reports/{rid}/download?format=docx", headers=h), 422)

    # asked again with nothing changed: the same version
    body = ok(client.post(f"{API}/campaigns/{campaign.id}/nodes/{school.id}/reports", headers=h), 202)
    job = ok(client.get(f"{API}/jobs/{body['job_id']}", headers=h))
    assert (job["status"], job["report_id"], job["result"]["unchanged"]) == ("done", rid, True)
    # the data change (a unit is submitted): a second version; the first stays readable
    submit_unit(campaign, tree, "A1.1", who.responsible)
    session.commit()
    body = ok(client.post(f"{API}/campaigns/{campaign.id}/nodes/{school.id}/reports", headers=h), 202)
    rid2 = ok(client.get(f"{API}/jobs/{body['job_id']}", headers=h))["report_id"]
    listed = ok(client.get(f"{API}/campaigns/{campaign.id}/nodes/{school.id}/reports", headers=h))
    assert [i["version"] for i in listed["items"]] == [2, 1]
    assert ok(client.get(f"{API}/reports/{rid}", headers=h))["latest"] is False
    assert ok(client.get(f"{API}/reports/{rid2}", headers=h))["latest"] is True


def test_who_may_generate_and_read(report_engine, client, auth, campaign, tree, who):
    unit = tree.units["A1.1"]
    url = f"{API}/campaigns/{campaign.id}/nodes/{unit.id}/reports"
    err(client.post(url, headers=auth(who.helper)), 403)  # helpers read reports, they do not generate them
    err(client.post(url, headers=auth(who.responsible, "read")), 403)  # a read-only token
    err(client.post(url), 401)
    job_id = ok(client.post(url, headers=auth(who.responsible)), 202)["job_id"]
    err(client.get(f"{API}/jobs/{job_id}", headers=auth(who.helper)), 404)  # a job belongs to its owner
    rid = reports.latest(campaign.id, unit.id).id
    ok(client.get(f"{API}/reports/{rid}", headers=auth(who.helper)))
    err(client.get(f"{API}/reports/{rid}", headers=auth(who.responsible_12)), 404)  # the neighbouring unit
    err(client.post(f"{API}/campaigns/999999/nodes/{unit.id}/reports", headers=auth(who.responsible)), 404)


def test_another_countys_report_file_and_signature_are_404(report_engine, client, auth, campaign, tree, who,
                                                          make_user):
    submit_county(campaign, tree, who)
    session.commit()
    county = reports.latest(campaign.id, tree.a.id)
    isg_b = make_user("isg", tree.b)
    h = auth(isg_b)
    err(client.get(f"{API}/reports/{county.id}", headers=h), 404)
    err(client.get(f"{API}/reports/{county.id}/download?format=pdf", headers=h), 404)
    err(client.post(f"{API}/reports/{county.id}/sign", headers=h, json={"otp": support.totp_code(user=isg_b)}), 404)
    err(client.get(f"{API}/campaigns/{campaign.id}/nodes/{tree.a.id}/reports", headers=h), 404)
    err(client.post(f"{API}/campaigns/{campaign.id}/nodes/{tree.a.id}/reports", headers=h), 404)
    err(client.get(f"{API}/reports/{county.id}", headers=auth(who.inspector_b)), 404)
    assert _signatures() == 0


def test_the_isg_signs_with_a_fresh_code(report_engine, client, auth, campaign, tree, who):
    submit_county(campaign, tree, who)
    session.commit()
    county = reports.latest(campaign.id, tree.a.id)
    url = f"{API}/reports/{county.id}/sign"
    h = auth(who.isg)
    assert ok(client.get(f"{API}/reports/{county.id}", headers=h))["signature_state"] == "awaiting"
    err(client.post(url, headers=auth(who.inspector), json={"otp": support.totp_code(user=who.inspector)}), 403)
    e = err(client.post(url, headers=h, json={}), 422)
    assert "otp" in e["details"]
    wrong = "123456" if support.totp_code(user=who.isg) != "123456" else "654321"
    err(client.post(url, headers=h, json={"otp": wrong}), 422)
    assert _signatures() == 0  # nothing written

    code = support.totp_code(user=who.isg)
    body = ok(client.post(url, headers=h, json={"otp": code}), 201)
    assert body["signature"]["signer"]["id"] == who.isg.id and body["signature"]["sha256"] == county.sha256
    rep = ok(client.get(f"{API}/reports/{county.id}", headers=h))
    assert rep["signature_state"] == "signed" and rep["signature"]["void"] is False
    assert rep["signature"]["sha256"] == rep["sha256"]
    err(client.post(url, headers=h, json={"otp": code}), 409)  # already signed (and the code is spent)
    assert _signatures() == 1

    unit_report = reports.latest(campaign.id, tree.units["A1.1"].id)
    err(client.post(f"{API}/reports/{unit_report.id}/sign", headers=h,
                    json={"otp": support.totp_code(user=who.isg)}), 409)


def test_the_commission_generates_the_national_report(report_engine, client, auth, campaign, tree, who):
    url = f"{API}/campaigns/{campaign.id}/nodes/{tree.ministry.id}/reports"
    err(client.post(url, headers=auth(who.isg)), 404)  # the ministry lies outside a county's subtree
    h = auth(who.commission)
    job = ok(client.get(f"{API}/jobs/{ok(client.post(url, headers=h), 202)['job_id']}", headers=h))
    rep = ok(client.get(f"{API}/reports/{job['report_id']}", headers=h))
    assert (rep["level"], rep["provisional"], rep["signature_state"]) == ("ministry", True, "not_required")
    assert {c["id"] for c in rep["data"]["children"]} == {tree.a.id, tree.b.id}  # the counties
    # the commission reads every county's report once its inspector general has signed it
    submit_county(campaign, tree, who)
    session.commit()
    county = reports.latest(campaign.id, tree.a.id)
    assert err(client.get(f"{API}/reports/{county.id}", headers=h), 403)["details"]["code"] == "awaiting_signature"
    reports.sign(who.isg, county, support.totp_code(user=who.isg))
    session.commit()
    ok(client.get(f"{API}/reports/{county.id}", headers=h))
