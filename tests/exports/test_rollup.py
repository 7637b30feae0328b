"""Roll-up snapshots through the real workflow: hand-checked numbers for a unit, a school as the sum of its units,
exclusions with reasons, re-submission after reopen and the extended section refreshing the chain above, and the
check against the full recomputation (which must be able to fail)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import session
from exports import reports, rollup
from exports.models import Snapshot
from exports.risk import flagged_classes, risk_by_node, where_risk
from forms.indicators_rollup import Aggregate
from workflows import queries, values
from workflows import state as sm
from workflows.models import CampaignState, CampaignValues
from tests.workflows.conftest import VALID_UNIT, fill_class, fill_unit, launch, people, submit_unit

# Class 0 of a unit (grade 1, 20 pupils): 12 Roma of 20 (predominantly Roma, a risk); class 1 (grade 5, 21): 2.
TABLE_0 = {"pupils": 20, "ethnicity.romanian": 8, "ethnicity.roma": 12, "ethnicity.undeclared": 0,
           "parents_education.unknown": 20,
           "last_benches.seats": 6, "last_benches.ethnicity.roma": 5}
TABLE_1 = {"pupils": 21, "ethnicity.romanian": 19, "ethnicity.roma": 2, "ethnicity.undeclared": 0,
           "parents_education.unknown": 21,
           "last_benches.seats": 6, "last_benches.ethnicity.roma": 0}


@pytest.fixture
def who(tree, make_user):
    return people(tree, make_user)


@pytest.fixture
def campaign(who, tree):
    return launch(who, tree)


@pytest.fixture
def issued(monkeypatch):
    """The on_snapshot calls (campaign id, node id, reason), recorded instead of generating reports."""
    calls = []
    monkeypatch.setattr(reports, "on_snapshot", lambda campaign_id, node_id, reason: calls.append(
        (node_id, reason)))
    return calls


def snap(campaign, node) -> Snapshot | None:
    return session.execute(select(Snapshot).where(Snapshot.campaign_id == campaign.id,
                                                  Snapshot.node_id == node.id)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def agg(campaign, node) -> Aggregate:
    return Aggregate.from_dict(snap(campaign, node).aggregate)


def submit_tables(campaign, tree, key, actor, tables=(TABLE_0, TABLE_1)):
    for k, table in enumerate(tables):
        c = tree.classes[f"{key}.{k}"]
        values.save_values(actor, campaign, c, table, values.get_values(campaign, c).version)
        sm.transition(actor, campaign, c, "submit")
    fill_unit(campaign, tree.units[key], actor)
    sm.transition(actor, campaign, tree.units[key], "submit")


def test_a_submitted_unit_has_its_hand_checked_snapshot(campaign, tree, who, issued):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    s = snap(campaign, tree.units["A1.1"])
    a = Aggregate.from_dict(s.aggregate)
    assert (a.units, a.classes, a.pupils, a.classes_missing_pupils) == (1, 2, 41, 0)
    assert a.groups["ethnicity.roma"] == {"n": 14, "N": 41, "missing": 0}
    assert a.bench["ethnicity.roma"] == {"n": 5, "N": 12, "class_n": 14, "class_N": 41, "missing": 0}
    assert a.outcomes["ethnicity"]["class"] == {"risk": 1}
    # 12/20 > 0.5 while the unit is 14/41 ≤ 0.5: class 1A is predominantly Roma (a risk); no locality counts.
    assert s.level == "unit" and s.version == 1 and s.at_risk and s.missing_data
    assert "ethnicity.class" in s.risk_codes
    assert s.parent_node_id == tree.schools["A1"].id and s.county_id == tree.a.id
    class_1a = tree.classes["A1.1.0"]
    risk = [r for r in s.details["risk"] if r["outcome"] == "risk" and r["level"] == "class"]
    assert {(r["group"], r["item"], r["item_name"]) for r in risk} == {("ethnicity.roma", f"c{class_1a.id}", "1A")}
    assert risk[0]["share"] == 0.6 and risk[0]["unit"] == {"id": tree.units["A1.1"].id, "name": "Unitatea A1.1"}
    assert s.details["dissimilarity"]["ethnicity.roma"] is not None
    assert [c["name"] for c in s.details["children"]] == ["1A", "5A"]
    assert s.details["children"][0]["groups"]["ethnicity.roma"]["n"] == 12
    assert issued == [(tree.units["A1.1"].id, "submitted")]
    # The extended section's blocks: the classes with a risk or missing-data item (1A; 5A has neither).
    flagged = flagged_classes(campaign, sm.state_for(campaign, tree.units["A1.1"]))
    assert flagged == [{"key": f"c{class_1a.id}", "label": "1A"}]
    assert risk_by_node(campaign, [tree.units["A1.1"].id, tree.units["A1.2"].id]) == {
        tree.units["A1.1"].id: {"at_risk": True, "missing_data": True, "risk_codes": s.risk_codes}}
    unit_rows = queries.children(campaign, sm.state_for(campaign, tree.schools["A1"]))
    assert [r.node_id for r in session.execute(where_risk(unit_rows, "at_risk")).scalars()] == [
        tree.units["A1.1"].id]


def test_a_school_is_the_sum_of_its_units(campaign, tree, who, issued):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    submit_tables(campaign, tree, "A1.2", who.responsible_12, (TABLE_1, TABLE_1))
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    school = agg(campaign, tree.schools["A1"])
    assert school == agg(campaign, tree.units["A1.1"]) + agg(campaign, tree.units["A1.2"])
    assert (school.units, school.classes, school.pupils, school.units_at_risk) == (2, 4, 83, 1)
    assert school.groups["ethnicity.roma"] == {"n": 18, "N": 83, "missing": 0}
    d = snap(campaign, tree.schools["A1"]).details
    assert [(c["name"], c["units"], c["pupils"], c["at_risk"]) for c in d["children"]] == [
        ("Unitatea A1.1", 1, 41, True), ("Unitatea A1.2", 1, 42, False)]
    assert d["units_at_risk"] == [{"id": tree.units["A1.1"].id, "name": "Unitatea A1.1",
                                   "risk_codes": snap(campaign, tree.units["A1.1"]).risk_codes}]
    assert issued[-1] == (tree.schools["A1"].id, "submitted")
    assert rollup.recompute(campaign, tree.schools["A1"]) == school
    assert rollup.check(campaign) == []


def test_exclusions_leave_the_sums_and_appear_with_their_reasons(campaign, tree, who, issued, make_user):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    sm.transition(who.inspector, campaign, tree.units["A1.2"], "exclude", reason="Unitate în renovare")
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    sm.transition(who.inspector, campaign, tree.schools["A2"], "exclude", reason="Școală desființată")
    sm.transition(who.isg, campaign, tree.a, "submit")
    assert agg(campaign, tree.schools["A1"]) == agg(campaign, tree.units["A1.1"]) == agg(campaign, tree.a)
    county = snap(campaign, tree.a).details
    assert [(e["name"], e["level"], e["reason"]) for e in county["exclusions"]] == [
        ("Școala A2", "school", "Școală desființată"), ("Unitatea A1.2", "unit", "Unitate în renovare")]
    assert [(c["name"], c["excluded"], c["exclusion_reason"], c["included"]) for c in county["children"]] == [
        ("Școala A1", False, None, True), ("Școala A2", True, "Școală desființată", False)]
    # The county's submission (re)built the nation: county B is not submitted, so the nation is county A.
    nation = snap(campaign, tree.ministry)
    assert nation.level == "ministry" and nation.state_id is None and nation.parent_node_id is None
    assert Aggregate.from_dict(nation.aggregate) == agg(campaign, tree.a)
    assert (tree.ministry.id, "submitted") in issued and (tree.a.id, "submitted") in issued
    assert rollup.recompute(campaign, tree.ministry) == agg(campaign, tree.a)
    assert rollup.check(campaign) == []
    # A unit of county B (no snapshot above it yet) leaves the nation as it is: nothing to re-issue there.
    nation_version = nation.version
    issued.clear()
    submit_unit(campaign, tree, "B1.1", make_user("unit_responsible", tree.units["B1.1"]))
    assert issued == [(tree.units["B1.1"].id, "submitted")]
    assert snap(campaign, tree.ministry).version == nation_version
    assert rollup.check(campaign) == []


def _reopen_down_to_unit(campaign, tree, who, key="A1.1"):
    sm.transition(who.commission, campaign, tree.a, "reopen", reason="corectură")
    sm.transition(who.inspector, campaign, tree.schools["A1"], "reopen", reason="corectură")
    sm.transition(who.director, campaign, tree.units[key], "reopen", reason="corectură")


def test_resubmission_after_reopen_bumps_versions_and_refreshes_the_chain(campaign, tree, who, issued):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    submit_tables(campaign, tree, "A1.2", who.responsible_12, (TABLE_1, TABLE_1))
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    for key in ("A2.1", "A2.2"):
        sm.transition(who.inspector, campaign, tree.units[key], "exclude", reason="fără elevi")
    sm.transition(make_director(tree, who), campaign, tree.schools["A2"], "submit")
    sm.transition(who.isg, campaign, tree.a, "submit")
    before = {n: snap(campaign, n).version for n in (tree.units["A1.1"], tree.schools["A1"], tree.a, tree.ministry)}
    assert agg(campaign, tree.ministry).pupils == 83
    _reopen_down_to_unit(campaign, tree, who)
    # Reopened nodes leave the sums above at once (a reopened node keeps its own snapshot, its data as last
    # submitted): the school counts its other unit, the county no submitted school, the nation no county.
    assert agg(campaign, tree.schools["A1"]).pupils == 42
    assert agg(campaign, tree.a).units == agg(campaign, tree.ministry).units == 0
    assert snap(campaign, tree.units["A1.1"]).version == before[tree.units["A1.1"]]
    assert rollup.check(campaign) == []
    issued.clear()
    c = tree.classes["A1.1.1"]
    sm.transition(who.responsible, campaign, c, "reopen", reason="greșeală")
    values.save_values(who.responsible, campaign, c, {"pupils": 25, "ethnicity.romanian": 23,
                                                      "parents_education.unknown": 25},
                       values.get_values(campaign, c).version)
    sm.transition(who.responsible, campaign, c, "submit")
    sm.transition(who.responsible, campaign, tree.units["A1.1"], "submit")
    after = {n: snap(campaign, n).version for n in before}
    assert after[tree.units["A1.1"]] == before[tree.units["A1.1"]] + 1
    assert all(after[n] > before[n] for n in before)
    assert issued == [(tree.units["A1.1"].id, "submitted"), (tree.schools["A1"].id, "reissued"),
                      (tree.a.id, "reissued"), (tree.ministry.id, "reissued")]
    assert agg(campaign, tree.units["A1.1"]).pupils == 45
    assert agg(campaign, tree.schools["A1"]).pupils == 87
    assert rollup.check(campaign) == []
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    sm.transition(who.isg, campaign, tree.a, "submit")
    assert agg(campaign, tree.a).pupils == agg(campaign, tree.ministry).pupils == 87
    assert agg(campaign, tree.ministry) == rollup.recompute(campaign, tree.ministry)
    assert rollup.check(campaign) == []


def make_director(tree, who):
    from tests.support import make_user
    return make_user("director", tree.schools["A2"], "director.a2.rollup@test.arbor.ro", "Director A2")


def test_the_extended_section_reissues_the_chain_above(campaign, tree, who, issued):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    submit_unit(campaign, tree, "A1.2", who.responsible_12)
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    unit = tree.units["A1.1"]
    before = {n: (snap(campaign, n).version, snap(campaign, n).aggregate) for n in (unit, tree.schools["A1"])}
    sm.transition(who.inspector, campaign, unit, "request-extended")
    cur = values.get_values(campaign, unit, "extended")
    flagged = cur.context["flagged_classes"]
    assert {"key": f"c{tree.classes['A1.1.0'].id}", "label": "1A"} in flagged
    answers = {"commission.established": "da", "plan.exists": "nu", "measures": ["mixed_seating"]}
    for f in flagged:
        answers[f"flagged_classes.{f['key']}.explanation"] = "Clasă formată la înscriere."
        answers[f"flagged_classes.{f['key']}.formation_reason"] = "entry_assignment"
    values.save_values(who.responsible, campaign, unit, answers, cur.version, section="extended")
    issued.clear()
    sm.transition(who.responsible, campaign, unit, "submit-extended")
    assert issued == [(unit.id, "extended"), (tree.schools["A1"].id, "reissued")]
    s = snap(campaign, unit)
    assert s.version == before[unit][0] + 1 and s.aggregate == before[unit][1]
    assert s.details["extended"]["state"] == "submitted"
    assert s.details["extended"]["values"]["commission.established"] is True
    assert snap(campaign, tree.schools["A1"]).version == before[tree.schools["A1"]][0] + 1
    assert snap(campaign, tree.a) is None  # the county is not submitted: nothing to re-issue there
    assert rollup.check(campaign) == []


def test_the_check_finds_a_snapshot_that_differs_from_the_raw_tables(campaign, tree, who, issued):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    submit_unit(campaign, tree, "A1.2", who.responsible_12)
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    assert rollup.check(campaign) == []
    # A class table changed behind the workflow's back: the unit and the school no longer match.
    row = session.execute(select(CampaignValues).join(CampaignState, CampaignState.id == CampaignValues.state_id)
                          .where(CampaignState.campaign_id == campaign.id,
                                 CampaignState.class_id == tree.classes["A1.1.1"].id)).scalar_one()
    row.values = {**row.values, "pupils": 30, "ethnicity.romanian": 28, "parents_education.unknown": 30}
    session.flush()
    diffs = rollup.check(campaign)
    fields = {(d["node_id"], d["field"]) for d in diffs}
    assert (tree.units["A1.1"].id, "pupils") in fields and (tree.schools["A1"].id, "pupils") in fields
    pupils = next(d for d in diffs if d["node_id"] == tree.schools["A1"].id and d["field"] == "pupils")
    assert (pupils["snapshot"], pupils["recomputed"]) == (82, 91)
    # A rebuild from the raw tables makes them agree again.
    counts = rollup.rebuild(campaign)
    assert counts == {"unit": 2, "school": 1, "inspectorate": 0, "ministry": 0}
    assert rollup.check(campaign) == [] and agg(campaign, tree.schools["A1"]).pupils == 91


def test_never_saved_tables_count_as_missing_until_submitted(campaign, tree, who, issued):
    unit = tree.units["A1.1"]
    # Provisional: nothing saved yet, every class table is missing data.
    a = rollup.recompute(campaign, unit, only_submitted=False)
    assert (a.units, a.classes, a.pupils, a.classes_missing_pupils, a.units_with_missing_data) == (1, 2, 0, 2, 1)
    fill_class(campaign, tree.classes["A1.1.0"], who.responsible)
    a = rollup.recompute(campaign, unit, only_submitted=False)
    assert (a.pupils, a.classes_missing_pupils) == (20, 1)
    # The school counts only submitted units; provisional sums count every unit that is not excluded.
    assert rollup.recompute(campaign, tree.schools["A1"]).units == 0
    assert rollup.recompute(campaign, tree.schools["A1"], only_submitted=False).units == 2


def test_a_submitted_never_saved_table_counts_with_the_form_defaults(campaign, tree, who, issued):
    # The built-in class table cannot be submitted with its defaults (the bench seats have none), so the state is
    # set directly: what counts is what get_values shows for it.
    row = sm.state_for(campaign, tree.classes["A1.1.0"])
    row.state = "submitted"
    session.flush()
    shown = values.get_values(campaign, tree.classes["A1.1.0"])
    assert shown.version == 0 and shown.values["pupils"] == 20 and shown.values["ethnicity.undeclared"] == 20
    a = rollup.recompute(campaign, tree.units["A1.1"], only_submitted=False)
    assert (a.pupils, a.classes_missing_pupils) == (20, 1)
    assert a.groups["ethnicity.roma"] == {"n": 0, "N": 20, "missing": 1}
    assert a.bench["ethnicity.roma"]["missing"] == 2  # no seats in the defaults, nothing in the unsaved table


def test_contradictory_draft_counts_make_a_class_missing_instead_of_failing(campaign, tree, who, issued):
    c = tree.classes["A1.1.0"]
    values.save_values(who.responsible, campaign, c, {"ethnicity.roma": 30, "ethnicity.undeclared": 0},
                       values.get_values(campaign, c).version)  # 30 Roma in a class of 20 (a draft)
    fill_class(campaign, tree.classes["A1.1.1"], who.responsible)
    a = rollup.recompute(campaign, tree.units["A1.1"], only_submitted=False)
    assert (a.classes, a.pupils, a.classes_missing_pupils) == (2, 21, 1)


def test_snapshot_node_writes_and_rewrites_with_a_new_version(campaign, tree, who, issued):
    row = sm.state_for(campaign, tree.units["A1.1"])
    first = rollup.snapshot_node(campaign, row)
    assert first.version == 1 and Aggregate.from_dict(first.aggregate).classes == 2
    again = rollup.snapshot_node(campaign, row)
    assert again.id == first.id and again.version == 2
    nation = rollup.snapshot_nation(campaign)
    assert nation.level == "ministry" and Aggregate.from_dict(nation.aggregate).units == 0
    assert VALID_UNIT  # the unit form is not needed for a snapshot
