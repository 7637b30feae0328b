"""The unit's buildings and classes pages: who may add and edit, validation with field errors, audit, and a class
added during a running campaign joining it only while the unit's data can be edited."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import session
from tenants.models import Building, SchoolClass
from tests.workflows.conftest import launch, people, submit_unit
from workflows.models import CampaignState, CampaignValues, WorkflowEvent

CLASS = {"name": "7B", "grade_level": "7", "teaching_language": "ro", "education_form": "day", "pupils": "24",
         "building_id": ""}


@pytest.fixture
def who(tree, make_user):
    return people(tree, make_user)


@pytest.fixture
def as_user(app, login):
    def make(user):
        c = app.test_client()
        login(user, c)
        return c
    return make


def _audits(action):
    return session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars().all()


def _fresh(obj):
    """The row as stored now (a request ends the scoped session, detaching what the test loaded before)."""
    return session.get(type(obj), obj.id)


def _class(unit, name):
    return session.execute(select(SchoolClass).where(SchoolClass.unit_id == unit.id,
                                                     SchoolClass.name == name)).scalar_one_or_none()


def test_unit_page_links_to_the_structure_pages(tree, who, as_user):
    unit = tree.units["A1.1"]
    r = as_user(who.responsible).get(f"/nodes/{unit.id}")
    assert f"/nodes/{unit.id}/structure".encode() in r.data
    r = as_user(who.teacher).get(f"/nodes/{unit.id}")
    assert r.status_code == 200 and f"/nodes/{unit.id}/structure".encode() not in r.data


def test_responsible_adds_and_edits_a_building_and_a_class(tree, who, as_user):
    unit = tree.units["A1.1"]
    c = as_user(who.responsible)
    r = c.get(f"/nodes/{unit.id}/structure")
    assert r.status_code == 200 and b"1A" in r.data and b"Corp A" in r.data

    r = c.post(f"/nodes/{unit.id}/buildings/new", data={"name": "Corp B", "address": "Str. Morii 2",
                                                          "classrooms": "6"})
    assert r.status_code == 302
    b = session.execute(select(Building).where(Building.unit_id == unit.id, Building.name == "Corp B")).scalar_one()
    assert (b.address, b.classrooms) == ("Str. Morii 2", 6)
    assert any(a.object_id == str(b.id) for a in _audits("building.create"))

    r = c.post(f"/buildings/{b.id}/edit", data={"name": "Corp B", "address": "Str. Morii 4", "classrooms": "8"})
    b = _fresh(b)
    assert r.status_code == 302 and (b.address, b.classrooms) == ("Str. Morii 4", 8)
    (upd,) = [a for a in _audits("building.update") if a.object_id == str(b.id)]
    assert upd.new == {"address": "Str. Morii 4", "classrooms": 8}

    r = c.post(f"/nodes/{unit.id}/classes/new?year={tree.year.id}",
               data={**CLASS, "combined": "y", "building_id": str(b.id)})
    assert r.status_code == 302
    new = _class(unit, "7B")
    assert (new.grade_level, new.pupils, new.combined, new.building_id, new.school_year_id) == \
        (7, 24, True, b.id, tree.year.id)
    assert any(a.object_id == str(new.id) and a.user_id == who.responsible.id for a in _audits("class.create"))

    r = c.post(f"/classes/{new.id}/edit", data={**CLASS, "name": "7C", "pupils": "0", "building_id": ""})
    assert r.status_code == 302
    new = _fresh(new)
    assert (new.name, new.pupils, new.combined, new.building_id) == ("7C", 0, False, None)
    (upd,) = [a for a in _audits("class.update") if a.object_id == str(new.id)]
    assert upd.old["name"] == "7B" and upd.new["name"] == "7C" and upd.new["pupils"] == 0
    page = c.get(f"/nodes/{unit.id}/structure").get_data(as_text=True)
    assert "7C" in page and "Corp B" in page


def test_validation_errors_are_shown_on_the_field(tree, who, as_user):
    unit = tree.units["A1.1"]
    c = as_user(who.responsible)
    before = session.execute(select(SchoolClass).where(SchoolClass.unit_id == unit.id)).scalars().all()
    r = c.post(f"/nodes/{unit.id}/classes/new", data={**CLASS, "name": "1A"})  # the tree's class of grade I
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'id="error-name"' in html and "1A" in html
    r = c.post(f"/nodes/{unit.id}/classes/new", data={**CLASS, "pupils": "201"})
    assert r.status_code == 200 and 'id="error-pupils"' in r.get_data(as_text=True)
    r = c.post(f"/nodes/{unit.id}/classes/new", data={**CLASS, "pupils": "-1"})
    assert 'id="error-pupils"' in r.get_data(as_text=True)
    # renaming onto another class of the same unit and year
    r = c.post(f"/classes/{tree.classes['A1.1.1'].id}/edit", data={**CLASS, "name": "1A"})
    assert r.status_code == 200 and 'id="error-name"' in r.get_data(as_text=True)
    assert _fresh(tree.classes["A1.1.1"]).name == "5A"
    # a building of another unit is not a choice
    other = tree.buildings["A1.2"]
    r = c.post(f"/nodes/{unit.id}/classes/new", data={**CLASS, "building_id": str(other.id)})
    assert r.status_code == 200 and 'id="error-building_id"' in r.get_data(as_text=True)
    r = c.post(f"/nodes/{unit.id}/buildings/new", data={"name": "Corp A"})
    assert r.status_code == 200 and 'id="error-name"' in r.get_data(as_text=True)
    after = session.execute(select(SchoolClass).where(SchoolClass.unit_id == unit.id)).scalars().all()
    assert len(after) == len(before)
    # the same name in another unit of the school is fine (the director adds it)


def test_director_and_school_admin_edit_in_their_school(tree, who, as_user, make_user):
    unit = tree.units["A1.2"]
    r = as_user(who.director).post(f"/nodes/{unit.id}/classes/new", data={**CLASS, "name": "1A"})
    assert r.status_code == 200  # 1A exists in A1.2 too
    r = as_user(who.director).post(f"/nodes/{unit.id}/classes/new", data=CLASS)
    assert r.status_code == 302 and _class(unit, "7B") is not None
    admin = make_user("school_admin", tree.schools["A1"])
    r = as_user(admin).post(f"/classes/{tree.classes['A1.1.0'].id}/edit", data={**CLASS, "name": "1A"})
    assert r.status_code == 302 and _fresh(tree.classes["A1.1.0"]).grade_level == 7
    # the director of the neighbouring school does not see this school's units at all
    r = as_user(who.director_a2).get(f"/nodes/{unit.id}/structure")
    assert r.status_code == 404


@pytest.mark.parametrize("role", ["teacher", "inspector", "isg", "unit_helper"])
def test_other_roles_may_not(tree, who, as_user, make_user, role):
    where = {"teacher": tree.schools["A1"], "inspector": tree.a, "isg": tree.a, "unit_helper": tree.units["A1.1"]}
    c = as_user(make_user(role, where[role]))
    unit = tree.units["A1.1"]
    for method, url, data in [("get", f"/nodes/{unit.id}/structure", None),
                              ("post", f"/nodes/{unit.id}/classes/new", CLASS),
                              ("post", f"/nodes/{unit.id}/buildings/new", {"name": "X"}),
                              ("get", f"/classes/{tree.classes['A1.1.0'].id}/edit", None),
                              ("post", f"/buildings/{tree.buildings['A1.1'].id}/edit", {"name": "X"})]:
        assert getattr(c, method)(url, data=data).status_code == 403, (role, url)
    assert _class(unit, "7B") is None and _fresh(tree.buildings["A1.1"]).name == "Corp A"


def test_other_county_is_not_found(tree, who, as_user):
    c = as_user(who.responsible)
    assert c.get(f"/nodes/{tree.units['B1.1'].id}/structure").status_code == 404
    assert c.get(f"/classes/{tree.classes['B1.1.0'].id}/edit").status_code == 404
    assert c.get(f"/buildings/{tree.buildings['B1.1'].id}/edit").status_code == 404


def test_structure_pages_are_for_units_only(tree, who, as_user):
    assert as_user(who.director).get(f"/nodes/{tree.schools['A1'].id}/structure").status_code == 404


def _rows(campaign, school_class):
    st = session.execute(select(CampaignState).where(CampaignState.campaign_id == campaign.id,
                                                     CampaignState.class_id == school_class.id)).scalar_one_or_none()
    vals = [] if st is None else session.execute(select(CampaignValues).where(
        CampaignValues.state_id == st.id)).scalars().all()
    return st, vals


def test_a_class_added_during_a_running_campaign_joins_it(tree, who, as_user):
    campaign = launch(who, tree)
    unit = tree.units["A1.1"]
    unit_state = session.execute(select(CampaignState).where(
        CampaignState.campaign_id == campaign.id, CampaignState.node_id == unit.id,
        CampaignState.level == "unit")).scalar_one()
    r = as_user(who.responsible).post(f"/nodes/{unit.id}/classes/new", data=CLASS, follow_redirects=True)
    assert campaign.name in r.get_data(as_text=True)
    st, vals = _rows(campaign, _class(unit, "7B"))
    assert (st.level, st.node_id, st.parent_id, st.path, st.county_id, st.school_id, st.state, st.locked,
            st.excluded, st.extended) == ("class", unit.id, unit_state.id, f"{unit_state.path}c{st.class_id}/",
                                           tree.a.id, tree.schools["A1"].id, "not_started", False, False, "none")
    assert [(v.section, v.version, v.values) for v in vals] == [("class", 0, {})]
    ev = session.execute(select(WorkflowEvent).where(WorkflowEvent.state_id == st.id)).scalar_one()
    assert ev.action == "class-added" and ev.user_id == who.responsible.id
    assert any(a.object_id == str(st.id) for a in _audits("workflow.class-added"))
    # the unit now waits for the new class too: its table can be read through the campaign pages
    from workflows import values
    assert values.get_values(campaign, _class(unit, "7B")).version == 0


def test_a_class_added_after_the_unit_submitted_stays_out(tree, who, as_user):
    campaign = launch(who, tree)
    unit = tree.units["A1.1"]
    submit_unit(campaign, tree, "A1.1", who.responsible)
    r = as_user(who.responsible).post(f"/nodes/{unit.id}/classes/new", data=CLASS, follow_redirects=True)
    new = _class(unit, "7B")
    assert new is not None  # in the register
    assert _rows(campaign, new) == (None, [])
    html = r.get_data(as_text=True)
    assert "flash-error" in html and campaign.name in html


def test_add_class_refuses_when_locked_or_excluded(tree, who):
    from core.errors import Conflict
    from tenants import operations
    from workflows import state, structure
    campaign = launch(who, tree)
    state.transition(who.director, campaign, tree.units["A1.1"], "lock")
    c = operations.create_class(tree.units["A1.1"], tree.year, name="8Z", grade_level=8)
    with pytest.raises(Conflict):
        structure.add_class(campaign, c, who.responsible)
    state.transition(who.inspector, campaign, tree.units["A1.2"], "exclude", reason="închisă")
    c2 = operations.create_class(tree.units["A1.2"], tree.year, name="8Z", grade_level=8)
    joined, refused = structure.join_running_campaigns(c2, who.director)
    assert joined == [] and [cmp for cmp, _why in refused] == [campaign]
    # a unit in another, still open school joins; twice is refused
    c3 = operations.create_class(tree.units["A2.1"], tree.year, name="8Z", grade_level=8)
    structure.add_class(campaign, c3, who.responsible)
    with pytest.raises(Conflict):
        structure.add_class(campaign, c3, who.responsible)


def test_year_switch_appears_on_unit_pages_when_there_are_two_years(client, tree, make_user, login):
    import datetime as dt

    from tenants import operations
    operations.create_school_year("2024-2025", dt.date(2024, 9, 9), dt.date(2025, 6, 20))
    unit = tree.units["A1.1"]
    login(make_user("unit_responsible", unit))
    for path in (f"/nodes/{unit.id}", f"/nodes/{unit.id}/structure"):
        html = client.get(path).get_data(as_text=True)
        assert 'class="year-switch"' in html and "2024-2025" in html and "2025-2026" in html, path
