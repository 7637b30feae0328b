"""The recomputation's integer vectors (exports.rollup_fast.Plan) equal exports.rollup_fast.unit_aggregate (itself
held equal to the engine by tests/exports/test_rollup_fast.py) on random units, and sum like the monoid; on
PostgreSQL, the class rows PostgreSQL extracts from the JSON class tables equal the ones Python builds from the
decoded values, and the recomputation through either path gives the same aggregates."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exports.rollup_fast import Plan, Rules, sum_into, unit_aggregate
from forms.indicators import ClassData, IndicatorInputError, UnitData
from forms.indicators_rollup import Aggregate
from tests.exports.test_rollup_fast import KEYS, LOCALITY, RULESETS, SHIPPED, units
from tests.exports.test_rollup_properties import pg_country, pg_database  # noqa: F401  (fixtures)



def edge_variant():
    """Whole-unit class reference, a risk threshold of 0 (every measured item at risk) and no minimum group."""
    from forms.indicators_ruleset import Ruleset, ruleset_document
    params = ruleset_document("segregation", 1)["params"]
    params = {**params, "risk_score_threshold": 0, "small_numbers": {"min_pupils": 0, "min_group": 0},
              "class_reference": {"mode": "unit"}}
    return Ruleset.from_params(params, key="segregation-edge", version=3)


PLANS = (*(Plan(rs) for rs in RULESETS), Plan(edge_variant()))
BENCH = {g.bench: g.counts[0] for g in SHIPPED.groups() if g.bench}


@st.composite
def fitting_classes(draw, i):
    """A class whose counts (mostly) fit: what real tables look like, so the vector path (not the fallback) runs."""
    pupils = draw(st.one_of(st.integers(0, 30), st.integers(0, 6), st.none()))
    top = pupils if pupils is not None else 12
    counts = {k: draw(st.one_of(st.integers(0, top // 3), st.just(0), st.none() if draw(st.integers(0, 9)) == 0
                                else st.integers(0, top // 4))) for k in KEYS}
    if draw(st.booleans()):
        counts["ethnicity.roma"] = draw(st.integers(0, top))  # concentrations, sometimes the whole class
    counts[SHIPPED.bench_seats] = draw(st.one_of(st.none(), st.integers(0, 8)))
    for bench, group in BENCH.items():
        cap = min(counts[SHIPPED.bench_seats] or 0, counts.get(group) or 0)
        counts[bench] = draw(st.one_of(st.integers(0, cap), st.none()))
    counts["attended_kindergarten"] = draw(st.one_of(st.none(), st.integers(0, top)))
    return ClassData(id=i, pupils=pupils, counts=counts, grade_level=draw(st.sampled_from([None, 1, 1, 2, 2, 5])),
                     teaching_language=draw(st.sampled_from([None, "ro", "ro", "hu", "rom", "ro+hu", "de"])),
                     building_id=draw(st.sampled_from([None, "A", "A", "B", "C"])))


@st.composite
def fitting_units(draw):
    cls = tuple(draw(fitting_classes(i)) for i in range(draw(st.integers(0, 10))))
    locality = {k: draw(st.one_of(st.none(), st.integers(0, 60), st.integers(0, 3))) for k in LOCALITY}
    known = [v for v in locality.values() if v is not None]
    pupils = draw(st.one_of(st.none(), st.just(sum(known) + draw(st.integers(0, 50))), st.integers(0, 400)))
    return UnitData(id="u", classes=cls, locality_pupils=pupils, locality_counts=locality)


def vector_or_error(unit, plan):
    """The vector path as the recomputation takes it: units with an odd class or odd locality counts go through
    unit_aggregate."""
    rows = [plan.class_row(1, c) for c in unit.classes]
    loc = plan.locality(unit.locality_pupils, unit.locality_counts)
    if loc is None or any(r[4] for r in rows):
        try:
            return plan.vector_of(unit_aggregate(unit, plan.rs, plan.rules)), True
        except (IndicatorInputError, ValueError) as e:
            return type(e), True
    return plan.unit_vector(rows, loc), False


def fast_or_error(unit, rs):
    try:
        return unit_aggregate(unit, rs, Rules(rs))
    except (IndicatorInputError, ValueError) as e:
        return type(e)


@settings(max_examples=1500, deadline=None)
@given(unit=st.one_of(units(), fitting_units(), fitting_units()), which=st.sampled_from([0, 1, 2]))
def test_the_vector_equals_the_fast_aggregate(unit, which):
    """(The edge variant, which test_rollup_fast does not cover, is compared with the engine itself.)"""
    from tests.exports.test_rollup_fast import engine_or_error
    plan = PLANS[which]
    vec, odd = vector_or_error(unit, plan)
    expected = fast_or_error(unit, plan.rs) if which < 2 else engine_or_error(unit, plan.rs)
    if not odd:
        assert not isinstance(expected, type), "a unit the vector path takes must be one the rules accept"
    if isinstance(vec, type):
        assert vec is expected
        return
    acc = plan.zero()
    plan.add_unit(acc, vec)
    assert plan.aggregate(acc) == expected


@settings(max_examples=150, deadline=None)
@given(many=st.lists(st.one_of(units(), fitting_units()), max_size=6), which=st.sampled_from([0, 1]))
def test_vectors_sum_like_the_monoid(many, which):
    plan = PLANS[which]
    rs = plan.rs
    zero = Aggregate(ruleset=(rs.key, rs.version))
    aggs = [a for a in (fast_or_error(u, rs) for u in many) if isinstance(a, Aggregate)]
    parts = []
    for a in aggs:
        acc = plan.zero()
        plan.add_unit(acc, plan.vector_of(a))
        parts.append(acc)
    total = plan.zero()
    for p in parts:
        plan.add(total, p)
    assert plan.aggregate(total) == sum_into(aggs, zero)
    assert plan.aggregate(plan.zero()) == zero


# --- PostgreSQL: the extracted rows, the recomputation, the forked half -------------------------------------

ODD_VALUES = ("5", 5.0, 1e20, True, None, -3, 10**20, {"n": 1}, [2], 0)


def odd_table(rng) -> dict:
    """A class table with values of every kind the JSON may hold: integers (mostly fitting), integers as strings,
    fractions, booleans, nulls, negatives, integers too long for bigint, objects, missing keys."""
    from tests.exports.test_rollup_properties import class_table
    table = class_table(rng)
    for k in list(table):
        r = rng.random()
        if r < 0.04:
            table[k] = rng.choice(ODD_VALUES)
        elif r < 0.06:
            del table[k]
    return table


def fill_odd(campaign, rng) -> None:
    from core.db import session
    from sqlalchemy import select

    from tests.exports.test_rollup_properties import unit_form
    from workflows.models import CampaignState, CampaignValues
    rows = list(session.execute(select(CampaignState).where(CampaignState.campaign_id == campaign.id)
                                .order_by(CampaignState.path)).scalars())
    vals = {(v.state_id, v.section): v for v in session.execute(select(CampaignValues).where(
        CampaignValues.campaign_id == campaign.id)).scalars()}
    for r in rows:
        roll = rng.random()
        if r.level == "class":
            if roll < 0.8:
                vals[(r.id, "class")].values, vals[(r.id, "class")].version = odd_table(rng), 1
            r.state = "submitted" if rng.random() < 0.6 else "in_progress"  # never saved + submitted: defaults
        else:
            if r.level == "unit" and rng.random() < 0.8:
                vals[(r.id, "unit")].values, vals[(r.id, "unit")].version = unit_form(rng) or {}, 1
            r.state = "submitted" if roll < 0.8 else "in_progress"
            if r.level in ("school", "unit") and roll > 0.92:
                r.excluded, r.exclusion_reason = True, "motiv generat"
    session.flush()


def make_campaign(country, shape, seed):
    import datetime as dt
    import random

    from tests.exports.test_rollup_properties import build_country
    from workflows import campaigns
    ministry, year, commission = country
    rng = random.Random(seed)
    build_country(ministry, year, shape, rng)
    campaign = campaigns.create_campaign(commission, name="Generată", school_year=year,
                                         deadline=dt.date.today() + dt.timedelta(days=30))
    campaigns.launch_campaign(commission, campaign, "Colectare generată.")
    fill_odd(campaign, rng)
    return campaign


def old_unit_aggregates(campaign) -> dict[int, Aggregate]:
    """node id → every unit's aggregate the way the recomputation took it before the vectors: the decoded class
    tables (Loader.stream_units) through Loader.aggregate."""
    from exports import rollup
    loader = rollup.Loader(campaign)
    tree = rollup.load_tree(campaign)
    units = {i: r for i, r in tree.rows.items() if r.level == "unit"}
    return {u.node_id: loader.aggregate(u.data) for u in loader.stream_units(units)}


def assert_rows_and_aggregates(campaign) -> None:
    from core.db import session
    from exports import rollup, rollup_data
    loader = rollup.Loader(campaign)
    plan = loader.plan
    tree = rollup.load_tree(campaign)
    units = {i: r for i, r in tree.rows.items() if r.level == "unit"}
    conn = session.connection().connection.driver_connection
    extracted: dict[int, list] = {}
    for row in rollup_data._fetch(conn, rollup_data.class_rows_sql(plan), {"c": campaign.id}):
        extracted.setdefault(row[0], []).append(row)
    decoded = {u.state_id: [plan.class_row(u.state_id, c) for c in u.data.classes]
               for u in loader.stream_units(units)}
    fast = odd = 0
    for state_id, rows in decoded.items():
        got = extracted.get(state_id, [])
        if any(r[4] for r in got):
            odd += 1
            continue
        fast += 1
        assert sorted(got, key=repr) == sorted(rows, key=repr)  # same integers, nothing odd on either side
    assert fast and odd, (fast, odd)
    recomputed = rollup.recompute_all(campaign)
    for node_id, agg in old_unit_aggregates(campaign).items():
        assert recomputed[node_id] == agg, node_id


@pytest.mark.postgres
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_postgresql_extracts_the_integers_python_decodes(pg_country, seed):  # noqa: F811
    from core.db import session
    nested = session.begin_nested()
    try:
        campaign = make_campaign(pg_country, [[[5, 3, 0], [4]], [[6, 2]]], seed)
        assert_rows_and_aggregates(campaign)
    finally:
        nested.rollback()


@pytest.mark.postgres
def test_the_chunks_read_by_a_thread_give_what_one_statement_gives(pg_country, monkeypatch):  # noqa: F811
    from core.db import session
    from exports import rollup, rollup_data
    from tenants.models import Node
    nested = session.begin_nested()
    try:
        campaign = make_campaign(pg_country, [[[4, 3], [2, 5]], [[6]], [[3, 3, 1]], [[2], [4]]], 7)
        seen = []
        fetch = rollup_data._fetch
        monkeypatch.setattr(rollup_data, "_fetch", lambda conn, sql, params: seen.append(params) or fetch(
            conn, sql, params))
        nation = session.get(Node, campaign.root_id)
        monkeypatch.setattr(rollup_data, "PIPELINE_MIN_UNITS", 1)
        chunked = rollup.recompute(campaign, nation, only_submitted=False)
        chunked_all = rollup.recompute_all(campaign)
        assert len(seen) > 2 and all("counties" in p for p in seen)  # the counties in chunks, uncommitted data
        monkeypatch.setattr(rollup_data, "PIPELINE_MIN_UNITS", 10**9)
        seen.clear()
        assert rollup.recompute(campaign, nation, only_submitted=False) == chunked
        assert rollup.recompute_all(campaign) == chunked_all
        assert seen and not any("counties" in p for p in seen)
        for node_id, agg in old_unit_aggregates(campaign).items():
            assert chunked_all[node_id] == agg
    finally:
        nested.rollback()
