"""The synthetic country's launched campaign: consistent states, plausible class tables that pass the forms engine,
missing tables, exclusions, submitted counties, risk — and the same rows for the same seed."""
from __future__ import annotations

import random
from collections import Counter

import pytest
from sqlalchemy import select

from core.db import session
from forms import engine
from tenants.models import Node, SchoolClass
from tenants.national import FastCompute, class_table, seed_national, seed_national_campaign
from workflows.models import Campaign, CampaignState, CampaignValues
from workflows.values import definition_for

GROUP_KEYS = ("ethnicity.", "parents_education.")


@pytest.fixture
def country(db):
    tree = seed_national(scale=0.02, seed=7)
    stats = seed_national_campaign(seed=7)
    campaign = session.get(Campaign, stats.campaign_id)
    states = session.execute(select(CampaignState).where(CampaignState.campaign_id == campaign.id)).scalars().all()
    values = session.execute(select(CampaignValues).where(CampaignValues.campaign_id == campaign.id)).scalars().all()
    return tree, stats, campaign, states, values


def test_launched_campaign_covers_the_country(country):
    tree, stats, campaign, states, values = country
    assert campaign.status == "running" and campaign.launched_at is not None
    levels = Counter(s.level for s in states)
    assert levels == {"inspectorate": 42, "school": tree.schools, "unit": tree.units, "class": tree.classes}
    by_id = {s.id: s for s in states}
    nodes = {n.id: n for n in session.execute(select(Node)).scalars()}
    classes = {c.id: c for c in session.execute(select(SchoolClass)).scalars()}
    for s in states:
        if s.level == "class":
            unit = by_id[s.parent_id]
            assert unit.level == "unit" and classes[s.class_id].unit_id == unit.node_id == s.node_id
            assert s.county_id == nodes[s.node_id].county_id
        elif s.level != "inspectorate":
            assert nodes[s.node_id].county_id == s.county_id == by_id[s.parent_id].county_id
    sections = Counter((by_id[v.state_id].level, v.section) for v in values)
    assert sections == {("class", "class"): tree.classes, ("unit", "unit"): tree.units,
                        ("unit", "extended"): tree.units}


def test_class_tables_are_plausible_and_pass_the_engine(country):
    tree, stats, campaign, states, values = country
    by_id = {s.id: s for s in states}
    classes = {c.id: c for c in session.execute(select(SchoolClass)).scalars()}
    class_def, unit_def = definition_for(campaign, "class"), definition_for(campaign, "unit")
    filled = [v for v in values if v.section == "class" and v.version]
    missing = [v for v in values if v.section == "class" and not v.version]
    assert len(filled) == stats.classes_filled and len(missing) == stats.classes_missing + sum(
        1 for v in missing if by_id[by_id[v.state_id].parent_id].excluded)
    assert all(v.values == {} for v in missing)
    assert 0.02 < len(missing) / tree.classes < 0.12, "about 5 % of the tables are never saved"
    risky = 0
    for i, v in enumerate(filled):
        vals = v.values
        assert sum(vals[k] for k in vals if k.startswith("ethnicity.")) == vals["pupils"]
        assert sum(vals[k] for k in vals if k.startswith("parents_education.")) == vals["pupils"]
        assert abs(vals["pupils"] - classes[by_id[v.state_id].class_id].pupils) <= 2
        risky += vals["ethnicity.roma"] > vals["pupils"] / 2
        if i % 7 == 0:  # the engine agrees: values pass submit-mode validation and the computed fields are its own
            ctx = engine.class_context(classes[by_id[v.state_id].class_id])
            assert engine.validate(class_def, vals, ctx, mode="submit") == []
            assert engine.compute(class_def, vals, ctx) == vals
    assert risky >= 3, "skewed units put a Roma majority in some classes"
    units = [v for v in values if v.section == "unit" and v.version]
    assert units and len(units) == stats.units_filled
    for v in units:
        assert engine.validate(unit_def, v.values, {"unit.languages": ["ro", "hu"]}, mode="submit") == []
        assert engine.compute(unit_def, v.values, {}) == v.values


def test_states_follow_the_workflow_rules(country):
    tree, stats, campaign, states, values = country
    by_id = {s.id: s for s in states}
    children: dict[int, list] = {}
    for s in states:
        children.setdefault(s.parent_id, []).append(s)
    version = {v.state_id: v.version for v in values if v.section in ("class", "unit")}
    excluded = [s for s in states if s.excluded]
    assert len(excluded) == stats.units_excluded >= 2
    assert all(s.level == "unit" and s.exclusion_reason and s.state == "not_started" for s in excluded)
    for s in states:
        mine = [c for c in children.get(s.id, []) if not c.excluded]
        if s.state == "submitted":  # submitted bottom-up: every non-excluded child first
            assert all(c.state == "submitted" for c in mine), s
        if s.level == "class":
            assert (s.state == "not_started") == (version[s.id] == 0), s
            if by_id[s.parent_id].excluded:
                assert s.state == "not_started"
        elif s.state == "not_started" and s.level != "inspectorate":
            assert all(c.state == "not_started" for c in mine), s
    submitted_counties = {s.node_id for s in states if s.level == "inspectorate" and s.state == "submitted"}
    codes = dict(session.execute(select(Node.id, Node.code).where(Node.id.in_(submitted_counties))).all())
    assert sorted(codes.values()) == stats.counties_submitted and len(codes) == 3
    for s in states:
        if s.county_id in submitted_counties and not s.excluded and s.level in ("school", "unit", "class") \
                and not by_id[s.parent_id].excluded:
            assert s.state == "submitted", s
    assert {s.state for s in states if s.level == "class"} == {"not_started", "in_progress", "submitted"}


def test_fast_compute_matches_the_engine(db):
    import json

    from app.config import ROOT
    from forms.definitions import parse_definition
    body = json.loads((ROOT / "forms" / "builtin" / "segregation.class_table.v1.json").read_text(encoding="utf-8"))
    definition = parse_definition(body)
    fast = FastCompute(definition)
    rng = random.Random(1)
    for pupils in list(range(0, 31)) + [200]:
        ctx = {"class.pupils": pupils}
        vals = class_table(rng, pupils, rng.random(), rng.random() / 3, {"german": 0.01}, rng.random() < 0.5,
                           rng.choice(("ro", "hu")))
        vals["last_benches.seats"] = rng.choice((None, 0, vals["last_benches.seats"]))
        assert fast(vals, ctx) == engine.compute(definition, vals, ctx)


def _run(seed: int):
    nested = session.begin_nested()
    seed_national(scale=0.01, seed=3)
    stats = seed_national_campaign(seed=seed)
    rows = session.execute(
        select(Node.code, SchoolClass.name, CampaignState.state, CampaignState.excluded, CampaignValues.values)
        .join(Node, Node.id == CampaignState.node_id)
        .outerjoin(SchoolClass, SchoolClass.id == CampaignState.class_id)
        .join(CampaignValues, (CampaignValues.state_id == CampaignState.id) & (CampaignValues.section != "extended"))
        .where(CampaignState.campaign_id == stats.campaign_id)
        .order_by(Node.code, SchoolClass.name, CampaignValues.section)).all()
    nested.rollback()
    stats.campaign_id = stats.timings = None
    return stats, [tuple(r) for r in rows]


def test_campaign_seed_is_deterministic(db):
    first, second, other = _run(5), _run(5), _run(6)
    assert first == second
    assert first[1] != other[1]


@pytest.mark.parametrize("flag, campaigns", [("--campaign", 1), ("--no-campaign", 0)])
def test_seed_national_command_launches_the_campaign_on_request(app, db, flag, campaigns):
    from sqlalchemy import func
    r = app.test_cli_runner().invoke(args=["seed", "national", "--scale", "0.01", flag])
    assert r.exit_code == 0, r.output
    assert ("class tables filled" in r.output) == bool(campaigns)
    assert session.execute(select(func.count()).select_from(Campaign)).scalar() == campaigns


def test_snapshots_of_the_submitted_counties_match_the_raw_tables(country):
    rollup = pytest.importorskip("exports.rollup")
    tree, stats, campaign, states, values = country
    submitted = Counter(s.level for s in states if s.state == "submitted" and s.level != "class")
    assert stats.snapshots == {"unit": submitted["unit"], "school": submitted["school"], "inspectorate": 3,
                               "ministry": 1}
    assert rollup.check(campaign) == []
    nation = rollup.get_snapshot(campaign, campaign.root_id)
    assert nation.aggregate["units"] == sum(
        1 for s in states if s.level == "unit" and s.state == "submitted"
        and s.county_id in {c.node_id for c in states if c.level == "inspectorate" and c.state == "submitted"})
    assert nation.aggregate["units_at_risk"] > 0, "skewed units put risk into the national figures"
