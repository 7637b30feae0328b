"""Campaign pages: list, create → launch → close, progress at every level with per-row actions, and data entry
(draft save with field errors, stale versions, submit problems, read-only after submission)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from core.db import session
from tests import support
from tests.workflows.conftest import VALID_CLASS, fill_class
from workflows import state as sm, values as wv
from workflows.models import Campaign


@pytest.fixture
def as_user(app):
    """as_user(user) → a test client signed in as ``user`` (one client per person)."""
    def make(user):
        c = app.test_client()
        support.login(c, user)
        c.post("/language", data={"lang": "en"})  # the assertions read the English msgids
        return c
    return make


def _fresh(obj):
    """The test's object again, in the session that the last request left behind."""
    return session.get(type(obj), obj.id)


def _state(campaign, target):
    session.expire_all()
    return sm.state_for(campaign, target)


def _node_url(campaign, node):
    return f"/campaigns/{campaign.id}/nodes/{node.id}"


def _class_url(campaign, school_class):
    return f"/campaigns/{campaign.id}/classes/{school_class.id}/table"


# --- list, create, launch, close --------------------------------------------------------------------------

def test_commission_creates_launches_and_closes(who, tree, as_user):
    from forms.operations import sync_builtin
    sync_builtin()
    c = as_user(who.commission)
    assert c.get("/campaigns/new").status_code == 200
    r = c.post("/campaigns/new", data={"name": "Monitorizare 2026", "school_year": tree.year.id,
                                       "deadline": "2026-03-01"})
    assert r.status_code == 303
    camp = session.execute(select(Campaign).where(Campaign.name == "Monitorizare 2026")).scalar_one()
    assert camp.status == "draft" and r.location.endswith(_node_url(camp, tree.ministry))
    page = c.get(_node_url(camp, tree.ministry)).get_data(as_text=True)
    assert "Launch the campaign" in page
    # the draft is invisible to the inspectorate
    inspector = as_user(who.inspector)
    assert inspector.get(_node_url(camp, tree.a)).status_code == 404
    assert "Monitorizare 2026" not in inspector.get("/campaigns").get_data(as_text=True)
    # launching needs a message
    r = c.post(f"/campaigns/{camp.id}/nodes/{tree.ministry.id}/status", data={"op": "launch", "message": " "})
    assert r.status_code == 303 and _fresh(camp).status == "draft"
    r = c.post(f"/campaigns/{camp.id}/nodes/{tree.ministry.id}/status",
               data={"op": "launch", "message": "Vă invităm."}, follow_redirects=True)
    assert r.status_code == 200 and "Inspectorat A" in r.get_data(as_text=True)
    camp = _fresh(camp)
    assert camp.status == "running"
    assert "Monitorizare 2026" in inspector.get("/campaigns").get_data(as_text=True)
    assert inspector.get(_node_url(camp, tree.a)).status_code == 200
    c.post(f"/campaigns/{camp.id}/nodes/{tree.ministry.id}/status", data={"op": "close"})
    assert _fresh(camp).status == "closed"


def test_only_the_commission_creates_or_launches(who, tree, as_user, campaign):
    c = as_user(who.inspector)
    assert c.get("/campaigns/new").status_code == 403
    assert c.post(f"/campaigns/{campaign.id}/nodes/{tree.ministry.id}/status", data={"op": "close"}).status_code \
        == 404  # the ministry is outside the inspector's subtree
    assert c.post(f"/campaigns/{campaign.id}/nodes/{tree.a.id}/status", data={"op": "close"}).status_code == 403
    assert as_user(who.responsible).get("/campaigns").status_code == 200


def test_pupils_have_no_campaign_pages(tree, make_user, as_user, campaign):
    c = as_user(make_user("pupil", tree.schools["A1"], name="Elev"))
    assert c.get("/campaigns").status_code == 403
    assert c.get(_node_url(campaign, tree.schools["A1"])).status_code == 403


# --- progress at every level ------------------------------------------------------------------------------

@pytest.mark.parametrize("role,node_key,children", [
    ("commission", "ministry", ["Inspectorat A", "Inspectorat B"]),
    ("inspector", "a", ["Școala A1", "Școala A2"]),
    ("director", "A1", ["Unitatea A1.1", "Unitatea A1.2"]),
    ("responsible", "A1.1", ["1A", "5A"]),
])
def test_each_level_sees_its_children(who, tree, as_user, campaign, role, node_key, children):
    node = {"ministry": tree.ministry, "a": tree.a}.get(node_key) or tree.schools.get(node_key) \
        or tree.units[node_key]
    r = as_user(getattr(who, role)).get(_node_url(campaign, node))
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for name in children:
        assert name in html
    assert "not started" in html and campaign.deadline.strftime("%Y") in html


def test_other_subtrees_are_404(who, tree, as_user, campaign):
    c = as_user(who.director)
    assert c.get(_node_url(campaign, tree.schools["A2"])).status_code == 404
    assert c.get(_node_url(campaign, tree.a)).status_code == 404
    assert c.get(_class_url(campaign, tree.classes["B1.1.0"])).status_code == 404
    assert as_user(who.inspector_b).get(_node_url(campaign, tree.a)).status_code == 404
    assert c.get(f"/campaigns/99999/nodes/{tree.schools['A1'].id}").status_code == 404


def test_filters_and_row_actions(who, tree, as_user, campaign):
    fill_class(campaign, tree.classes["A1.1.0"], who.responsible)  # A1 becomes in progress
    c = as_user(who.inspector)
    html = c.get(_node_url(campaign, tree.a) + "?show=not_started").get_data(as_text=True)
    assert "Școala A2" in html and "Școala A1" not in html
    html = c.get(_node_url(campaign, tree.a) + "?show=in_progress").get_data(as_text=True)
    assert "Școala A1" in html and "Școala A2" not in html
    html = c.get(_node_url(campaign, tree.a)).get_data(as_text=True)
    action_url = f"/campaigns/{campaign.id}/nodes/{tree.schools['A1'].id}/actions"
    assert action_url in html and 'value="lock"' in html and 'value="exclude"' in html


def test_lock_unlock_and_exclude_through_the_page(who, tree, as_user, campaign):
    c = as_user(who.inspector)
    school = tree.schools["A1"]
    url = f"/campaigns/{campaign.id}/nodes/{school.id}/actions"
    r = c.post(url, data={"action": "lock", "next": _node_url(campaign, tree.a)})
    assert r.status_code == 303 and r.location.endswith(_node_url(campaign, tree.a))
    assert _state(campaign, school).locked
    assert "locked" in c.get(_node_url(campaign, tree.a) + "?show=locked").get_data(as_text=True)
    c.post(url, data={"action": "unlock"})
    assert not _state(campaign, school).locked
    # exclusion needs a reason
    unit_url = f"/campaigns/{campaign.id}/nodes/{tree.units['A1.2'].id}/actions"
    r = c.post(unit_url, data={"action": "exclude", "reason": ""}, follow_redirects=True)
    assert "A reason is required" in r.get_data(as_text=True)
    assert not _state(campaign, tree.units["A1.2"]).excluded
    c.post(unit_url, data={"action": "exclude", "reason": "Unitate desființată"})
    assert _state(campaign, tree.units["A1.2"]).exclusion_reason == "Unitate desființată"
    html = c.get(_node_url(campaign, school)).get_data(as_text=True)
    assert "Unitate desființată" in html
    html = c.get(_node_url(campaign, tree.units["A1.2"])).get_data(as_text=True)
    assert "Exclude" in html and "Unitate desființată" in html  # the history shows the event and its reason


def test_a_role_that_may_not_act_gets_403(who, tree, as_user, campaign):
    c = as_user(who.director)  # a director does not lock schools
    r = c.post(f"/campaigns/{campaign.id}/nodes/{tree.schools['A1'].id}/actions", data={"action": "lock"})
    assert r.status_code == 403
    assert not _state(campaign, tree.schools["A1"]).locked


def test_unit_locks_a_class_and_conflicts_are_messages(who, tree, as_user, campaign):
    c = as_user(who.responsible)
    cls = tree.classes["A1.1.0"]
    url = f"/campaigns/{campaign.id}/classes/{cls.id}/actions"
    c.post(url, data={"action": "lock"})
    assert _state(campaign, cls).locked
    r = c.post(url, data={"action": "lock"}, follow_redirects=True)
    assert "Not possible now" in r.get_data(as_text=True)


# --- data entry -------------------------------------------------------------------------------------------

def test_class_table_renders_from_the_definition(who, tree, as_user, campaign):
    html = as_user(who.responsible).get(_class_url(campaign, tree.classes["A1.1.0"])).get_data(as_text=True)
    assert 'name="version" value="0"' in html
    assert re.search(r'name="ethnicity.roma" value="0" inputmode="numeric"', html)
    assert 'name="pupils" value="20"' in html  # pre-filled from the class parameters
    assert '<output id="f-total-ethnicity"' in html  # computed: read-only
    assert 'class="table-wrap"' in html and "Save draft" in html and "Save and submit" in html


def test_unit_form_has_choices_and_yes_no(who, tree, as_user, campaign):
    html = as_user(who.responsible).get(f"/campaigns/{campaign.id}/nodes/{tree.units['A1.1'].id}/form") \
        .get_data(as_text=True)
    assert 'name="buildings.classes_assigned"' in html and 'value="yes"' in html
    assert 'type="checkbox" name="teaching_languages"' in html


def test_draft_save_and_bad_value_names_the_field(who, tree, as_user, campaign):
    c = as_user(who.responsible)
    cls = tree.classes["A1.1.0"]
    url = _class_url(campaign, cls)
    r = c.post(url, data={"version": "0", "op": "save", "ethnicity.roma": "3", "last_benches.seats": ""})
    assert r.status_code == 303
    assert wv.get_values(campaign, cls).values["ethnicity.roma"] == 3
    r = c.post(url, data={"version": "1", "op": "save", "ethnicity.roma": "abc", "pupils": "500"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Enter a whole number." in html and 'value="abc"' in html
    assert re.search(r"<strong>[^<]*</strong>: Enter a whole number", html)  # the summary names the field
    assert 'aria-invalid="true"' in html
    assert wv.get_values(campaign, cls).version == 1


def test_stale_version_is_refused_with_the_changes_shown(who, tree, as_user, campaign):
    cls = tree.classes["A1.1.0"]
    wv.save_values(who.helper, campaign, cls, {"ethnicity.roma": 4}, 0)  # someone else saved first
    r = as_user(who.responsible).post(_class_url(campaign, cls),
                                      data={"version": "0", "op": "save", "ethnicity.roma": "2",
                                            "ethnicity.hungarian": "1"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert "someone else saved this form" in html
    assert 'name="version" value="1"' in html
    changed = html.split("You entered")[1].split("</table>")[0]
    assert "4" in changed and "2" in changed
    assert 'name="ethnicity.hungarian" value="1"' in html  # the person's other change is kept on the page
    assert wv.get_values(campaign, cls).values["ethnicity.roma"] == 4


def test_submit_lists_broken_rules_then_submits(who, tree, as_user, campaign):
    c = as_user(who.responsible)
    cls = tree.classes["A1.1.0"]
    url = _class_url(campaign, cls)
    r = c.post(url, data={"version": "0", "op": "submit", "ethnicity.roma": "5"})
    assert r.status_code == 200  # the draft is kept; the page lists the problems
    html = r.get_data(as_text=True)
    assert "Problems to fix" in html and "not submitted" in html
    assert len(re.findall(r"<li>", html.split("Problems to fix")[1].split("</ul>")[0])) >= 2
    assert _state(campaign, cls).state == "in_progress"
    cur = wv.get_values(campaign, cls)
    data = {"version": str(cur.version), "op": "submit", "ethnicity.roma": "0"}
    data.update({k: str(v) for k, v in VALID_CLASS.items()})
    r = c.post(url, data=data)
    assert r.status_code == 303
    assert _state(campaign, cls).state == "submitted"
    # submitted → read-only
    html = c.get(url).get_data(as_text=True)
    assert "Read-only" in html and 'name="version"' not in html and "Save draft" not in html
    assert c.post(url, data={"version": str(cur.version + 1), "op": "save"}).status_code == 409
    # the unit reopens it
    c.post(f"/campaigns/{campaign.id}/classes/{cls.id}/actions", data={"action": "reopen", "reason": "Corectură"})
    assert _state(campaign, cls).state == "in_progress"


def test_reviewers_see_read_only_and_may_not_save(who, tree, as_user, campaign):
    c = as_user(who.inspector)
    url = _class_url(campaign, tree.classes["A1.1.0"])
    html = c.get(url).get_data(as_text=True)
    assert "Read-only" in html and 'name="version"' not in html
    assert c.post(url, data={"version": "0", "op": "save", "pupils": "20"}).status_code == 403


def test_locked_class_is_read_only(who, tree, as_user, campaign):
    cls = tree.classes["A1.1.0"]
    sm.transition(who.responsible, campaign, cls, "lock")
    html = as_user(who.helper).get(_class_url(campaign, cls)).get_data(as_text=True)
    assert "Read-only" in html and "locked" in html and "Save draft" not in html


def test_extended_section_only_when_requested(who, tree, as_user, campaign):
    c = as_user(who.responsible)
    url = f"/campaigns/{campaign.id}/nodes/{tree.units['A1.1'].id}/extended"
    assert c.get(url).status_code == 404
    sm.transition(_fresh(who.inspector), _fresh(campaign), _fresh(tree.units["A1.1"]), "request-extended")
    html = c.get(url).get_data(as_text=True)
    assert 'name="commission.established"' in html and "Save draft" in html


def test_node_page_links_the_campaign(who, tree, as_user, campaign):
    c = as_user(who.director)
    html = c.get(f"/nodes/{tree.schools['A1'].id}").get_data(as_text=True)
    assert f"/nodes/{tree.schools['A1'].id}/campaigns" in html
    html = c.get(f"/nodes/{tree.schools['A1'].id}/campaigns").get_data(as_text=True)
    assert _node_url(campaign, tree.schools["A1"]) in html


def test_every_template_avoids_inline_style_and_script(who, tree, as_user, campaign):
    c = as_user(who.responsible)
    for url in ("/campaigns", _node_url(campaign, tree.units["A1.1"]), _class_url(campaign, tree.classes["A1.1.0"]),
                f"/campaigns/{campaign.id}/nodes/{tree.units['A1.1'].id}/form"):
        html = c.get(url).get_data(as_text=True)
        assert "style=" not in html and "<script>" not in html and " onclick" not in html


def test_deadline_before_opening_is_refused(who, tree, as_user):
    from forms.operations import sync_builtin
    sync_builtin()
    r = as_user(who.commission).post("/campaigns/new", data={
        "name": "X", "school_year": tree.year.id, "deadline": "2026-01-01", "opens_on": "2026-02-01"})
    assert r.status_code == 422 and "before its deadline" in r.get_data(as_text=True)
    assert dt.date(2026, 1, 1)
