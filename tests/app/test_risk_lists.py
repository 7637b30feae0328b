"""Risk in the workflow (issue 6): the campaign pages show each child's risk flags from its roll-up snapshot and
filter on them in SQL; the county's "units at risk" list (scoped to the county), the commission's per-county
counts, and the request for extended monitoring from the list (through the workflow, audited, refused twice)."""
from __future__ import annotations

import lxml.html
import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import session
from exports.models import Snapshot
from forms.indicators_rollup import Aggregate
from tests import support
from workflows import state as sm


@pytest.fixture
def as_user(app):
    def make(user):
        c = app.test_client()
        support.login(c, user)
        c.post("/language", data={"lang": "en"})  # the assertions read the English msgids
        return c
    return make


def snap(campaign, node, *, at_risk=False, missing=False, codes=()):
    """A roll-up snapshot of ``node`` as exports.rollup writes it (flags and codes are what the lists read)."""
    st = sm.state_for(campaign, node)
    row = Snapshot(campaign_id=campaign.id, node_id=node.id, state_id=st.id, parent_node_id=node.parent_id,
                   county_id=st.county_id, level=node.level, path=node.path, version=1, ruleset_key="segregation",
                   ruleset_version=1, aggregate=Aggregate().to_dict(), details={}, at_risk=at_risk,
                   missing_data=missing, risk_codes=list(codes))
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def flagged(campaign, tree):
    """County A: A1.1 at risk (ethnicity in classes, social scholarship on the last benches), A1.2 missing data,
    A2.1 without a risk, A2.2 no snapshot; school A1 at risk. County B: B1.1 at risk."""
    snap(campaign, tree.units["A1.1"], at_risk=True, codes=["ethnicity.class", "social_scholarship.bench"])
    snap(campaign, tree.units["A1.2"], missing=True)
    snap(campaign, tree.units["A2.1"])
    snap(campaign, tree.schools["A1"], at_risk=True, missing=True, codes=["ethnicity.class"])
    snap(campaign, tree.units["B1.1"], at_risk=True, codes=["parents_education.building"])


def _doc(response):
    assert response.status_code == 200, response.status_code
    return lxml.html.fromstring(response.get_data(as_text=True))


def _rows(doc, list_id):
    """{row name: (data-risk, text)} of a page's list."""
    out = {}
    for li in doc.get_element_by_id(list_id).findall("li"):
        if "empty" in (li.get("class") or ""):
            continue
        risk = li.find_class("risk")
        out[li.find_class("title")[0].text_content().strip()] = (risk[0].get("data-risk") if risk else None,
                                                                  " ".join(li.text_content().split()))
    return out


def _url(campaign, node, tail=""):
    return f"/campaigns/{campaign.id}/nodes/{node.id}{tail}"


# --- badges and filters on the campaign pages ---------------------------------------------------------------

def test_school_page_shows_each_units_risk(who, tree, as_user, campaign, flagged):
    rows = _rows(_doc(as_user(who.director).get(_url(campaign, tree.schools["A1"]))), "children")
    assert rows["Unitatea A1.1"][0] == "at_risk"
    assert "Ethnicity — classes" in rows["Unitatea A1.1"][1]
    assert "Social scholarship — last two benches" in rows["Unitatea A1.1"][1]
    assert rows["Unitatea A1.2"][0] == "missing_data" and "missing data" in rows["Unitatea A1.2"][1]
    assert "Ethnicity" not in rows["Unitatea A1.2"][1]

    rows = _rows(_doc(as_user(who.inspector).get(_url(campaign, tree.schools["A2"]))), "children")
    assert rows["Unitatea A2.1"][0] == "none" and "at risk" not in rows["Unitatea A2.1"][1]
    assert rows["Unitatea A2.2"][0] == "no_data" and "no data yet" in rows["Unitatea A2.2"][1]


def test_county_page_filters_schools_and_links_the_list(who, tree, as_user, campaign, flagged):
    c = as_user(who.inspector)
    doc = _doc(c.get(_url(campaign, tree.a)))
    rows = _rows(doc, "children")
    assert rows["Școala A1"][0] == "at_risk missing_data" and rows["Școala A2"][0] == "no_data"
    assert doc.get_element_by_id("risk-link").get("href") == _url(campaign, tree.a, "/risk")
    assert set(_rows(_doc(c.get(_url(campaign, tree.a, "?show=at_risk"))), "children")) == {"Școala A1"}
    assert set(_rows(_doc(c.get(_url(campaign, tree.a, "?show=missing_data"))), "children")) == {"Școala A1"}
    assert set(_rows(_doc(c.get(_url(campaign, tree.schools["A1"], "?show=at_risk"))), "children")) == \
        {"Unitatea A1.1"}
    assert set(_rows(_doc(c.get(_url(campaign, tree.schools["A1"], "?show=missing_data"))), "children")) == \
        {"Unitatea A1.2"}
    assert _rows(_doc(c.get(_url(campaign, tree.schools["A2"], "?show=at_risk"))), "children") == {}


def test_excluded_rows_show_no_risk_and_are_filtered_out(who, tree, as_user, campaign, flagged):
    sm.transition(who.inspector, campaign, tree.units["A1.1"], "exclude", "Școală în renovare")
    c = as_user(who.inspector)
    rows = _rows(_doc(c.get(_url(campaign, tree.schools["A1"]))), "children")
    assert rows["Unitatea A1.1"][0] is None and "at risk" not in rows["Unitatea A1.1"][1]
    assert _rows(_doc(c.get(_url(campaign, tree.schools["A1"], "?show=at_risk"))), "children") == {}
    assert _rows(_doc(c.get(_url(campaign, tree.a, "/risk?show=at_risk"))), "risk-units") == {}


def test_filter_paginates_in_sql(who, tree, as_user, campaign, flagged, app, monkeypatch):
    snap(campaign, tree.units["A2.2"], at_risk=True, codes=["repeating.class"])
    monkeypatch.setitem(app.config, "PAGE_SIZE", 1)
    c = as_user(who.inspector)
    doc = _doc(c.get(_url(campaign, tree.a, "/risk?show=at_risk")))
    assert list(_rows(doc, "risk-units")) == ["Unitatea A1.1"] and "Page 1 of 2" in doc.text_content()
    doc = _doc(c.get(_url(campaign, tree.a, "/risk?show=at_risk&page=2")))
    assert list(_rows(doc, "risk-units")) == ["Unitatea A2.2"]
    # the county's children (schools): two at risk, one per page
    doc = _doc(c.get(_url(campaign, tree.a, "?show=at_risk")))
    assert list(_rows(doc, "children")) == ["Școala A1"] and "Page" not in doc.text_content()


def test_unit_page_has_no_risk_filters(who, tree, as_user, campaign, flagged):
    c = as_user(who.responsible)
    doc = _doc(c.get(_url(campaign, tree.units["A1.1"], "?show=at_risk")))
    filters = [a.get("href") for a in doc.find_class("wf-filters")[0].findall("a")]
    assert not any("at_risk" in h or "missing_data" in h for h in filters)
    assert len(doc.get_element_by_id("children").findall("li")) == 2  # both classes: the filter is ignored
    assert not doc.get_element_by_id("children").find_class("risk") and doc.get_element_by_id("risk-link", None) is None
    # the unit's own risk is among its facts
    assert doc.get_element_by_id("node-risk").find_class("risk")[0].get("data-risk") == "at_risk"
    assert "Ethnicity — classes" in doc.get_element_by_id("node-risk").text_content()
    doc = _doc(as_user(who.responsible_12).get(_url(campaign, tree.units["A1.2"])))
    assert doc.get_element_by_id("node-risk").find_class("risk")[0].get("data-risk") == "missing_data"


# --- the county's list --------------------------------------------------------------------------------------

def test_county_list_shows_only_the_countys_flagged_units(who, tree, as_user, campaign, flagged):
    c = as_user(who.inspector)
    doc = _doc(c.get(_url(campaign, tree.a, "/risk")))
    rows = _rows(doc, "risk-units")
    assert set(rows) == {"Unitatea A1.1", "Unitatea A1.2"}
    assert rows["Unitatea A1.1"][0] == "at_risk" and "Școala A1" in rows["Unitatea A1.1"][1]
    assert "Ethnicity — classes" in rows["Unitatea A1.1"][1] and "Extended monitoring: not requested" in \
        rows["Unitatea A1.1"][1]
    assert rows["Unitatea A1.2"][0] == "missing_data"
    summary = {d.find("dt").text: d.find("dd").text for d in doc.get_element_by_id("risk-summary")}
    assert summary == {"units with data": "3", "at risk": "1", "missing data": "1"}
    assert set(_rows(_doc(c.get(_url(campaign, tree.a, "/risk?show=at_risk"))), "risk-units")) == {"Unitatea A1.1"}
    assert set(_rows(_doc(c.get(_url(campaign, tree.a, "/risk?show=missing_data"))), "risk-units")) == \
        {"Unitatea A1.2"}
    assert set(_rows(_doc(c.get(_url(campaign, tree.a, "/risk?criterion=social_scholarship"))), "risk-units")) \
        == {"Unitatea A1.1"}
    assert _rows(_doc(c.get(_url(campaign, tree.a, "/risk?criterion=repeating"))), "risk-units") == {}
    assert _rows(_doc(c.get(_url(campaign, tree.a, "/risk?extended=requested"))), "risk-units") == {}
    # county B's inspector sees B1.1 only, and gets 404 for county A's list
    b = as_user(who.inspector_b)
    assert set(_rows(_doc(b.get(_url(campaign, tree.b, "/risk"))), "risk-units")) == {"Unitatea B1.1"}
    assert b.get(_url(campaign, tree.a, "/risk")).status_code == 404


def test_request_extended_from_the_list(who, tree, as_user, campaign, flagged):
    c = as_user(who.inspector)
    url = _url(campaign, tree.a, "/risk")
    doc = _doc(c.get(url))
    forms = {f.getparent().find_class("title")[0].text_content(): f for f in doc.find_class("wf-action")}
    assert set(forms) == {"Unitatea A1.1"}  # A1.2 only lacks data: nothing to explain in an extended section
    form = forms["Unitatea A1.1"]
    data = {i.get("name"): i.get("value") for i in form.findall(".//input")}
    assert data["action"] == "request-extended" and data["next"] == url
    r = c.post(form.get("action"), data=data)
    assert r.status_code == 303 and r.location.endswith(url)
    doc = _doc(c.get(url))
    assert "Done: Request the extended section." in doc.text_content()
    rows = _rows(doc, "risk-units")
    assert "Extended monitoring: requested" in rows["Unitatea A1.1"][1]
    assert not doc.find_class("wf-action")
    session.expire_all()
    assert sm.state_for(campaign, tree.units["A1.1"]).extended == "requested"
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "workflow.request-extended")).scalar_one()
    assert entry.user_id == who.inspector.id and entry.node_id == tree.units["A1.1"].id
    assert set(_rows(_doc(c.get(url + "?extended=requested")), "risk-units")) == {"Unitatea A1.1"}
    # posted again (a second tab): refused with the conflict's message on the list, nothing recorded
    r = c.post(form.get("action"), data=data, follow_redirects=True)
    assert r.status_code == 200 and r.request.path == url
    assert "Not possible now" in r.get_data(as_text=True)
    assert session.execute(select(AuditEntry.id).where(
        AuditEntry.action == "workflow.request-extended")).scalars().all() == [entry.id]


def test_another_countys_unit_in_the_post_is_404(who, tree, as_user, campaign, flagged):
    b = as_user(who.inspector_b)
    r = b.post(_url(campaign, tree.units["A1.1"], "/actions"),
               data={"action": "request-extended", "next": _url(campaign, tree.b, "/risk")})
    assert r.status_code == 404
    session.expire_all()
    assert sm.state_for(campaign, tree.units["A1.1"]).extended == "none"


@pytest.mark.parametrize("role", ["director", "responsible", "helper", "teacher"])
def test_school_and_unit_people_cannot_open_the_list(who, tree, as_user, campaign, flagged, role):
    c = as_user(getattr(who, role))
    assert c.get(_url(campaign, tree.a, "/risk")).status_code == 404  # the county is outside their subtree
    assert c.get(_url(campaign, tree.schools["A1"], "/risk")).status_code == 404  # not a county
    assert c.get(_url(campaign, tree.units["A1.1"], "/risk")).status_code == 404
    assert c.get(_url(campaign, tree.ministry, "/risk")).status_code == 404
    assert "risk-link" not in c.get(_url(campaign, tree.schools["A1"])).get_data(as_text=True)


def test_commission_sees_counts_per_county(who, tree, as_user, campaign, flagged):
    sm.transition(who.inspector, campaign, tree.units["A1.1"], "request-extended")
    c = as_user(who.commission)
    doc = _doc(c.get(_url(campaign, tree.ministry)))
    assert doc.get_element_by_id("risk-link").get("href") == _url(campaign, tree.ministry, "/risk")
    doc = _doc(c.get(_url(campaign, tree.ministry, "/risk")))
    rows = {tr.get("data-node-id"): [" ".join(td.text_content().split()) for td in tr.findall("td")]
            for tr in doc.get_element_by_id("risk-counties").findall(".//tbody/tr")}
    assert rows == {str(tree.a.id): ["3", "1", "1", "1"], str(tree.b.id): ["1", "1", "0", "0"]}
    links = [a.get("href") for a in doc.get_element_by_id("risk-counties").findall(".//a")]
    assert _url(campaign, tree.a, "/risk") in links and _url(campaign, tree.b, "/risk?show=at_risk") in links
    # the commission reads a county's list but may not request (the inspectorate does)
    doc = _doc(c.get(_url(campaign, tree.a, "/risk")))
    assert set(_rows(doc, "risk-units")) == {"Unitatea A1.1", "Unitatea A1.2"} and not doc.find_class("wf-action")
    # inspectors do not see the national page
    assert as_user(who.inspector).get(_url(campaign, tree.ministry, "/risk")).status_code == 404


def test_draft_campaign_has_no_risk_page(who, tree, as_user, campaign):
    from tests.workflows.conftest import DEADLINE
    from workflows import campaigns
    c = campaigns.create_campaign(who.commission, name="Ciornă", school_year=tree.year, deadline=DEADLINE)
    assert as_user(who.commission).get(_url(c, tree.ministry, "/risk")).status_code == 404
    assert as_user(who.commission).get(_url(campaign, tree.ministry, "/risk")).status_code == 200
