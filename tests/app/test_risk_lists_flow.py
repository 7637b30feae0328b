"""Risk in the workflow end to end: units submitted through the workflow (so :mod:`exports.rollup` writes their
snapshots), the inspectorate sees the skewed one flagged on the school page and in the county's list, requests the
extended section from the list, the unit fills and submits it, and the list and the unit's snapshot follow."""
from __future__ import annotations

import lxml.html
import pytest
from sqlalchemy import select

import exports.rollup  # noqa: F401  (registers the snapshot writer on the workflow, as app.tasks does)
from core.db import session
from exports.models import Snapshot
from tests import support
from tests.workflows.conftest import fill_unit, submit_unit
from workflows import state as sm, values

# Class 1A of 20 pupils has 12 Roma while the unit has 14 of 41: predominantly Roma, a risk on ethnicity × class.
SKEWED = ({"pupils": 20, "ethnicity.romanian": 8, "ethnicity.roma": 12, "ethnicity.undeclared": 0,
           "last_benches.seats": 6, "last_benches.ethnicity.roma": 5},
          {"pupils": 21, "ethnicity.romanian": 19, "ethnicity.roma": 2, "ethnicity.undeclared": 0,
           "last_benches.seats": 6, "last_benches.ethnicity.roma": 0})


@pytest.fixture
def as_user(app):
    def make(user):
        c = app.test_client()
        support.login(c, user)
        c.post("/language", data={"lang": "en"})
        return c
    return make


def submit_skewed(campaign, tree, key, actor):
    for k, table in enumerate(SKEWED):
        c = tree.classes[f"{key}.{k}"]
        values.save_values(actor, campaign, c, table, values.get_values(campaign, c).version)
        sm.transition(actor, campaign, c, "submit")
    fill_unit(campaign, tree.units[key], actor)
    sm.transition(actor, campaign, tree.units[key], "submit")


def _fresh(obj):
    """The test's object again, in the session that the last request left behind."""
    return session.get(type(obj), obj.id)


def _snapshot(campaign, node):
    return session.execute(select(Snapshot).where(Snapshot.campaign_id == campaign.id, Snapshot.node_id == node.id)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def _rows(client, url, list_id):
    r = client.get(url)
    assert r.status_code == 200, r.status_code
    doc = lxml.html.fromstring(r.get_data(as_text=True))
    out = {}
    for li in doc.get_element_by_id(list_id).findall("li"):
        if "empty" not in (li.get("class") or ""):
            risk = li.find_class("risk")
            out[li.find_class("title")[0].text_content().strip()] = (
                risk[0].get("data-risk") if risk else None, " ".join(li.text_content().split()),
                [f for f in li.findall(".//form") if f.get("data-action") == "request-extended"])
    return out


def test_submitted_risk_reaches_the_lists_and_extended_monitoring_round_trip(who, tree, as_user, campaign):
    submit_skewed(campaign, tree, "A1.1", who.responsible)
    submit_unit(campaign, tree, "A1.2", who.responsible_12)
    assert _snapshot(campaign, tree.units["A1.1"]).at_risk and not _snapshot(campaign, tree.units["A1.2"]).at_risk

    inspector = as_user(who.inspector)
    school = f"/campaigns/{campaign.id}/nodes/{tree.schools['A1'].id}"
    rows = _rows(inspector, school, "children")
    assert rows["Unitatea A1.1"][0].split()[0] == "at_risk" and "Ethnicity — classes" in rows["Unitatea A1.1"][1]
    assert "at_risk" not in rows["Unitatea A1.2"][0]
    assert set(_rows(inspector, school + "?show=at_risk", "children")) == {"Unitatea A1.1"}
    rows = _rows(inspector, f"/campaigns/{campaign.id}/nodes/{tree.schools['A2'].id}", "children")
    assert {v[0] for v in rows.values()} == {"no_data"}

    county_list = f"/campaigns/{campaign.id}/nodes/{tree.a.id}/risk"
    assert set(_rows(inspector, county_list + "?show=at_risk", "risk-units")) == {"Unitatea A1.1"}
    assert _rows(as_user(who.inspector_b), f"/campaigns/{campaign.id}/nodes/{tree.b.id}/risk", "risk-units") == {}

    # the inspectorate requests the extended section from its list
    form = _rows(inspector, county_list + "?show=at_risk", "risk-units")["Unitatea A1.1"][2][0]
    data = {i.get("name"): i.get("value") for i in form.findall(".//input")}
    r = inspector.post(form.get("action"), data=data, follow_redirects=True)
    assert r.status_code == 200 and "Done: Request the extended section." in r.get_data(as_text=True)
    session.expire_all()
    unit_row = sm.state_for(campaign, tree.units["A1.1"])
    assert unit_row.extended == "requested"
    version = _snapshot(campaign, tree.units["A1.1"]).version

    # the unit fills and submits it: the list shows it submitted, the unit's snapshot (its report's data) is rewritten
    campaign, unit, responsible = _fresh(campaign), _fresh(tree.units["A1.1"]), _fresh(who.responsible)
    cur = values.get_values(campaign, unit, "extended")
    answers = {"commission.established": "da", "plan.exists": "nu", "measures": ["mixed_seating"]}
    for f in cur.context["flagged_classes"]:
        answers[f"flagged_classes.{f['key']}.explanation"] = "Clasă formată la înscriere."
        answers[f"flagged_classes.{f['key']}.formation_reason"] = "entry_assignment"
    values.save_values(responsible, campaign, unit, answers, cur.version, section="extended")
    sm.transition(responsible, campaign, unit, "submit-extended")
    snap = _snapshot(campaign, unit)
    assert snap.version == version + 1 and snap.details["extended"]["state"] == "submitted"
    rows = _rows(inspector, county_list, "risk-units")
    assert "Extended monitoring: submitted" in rows["Unitatea A1.1"][1]
    assert set(_rows(inspector, county_list + "?extended=submitted", "risk-units")) == {"Unitatea A1.1"}
