"""The report data dict (exports.report_data.build): from the snapshots once submitted, provisional before, with
totals, risk, the breakdown by child node, completion and exclusions with reasons — JSON-ready and without text
in any language."""
from __future__ import annotations

import json

import pytest

from exports import report_data, reports, rollup
from forms.indicators_rollup import Aggregate
from workflows import state as sm
from workflows import values
from tests.exports.test_rollup import TABLE_0, TABLE_1, submit_tables
from tests.workflows.conftest import fill_class, launch, people, submit_unit

CONTRACT_KEYS = {"schema", "campaign", "node", "version", "reason", "provisional", "generated_at", "ruleset",
                 "completion", "totals", "risk", "children", "exclusions", "dissimilarity", "aggregate"}


@pytest.fixture
def who(tree, make_user):
    return people(tree, make_user)


@pytest.fixture
def campaign(who, tree, monkeypatch):
    monkeypatch.setattr(reports, "on_snapshot", lambda campaign_id, node_id, reason: None)
    return launch(who, tree)


def roundtrip(data: dict) -> dict:
    """What the report stores: canonical JSON (fails on anything not JSON-ready)."""
    return json.loads(json.dumps(data, sort_keys=True, allow_nan=False))


def test_a_submitted_unit_reads_its_snapshot(campaign, tree, who):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    unit = tree.units["A1.1"]
    data = report_data.build(campaign, unit, version=3, reason="submitted")
    assert roundtrip(data) == data and CONTRACT_KEYS <= set(data)
    assert data["schema"] == 1 and data["version"] == 3 and data["reason"] == "submitted"
    assert data["provisional"] is False
    assert data["campaign"] == {"id": campaign.id, "name": "Monitorizare 2025", "school_year": "2025-2026"}
    assert data["node"] == {"id": unit.id, "level": "unit", "code": unit.code, "name": "Unitatea A1.1",
                            "county": {"id": tree.a.id, "name": "Inspectorat A"},
                            "school": {"id": tree.schools["A1"].id, "name": "Școala A1"}}
    assert data["ruleset"] == {"key": "segregation", "version": 1}
    assert data["completion"] == {"children_level": "class", "total": 2, "submitted": 2, "excluded": 0,
                                  "pending": 0}
    totals = data["totals"]
    assert (totals["units"], totals["classes"], totals["pupils"], totals["units_at_risk"]) == (1, 2, 41, 1)
    roma = totals["groups"]["ethnicity.roma"]
    assert (roma["n"], roma["N"]) == (14, 41) and roma["share"] == pytest.approx(14 / 41, abs=1e-3)
    assert [c["name"] for c in data["children"]] == ["1A", "5A"]
    assert any(r["outcome"] == "risk" and r["item_name"] == "1A" for r in data["risk"])
    assert data["dissimilarity"]["ethnicity.roma"] is not None
    assert data["exclusions"] == [] and data["snapshot"]["version"] == 1
    assert Aggregate.from_dict(data["aggregate"]) == rollup.recompute(campaign, unit)
    assert data["extended"] == {"state": "none", "values": {}}
    sm.transition(who.inspector, campaign, unit, "request-extended")
    assert report_data.build(campaign, unit)["extended"] == {"state": "requested", "values": {}}


def test_a_submitted_county_has_children_completion_and_exclusions(campaign, tree, who):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    sm.transition(who.inspector, campaign, tree.units["A1.2"], "exclude", reason="Unitate în renovare")
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    sm.transition(who.inspector, campaign, tree.schools["A2"], "exclude", reason="Școală desființată")
    sm.transition(who.isg, campaign, tree.a, "submit")
    data = roundtrip(report_data.build(campaign, tree.a))
    assert data["provisional"] is False and data["reason"] == "on_demand"
    assert data["node"]["county"] == {"id": tree.a.id, "name": "Inspectorat A"} and data["node"]["school"] is None
    assert data["completion"] == {"children_level": "school", "total": 2, "submitted": 1, "excluded": 1,
                                  "pending": 0}
    assert [(c["code"], c["name"], c["state"], c["excluded"], c["units"], c["pupils"]) for c in data["children"]] == [
        (tree.schools["A1"].code, "Școala A1", "submitted", False, 1, 41),
        (tree.schools["A2"].code, "Școala A2", "not_started", True, 0, 0)]
    assert [(e["name"], e["level"], e["reason"]) for e in data["exclusions"]] == [
        ("Școala A2", "school", "Școală desființată"), ("Unitatea A1.2", "unit", "Unitate în renovare")]
    assert data["totals"]["pupils"] == 41 and data["totals"]["units_at_risk"] == 1
    assert data["units_at_risk"] == [{"id": tree.units["A1.1"].id, "name": "Unitatea A1.1",
                                      "risk_codes": data["units_at_risk"][0]["risk_codes"]}]
    assert data["units_at_risk_total"] == 1 and data["risk_total"] >= len(data["risk"])
    assert all(r["unit"]["id"] == tree.units["A1.1"].id for r in data["risk"]) and data["risk"]
    # The child's groups are compared with the county (the school is the whole county here: no gap).
    assert data["children"][0]["groups"]["ethnicity.roma"]["gap_pp"] == 0.0


def test_a_school_before_submission_is_provisional_from_snapshots_and_recomputation(campaign, tree, who):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    fill_class(campaign, tree.classes["A1.2.0"], who.responsible_12)  # A1.2: one table saved, one never saved
    data = roundtrip(report_data.build(campaign, tree.schools["A1"]))
    assert data["provisional"] is True and data["snapshot"] is None
    assert data["sources"] == {"snapshots": 1, "recomputed": 1}
    assert data["completion"] == {"children_level": "unit", "total": 2, "submitted": 1, "excluded": 0,
                                  "pending": 1}
    assert (data["totals"]["units"], data["totals"]["classes"], data["totals"]["pupils"],
            data["totals"]["classes_missing_pupils"]) == (2, 4, 61, 1)
    pending = data["children"][1]
    assert (pending["name"], pending["state"], pending["pupils"], pending["included"]) == (
        "Unitatea A1.2", "in_progress", 20, True)
    assert Aggregate.from_dict(data["aggregate"]) == rollup.recompute(campaign, tree.schools["A1"],
                                                                      only_submitted=False)


def test_an_unsubmitted_unit_is_evaluated_from_its_current_tables(campaign, tree, who):
    c = tree.classes["A1.1.0"]
    values.save_values(who.responsible, campaign, c, TABLE_0, values.get_values(campaign, c).version)
    data = roundtrip(report_data.build(campaign, tree.units["A1.1"]))
    assert data["provisional"] is True and data["sources"] == {"snapshots": 0, "recomputed": 1}
    assert data["completion"]["pending"] == 2 and data["totals"]["classes_missing_pupils"] == 1
    assert [(ch["name"], ch["missing"]) for ch in data["children"]] == [("1A", False), ("5A", True)]
    assert data["extended"] == {"state": "none", "values": {}}


def test_the_nation_is_provisional_until_every_county_is_submitted(campaign, tree, who):
    submit_tables(campaign, tree, "A1.1", who.responsible)
    submit_unit(campaign, tree, "A1.2", who.responsible_12)
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    sm.transition(who.inspector, campaign, tree.schools["A2"], "exclude", reason="Școală desființată")
    sm.transition(who.isg, campaign, tree.a, "submit")
    data = roundtrip(report_data.build(campaign, tree.ministry))
    assert data["node"]["level"] == "ministry" and data["node"]["county"] is None
    assert data["provisional"] is True and data["sources"] == {"snapshots": 1, "recomputed": 1}
    assert data["completion"] == {"children_level": "inspectorate", "total": 2, "submitted": 1, "excluded": 0,
                                  "pending": 1}
    # County B: nothing saved, its 8 class tables are missing data.
    assert (data["totals"]["units"], data["totals"]["pupils"], data["totals"]["classes_missing_pupils"]) == (
        6, 82, 8)
    assert [e["name"] for e in data["exclusions"]] == ["Școala A2"]
    assert TABLE_1["pupils"] == 21
