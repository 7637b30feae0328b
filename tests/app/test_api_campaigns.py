"""The campaign API: campaigns (national), node state and actions, class tables and unit forms with optimistic
versions, history — the same rules as the pages (workflows.*), answered in JSON with 401/403/404/409/422."""
from __future__ import annotations

import pytest

from workflows import campaigns
from tests.workflows.conftest import VALID_CLASS, VALID_UNIT

API = "/api/v1/campaigns"


@pytest.fixture
def client(api_client):
    return api_client


def err(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    e = r.json["error"]
    assert set(e) == {"code", "message", "details"} and e["message"]
    if code:
        assert e["code"] == code
    return e


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    return r.json


# --- campaigns ---------------------------------------------------------------------------------------------

def test_the_commission_creates_then_launches_a_campaign(client, tree, who, auth):
    from forms.operations import sync_builtin
    sync_builtin()
    body = {"name": "Monitorizare API", "school_year_id": tree.year.id, "deadline": "2026-03-01",
            "class_form": {"key": "segregation.class_table"}}
    c = ok(client.post(API, json=body, headers=auth(who.commission)), 201)
    assert c["status"] == "draft" and c["name"] == "Monitorizare API" and c["deadline"] == "2026-03-01"
    assert c["forms"]["class"]["key"] == "segregation.class_table" and c["forms"]["class"]["version"] >= 1
    url = f"{API}/{c['id']}"
    assert ok(client.get(url, headers=auth(who.inspector)))["status"] == "draft"
    err(client.post(f"{url}/launch", json={"message": " "}, headers=auth(who.commission)), 422, "invalid")
    err(client.post(f"{url}/launch", json={"message": "Start"}, headers=auth(who.inspector)), 403, "forbidden")
    launched = ok(client.post(f"{url}/launch", json={"message": "Start"}, headers=auth(who.commission)))
    assert launched["status"] == "running" and launched["invitation"] == "Start"
    # (rows per level: the counts workflows.launch_campaign returns; its rowcounts are -1 on PostgreSQL for now)
    assert set(launched["rows"]) == {"inspectorate", "school", "unit", "class"}
    ministry = ok(client.get(f"{API}/{c['id']}/nodes/{tree.ministry.id}", headers=auth(who.commission)))
    assert ministry["children"]["total"] == 2
    e = err(client.post(f"{url}/launch", json={"message": "Again"}, headers=auth(who.commission)), 409)
    assert "running" in e["message"]
    items = ok(client.get(API, headers=auth(who.teacher)))["items"]
    assert [i["id"] for i in items] == [c["id"]]
    assert ok(client.get(f"{API}?status=draft", headers=auth(who.teacher)))["items"] == []
    err(client.get(f"{API}?status=nope", headers=auth(who.teacher)), 422)


@pytest.mark.parametrize("body,field", [
    ({"school_year_id": None, "deadline": "2026-03-01", "name": "X"}, "school_year_id"),
    ({"deadline": "2026-03-01"}, "name"),
    ({"name": " ", "deadline": "2026-03-01"}, "name"),
    ({"name": "X"}, "deadline"),
    ({"name": "X", "deadline": "1 martie"}, "deadline"),
    ({"name": "X", "deadline": "2026-03-01", "opens_on": "2026-04-01"}, "deadline"),
    ({"name": "X", "deadline": "2026-03-01", "unit_form": {"key": "segregation.class_table"}}, "unit_form"),
    ({"name": "X", "deadline": "2026-03-01", "ruleset": {"version": "one"}}, "ruleset"),
])
def test_creating_a_campaign_validates_its_body(client, tree, who, auth, body, field):
    from forms.operations import sync_builtin
    sync_builtin()
    body = {"school_year_id": tree.year.id, **body}
    e = err(client.post(API, json=body, headers=auth(who.commission)), 422, "invalid")
    assert field in e["details"]


def test_only_the_commission_creates_and_anonymous_is_401(client, tree, who, auth, make_user):
    body = {"name": "X", "school_year_id": tree.year.id, "deadline": "2026-03-01"}
    for user in (who.isg, who.director, make_user("admin", tree.ministry)):
        err(client.post(API, json=body, headers=auth(user)), 403, "forbidden")
    err(client.post(API, json=body), 401, "unauthenticated")
    err(client.get(f"{API}/1"), 401, "unauthenticated")


def test_campaigns_are_national_but_need_the_permission(client, tree, who, auth, campaign, make_user):
    for user in (who.inspector_b, who.teacher, who.helper):
        assert ok(client.get(f"{API}/{campaign.id}", headers=auth(user)))["id"] == campaign.id
    err(client.get(f"{API}/{campaign.id}", headers=auth(make_user("parent", tree.schools["A1"]))), 403)
    err(client.get(f"{API}/{campaign.id + 999}", headers=auth(who.teacher)), 404, "not_found")
    err(client.post(f"{API}/{campaign.id + 999}/launch", json={"message": "x"}, headers=auth(who.commission)), 404)


def test_a_read_only_token_may_read_but_not_write(client, tree, who, auth, campaign):
    ro = auth(who.helper, "read")
    url = f"{API}/{campaign.id}/classes/{tree.classes['A1.1.0'].id}/table"
    assert ok(client.get(url, headers=ro))["version"] == 0
    err(client.put(url, json={"values": VALID_CLASS, "version": 0}, headers=ro), 403, "forbidden")
    err(client.post(f"{API}/{campaign.id}/nodes/{tree.schools['A1'].id}/actions/lock", json={},
                    headers=auth(who.inspector, "read")), 403)
    assert ok(client.get(url, headers=ro))["version"] == 0


# --- nodes -------------------------------------------------------------------------------------------------

def node_url(campaign, node, tail: str = "") -> str:
    return f"{API}/{campaign.id}/nodes/{node.id}{tail}"


def test_a_node_shows_its_state_children_and_the_callers_actions(client, tree, who, auth, campaign):
    school = tree.schools["A1"]
    d = ok(client.get(node_url(campaign, school), headers=auth(who.director)))
    assert (d["level"], d["state"], d["locked"], d["excluded"], d["extended"]) == (
        "school", "not_started", False, False, "none")
    assert d["node"]["id"] == school.id and d["campaign_id"] == campaign.id
    assert d["children"]["total"] == 2 and d["children"]["not_started"] == 2
    assert d["actions"] == []  # the director submits the school only once its units are submitted
    i = ok(client.get(node_url(campaign, school), headers=auth(who.inspector)))
    assert {"lock", "exclude"} <= set(i["actions"]) and "submit" not in i["actions"]
    unit = ok(client.get(node_url(campaign, tree.units["A1.1"]), headers=auth(who.inspector)))
    assert "request-extended" in unit["actions"] and unit["children"]["total"] == 2
    ministry = ok(client.get(node_url(campaign, tree.ministry), headers=auth(who.commission)))
    assert ministry["level"] == "ministry" and ministry["children"]["total"] == 2 and ministry["actions"] == []
    county = ok(client.get(node_url(campaign, tree.a), headers=auth(who.commission)))
    assert county["actions"] == ["lock"]


def test_node_routes_answer_404_outside_the_subtree_or_the_campaign_and_403_without_the_permission(
        client, tree, who, auth, campaign, make_user):
    b_school = tree.schools["B1"]
    for tail in ("", "/history"):
        err(client.get(node_url(campaign, b_school, tail), headers=auth(who.inspector)), 404, "not_found")
    err(client.post(node_url(campaign, b_school, "/actions/lock"), json={}, headers=auth(who.inspector)), 404)
    err(client.get(node_url(campaign, tree.schools["A2"]), headers=auth(who.director)), 404)
    err(client.get(f"{API}/{campaign.id + 999}/nodes/{tree.schools['A1'].id}", headers=auth(who.inspector)), 404)
    draft = campaigns.create_campaign(
        who.commission, name="Draft", school_year=tree.year, deadline=campaign.deadline)
    err(client.get(f"{API}/{draft.id}/nodes/{tree.schools['A1'].id}", headers=auth(who.inspector)), 404)
    parent = make_user("parent", tree.schools["A1"])
    err(client.get(node_url(campaign, tree.schools["A1"]), headers=auth(parent)), 403, "forbidden")


def test_actions_change_the_state_or_say_why_not(client, tree, who, auth, campaign):
    school = tree.schools["A1"]
    url = node_url(campaign, school, "/actions/")
    err(client.post(url + "lock", json={}, headers=auth(who.director)), 403, "forbidden")
    d = ok(client.post(url + "lock", json={"reason": "verificare"}, headers=auth(who.inspector)))
    assert d["locked"] is True and "unlock" in d["actions"]
    e = err(client.post(url + "lock", json={}, headers=auth(who.inspector)), 409, "conflict")
    assert "already locked" in e["message"]
    e = err(client.post(node_url(campaign, tree.units["A1.1"], "/actions/submit"), json={},
                        headers=auth(who.responsible)), 409)
    assert "locked above" in e["message"]
    assert ok(client.post(url + "unlock", json={}, headers=auth(who.inspector)))["locked"] is False
    e = err(client.post(url + "submit", json={}, headers=auth(who.director)), 409)
    assert "2 units not submitted" in e["message"]
    assert e["details"] == {"pending": 2, "code": "children_pending", "params": {"count": 2, "child_level": "unit"}}
    err(client.post(url + "reopen", json={"reason": "x"}, headers=auth(who.inspector)), 409)
    e = err(client.post(url + "exclude", json={"reason": " "}, headers=auth(who.inspector)), 422, "invalid")
    assert e["details"] == {"reason": "required", "code": "reason_required", "params": {"action": "exclude"}}
    err(client.post(url + "exclude", json={"reason": 3}, headers=auth(who.inspector)), 422)
    d = ok(client.post(url + "exclude", json={"reason": "școală închisă"}, headers=auth(who.inspector)))
    assert d["excluded"] is True and d["exclusion_reason"] == "școală închisă" and d["actions"] == ["include"]
    err(client.post(url + "fly", json={}, headers=auth(who.inspector)), 404)
    history = ok(client.get(node_url(campaign, school, "/history"), headers=auth(who.director)))["items"]
    assert [h["action"] for h in history] == ["lock", "unlock", "exclude"]
    assert history[0]["reason"] == "verificare" and history[0]["user_id"] == who.inspector.id
    assert history[2]["before"]["excluded"] is False and history[2]["after"]["excluded"] is True


# --- values ------------------------------------------------------------------------------------------------

def table_url(campaign, school_class) -> str:
    return f"{API}/{campaign.id}/classes/{school_class.id}/table"


def form_url(campaign, unit, section: str = "") -> str:
    return f"{API}/{campaign.id}/units/{unit.id}/form" + (f"?section={section}" if section else "")


def test_a_class_table_is_saved_with_optimistic_versions(client, tree, who, auth, campaign):
    url = table_url(campaign, tree.classes["A1.1.0"])
    start = ok(client.get(url, headers=auth(who.helper)))
    assert start["version"] == 0 and start["section"] == "class" and start["editable"] is True
    assert start["values"]  # generated defaults
    saved = ok(client.put(url, json={"values": {"ethnicity.roma": 2, "ethnicity.undeclared": 18}, "version": 0},
                          headers=auth(who.helper)))
    assert saved["version"] == 1 and saved["values"]["ethnicity.roma"] == 2
    assert saved["state"]["state"] == "in_progress"
    e = err(client.put(url, json={"values": {"repeating": 1}, "version": 0}, headers=auth(who.responsible)),
            409, "conflict")
    assert e["details"]["current_version"] == 1
    assert {"ethnicity.roma", "ethnicity.undeclared"} <= set(e["details"]["changed_fields"])
    e = err(client.put(url, json={"values": {"ethnicity.roma": "many", "pupils": -1}, "version": 1},
                       headers=auth(who.helper)), 422, "invalid")
    assert set(e["details"]["fields"]) == {"ethnicity.roma", "pupils"}
    for body in ({"values": {}}, {"version": 1}, {"values": [], "version": 1}, {"values": {}, "version": "1"}):
        err(client.put(url, json=body, headers=auth(who.helper)), 422)
    err(client.put(url, json={"values": {"repeating": 1}, "version": 1}, headers=auth(who.director)), 403)
    assert ok(client.get(url, headers=auth(who.director)))["version"] == 1


def test_a_class_is_submitted_and_then_read_only(client, tree, who, auth, campaign):
    cls = tree.classes["A1.1.0"]
    url = table_url(campaign, cls)
    act = f"{API}/{campaign.id}/classes/{cls.id}/actions/"
    e = err(client.post(act + "submit", json={}, headers=auth(who.helper)), 422)
    assert e["details"]["errors"]
    ok(client.put(url, json={"values": VALID_CLASS, "version": 0}, headers=auth(who.helper)))
    d = ok(client.post(act + "submit", json={}, headers=auth(who.helper)))
    assert d["state"] == "submitted" and d["class_id"] == cls.id and d["level"] == "class"
    e = err(client.put(url, json={"values": {"repeating": 1}, "version": 1}, headers=auth(who.helper)), 409)
    assert "submitted" in e["message"]
    assert ok(client.get(url, headers=auth(who.helper)))["editable"] is False
    assert ok(client.get(f"{API}/{campaign.id}/classes/{cls.id}", headers=auth(who.responsible)))["actions"] == \
        ["lock", "reopen"]
    err(client.post(act + "reopen", json={"reason": "x"}, headers=auth(who.helper)), 403)
    d = ok(client.post(act + "reopen", json={"reason": "corectură"}, headers=auth(who.responsible)))
    assert d["state"] == "in_progress"


def test_a_locked_unit_refuses_saves(client, tree, who, auth, campaign):
    unit = tree.units["A1.1"]
    ok(client.post(node_url(campaign, unit, "/actions/lock"), json={}, headers=auth(who.director)))
    e = err(client.put(form_url(campaign, unit), json={"values": VALID_UNIT, "version": 0},
                       headers=auth(who.responsible)), 409)
    assert "locked" in e["message"]
    e = err(client.put(table_url(campaign, tree.classes["A1.1.1"]), json={"values": VALID_CLASS, "version": 0},
                       headers=auth(who.helper)), 409)
    assert "locked above" in e["message"]


def test_the_unit_form_and_the_extended_section(client, tree, who, auth, campaign):
    unit = tree.units["A1.1"]
    form = ok(client.get(form_url(campaign, unit), headers=auth(who.responsible)))
    assert form["section"] == "unit" and form["version"] == 0
    saved = ok(client.put(form_url(campaign, unit), json={"values": VALID_UNIT, "version": 0},
                          headers=auth(who.responsible)))
    assert saved["version"] == 1 and saved["values"]["buildings.classrooms"] == 4
    ext = ok(client.get(form_url(campaign, unit, "extended"), headers=auth(who.responsible)))
    assert ext["section"] == "extended" and ext["editable"] is False
    err(client.get(form_url(campaign, unit, "nope"), headers=auth(who.responsible)), 422)
    err(client.get(form_url(campaign, tree.schools["A1"]), headers=auth(who.director)), 404)
    err(client.get(form_url(campaign, tree.units["B1.1"]), headers=auth(who.inspector)), 404)
    ok(client.post(node_url(campaign, unit, "/actions/request-extended"), json={}, headers=auth(who.inspector)))
    assert ok(client.get(form_url(campaign, unit, "extended"), headers=auth(who.responsible)))["editable"] is True
    d = ok(client.get(node_url(campaign, unit), headers=auth(who.responsible)))
    assert d["extended"] == "requested"


def test_a_unit_and_its_school_are_submitted_through_the_api(client, tree, who, auth, campaign):
    for key in ("A1.1", "A1.2"):
        resp = who.responsible if key == "A1.1" else who.responsible_12
        for k in (0, 1):
            cls = tree.classes[f"{key}.{k}"]
            ok(client.put(table_url(campaign, cls), json={"values": VALID_CLASS, "version": 0}, headers=auth(resp)))
            ok(client.post(f"{API}/{campaign.id}/classes/{cls.id}/actions/submit", json={}, headers=auth(resp)))
        ok(client.put(form_url(campaign, tree.units[key]), json={"values": VALID_UNIT, "version": 0},
                      headers=auth(resp)))
        assert ok(client.post(node_url(campaign, tree.units[key], "/actions/submit"), json={},
                              headers=auth(resp)))["state"] == "submitted"
    school = ok(client.get(node_url(campaign, tree.schools["A1"]), headers=auth(who.director)))
    assert school["children"]["submitted"] == 2 and school["actions"] == ["submit"]
    d = ok(client.post(node_url(campaign, tree.schools["A1"], "/actions/submit"), json={},
                       headers=auth(who.director)))
    assert d["state"] == "submitted"
    e = err(client.post(node_url(campaign, tree.units["A1.1"], "/actions/reopen"), json={"reason": "x"},
                        headers=auth(who.director)), 409)
    assert "reopened first" in e["message"]
