"""Roll-up equality on generated data: for random trees (counties, schools, units, classes) and random class tables
(missing counts, contradictions, never-saved tables, minority-language classes, buildings, locality counts) with
random states and exclusions, the national snapshot built bottom-up from snapshots equals the full recomputation
from the raw tables, field by field, and :func:`exports.rollup.check` finds nothing.

Values and states are written directly (the workflow's own path is covered by tests/exports/test_rollup.py) and
the snapshots are written bottom-up with :func:`exports.rollup.snapshot_node`, as the submissions would."""
from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core import db as core_db
from core.db import session
from exports import reports, rollup
from exports.models import Snapshot
from forms.indicators_rollup import Aggregate
from forms.operations import sync_builtin
from tenants import operations
from tenants.models import Building, Node, SchoolClass
from tests import support
from workflows import campaigns, notify
from workflows.models import CampaignState, CampaignValues

LANGUAGES = ("ro", "ro", "ro", "hu", "rom", "ro+hu")
COUNT_KEYS = ("ethnicity.romanian", "ethnicity.roma", "ethnicity.hungarian", "ethnicity.german",
              "ethnicity.ukrainian", "ethnicity.turkish_tatar", "parents_education.eight_grades",
              "parents_education.below_eight", "social_scholarship", "single_parent", "disability_sen",
              "residence_other_locality", "institutionalised", "relatives_care", "attended_kindergarten", "repeating")
BENCH_KEYS = ("last_benches.ethnicity.roma", "last_benches.social_scholarship", "last_benches.disability_sen")
LOCALITY_KEYS = ("locality.ethnicity.romanian", "locality.ethnicity.roma", "locality.ethnicity.hungarian",
                 "locality.ethnicity.german", "locality.ethnicity.ukrainian", "locality.ethnicity.turkish_tatar",
                 "locality.ethnicity.other", "locality.ethnicity.undeclared")
_seq = itertools.count(1)

# A tree: counties → schools → units → number of classes.
trees = st.lists(st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=3), min_size=1, max_size=3),
                 min_size=1, max_size=3)


def class_table(rng: random.Random) -> dict:
    pupils = rng.choice([None, *range(0, 31)]) if rng.random() < 0.1 else rng.randint(3, 30)
    top = pupils if pupils is not None else 30
    table = {"pupils": pupils}
    for k in COUNT_KEYS:
        r = rng.random()
        # mostly fitting counts, sometimes missing, rarely larger than the class (a contradiction)
        table[k] = None if r < 0.05 else top + rng.randint(1, 5) if r < 0.07 else rng.randint(0, top // 2)
    seats = rng.choice([None, 0, 4, 6, 8]) if rng.random() < 0.2 else 6
    table["last_benches.seats"] = seats
    for k in BENCH_KEYS:
        table[k] = None if seats is None or rng.random() < 0.05 else rng.randint(0, min(seats, 2))
    return table


def unit_form(rng: random.Random) -> dict | None:
    if rng.random() < 0.2:
        return None
    counts = {k: (None if rng.random() < 0.05 else rng.randint(0, 200)) for k in LOCALITY_KEYS}
    known = [v for v in counts.values() if v is not None]
    counts["locality.pupils"] = sum(known) if len(known) == len(LOCALITY_KEYS) else None
    return counts


def build_country(ministry: Node, year, shape, rng: random.Random) -> None:
    """Nodes, buildings and classes of the generated shape, inserted directly (no audit: speed)."""
    def node(level, parent, code):
        n = Node(level=level, code=code, name=f"{level} {code}", search_key=code, parent_id=parent.id,
                 languages="ro")
        session.add(n)
        session.flush()
        n.path = f"{parent.path}{n.id}/"
        n.county_id = n.id if level == "inspectorate" else parent.county_id
        n.school_id = n.id if level == "school" else parent.school_id if level == "unit" else None
        return n

    for schools in shape:
        county = node("inspectorate", ministry, f"C{next(_seq)}")
        for units in schools:
            school = node("school", county, f"{next(_seq):010d}")
            for n_classes in units:
                unit = node("unit", school, f"{next(_seq):010d}")
                session.flush()
                buildings = [Building(unit_id=unit.id, name=f"Corp {b}") for b in "AB"]
                session.add_all(buildings)
                session.flush()
                for k in range(n_classes):
                    b = rng.choice([buildings[0], buildings[0], buildings[1], None])
                    session.add(SchoolClass(unit_id=unit.id, school_year_id=year.id, name=f"{k + 1}X",
                                            grade_level=rng.choice([1, 1, 2, 5]), pupils=rng.randint(5, 30),
                                            teaching_language=rng.choice(LANGUAGES),
                                            building_id=b.id if b else None))
    session.flush()


def fill_campaign(campaign, rng: random.Random) -> None:
    """Random values and states, written directly: class tables (or never saved), unit forms, submitted /
    in-progress / excluded nodes."""
    rows = list(session.execute(select(CampaignState).where(CampaignState.campaign_id == campaign.id)
                                .order_by(CampaignState.path)).scalars())
    vals = {(v.state_id, v.section): v for v in session.execute(select(CampaignValues).where(
        CampaignValues.campaign_id == campaign.id)).scalars()}
    for r in rows:
        if r.level == "class":
            if rng.random() < 0.85:
                vals[(r.id, "class")].values, vals[(r.id, "class")].version = class_table(rng), 1
            r.state = "submitted" if rng.random() < 0.9 else "in_progress"
        else:
            if r.level == "unit":
                form = unit_form(rng)
                if form is not None:
                    vals[(r.id, "unit")].values, vals[(r.id, "unit")].version = form, 1
            roll = rng.random()
            r.state = "submitted" if roll < 0.8 else "in_progress"
            if r.level in ("school", "unit") and roll > 0.9:
                r.excluded, r.exclusion_reason = True, "motiv generat"
    session.flush()


def snapshot_bottom_up(campaign) -> None:
    rows = list(session.execute(select(CampaignState).where(
        CampaignState.campaign_id == campaign.id, CampaignState.level != "class")).scalars())
    for level in ("unit", "school", "inspectorate"):
        for r in rows:
            if r.level == level and r.state == "submitted":
                rollup.snapshot_node(campaign, r)
    rollup.snapshot_nation(campaign)


def assert_national_equality(campaign) -> None:
    nation = session.execute(select(Snapshot).where(Snapshot.campaign_id == campaign.id,
                                                    Snapshot.node_id == campaign.root_id)).scalar_one()
    recomputed = rollup.recompute(campaign, session.get(Node, campaign.root_id))
    assert rollup.compare(nation.aggregate, recomputed.to_dict()) == []
    assert Aggregate.from_dict(nation.aggregate) == recomputed
    assert rollup.check(campaign) == []


@pytest.fixture
def country(db, make_user, monkeypatch):
    """A ministry, a school year, the built-in forms and a commission member (what every example reuses)."""
    monkeypatch.setattr(reports, "on_snapshot", lambda campaign_id, node_id, reason: None)
    monkeypatch.setattr(notify.mail, "send", lambda *a, **k: None)
    sync_builtin()
    year = operations.create_school_year("2025-2026", dt.date(2025, 9, 8), dt.date(2026, 6, 19),
                                         current=True)
    ministry = operations.create_node(level="ministry", code="MEC", name="Ministerul Educației")
    commission = make_user("commission", ministry)
    return ministry, year, commission


def one_example(country, shape, seed) -> None:
    ministry, year, commission = country
    rng = random.Random(seed)
    nested = session.begin_nested()
    try:
        build_country(ministry, year, shape, rng)
        campaign = campaigns.create_campaign(commission, name="Generată", school_year=year,
                                             deadline=dt.date.today() + dt.timedelta(days=30))
        campaigns.launch_campaign(commission, campaign, "Colectare generată.")
        fill_campaign(campaign, rng)
        snapshot_bottom_up(campaign)
        assert_national_equality(campaign)
    finally:
        nested.rollback()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(shape=trees, seed=st.integers(0, 2**32 - 1))
def test_the_national_snapshot_equals_the_full_recomputation(country, shape, seed):
    one_example(country, shape, seed)


def test_the_equality_would_see_a_wrong_sum(country):
    """The property can fail: a snapshot that lost one unit differs from the recomputation."""
    ministry, year, commission = country
    rng = random.Random(3)
    build_country(ministry, year, [[[3, 2]]], rng)
    campaign = campaigns.create_campaign(commission, name="Generată", school_year=year,
                                         deadline=dt.date.today() + dt.timedelta(days=30))
    campaigns.launch_campaign(commission, campaign, "Colectare generată.")
    for r in session.execute(select(CampaignState).where(CampaignState.campaign_id == campaign.id)).scalars():
        r.state = "submitted"
    session.flush()
    snapshot_bottom_up(campaign)
    assert_national_equality(campaign)
    school = session.execute(select(Snapshot).where(Snapshot.campaign_id == campaign.id,
                                                    Snapshot.level == "school")).scalar_one()
    units = session.execute(select(Snapshot).where(Snapshot.campaign_id == campaign.id,
                                                   Snapshot.level == "unit")).scalars().all()
    school.aggregate = units[0].aggregate  # as if the second unit had been forgotten
    session.flush()
    county = session.execute(select(CampaignState).where(CampaignState.campaign_id == campaign.id,
                                                         CampaignState.level == "inspectorate")).scalar_one()
    rollup.snapshot_node(campaign, county)  # the county and the nation are summed from the wrong school
    rollup.snapshot_nation(campaign)
    nation = session.execute(select(Snapshot).where(Snapshot.campaign_id == campaign.id,
                                                    Snapshot.node_id == campaign.root_id)).scalar_one()
    recomputed = rollup.recompute(campaign, session.get(Node, campaign.root_id))
    assert ("units", 1, 2) in rollup.compare(nation.aggregate, recomputed.to_dict())
    with pytest.raises(AssertionError):
        assert_national_equality(campaign)
    assert {d["level"] for d in rollup.check(campaign)} == {"school", "inspectorate", "ministry"}


@pytest.mark.postgres
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(shape=trees, seed=st.integers(0, 2**32 - 1))
def test_the_national_snapshot_equals_the_full_recomputation_on_postgresql(pg_country, shape, seed):
    one_example(pg_country, shape, seed)


@pytest.fixture(scope="module")
def pg_database(pg_url):
    url = support.fresh_pg_database(pg_url, "arbor_rollup")
    support.migrate(url)
    eng = core_db.make_engine(url)
    yield eng
    eng.dispose()
    support.drop_pg_database(url)


@pytest.fixture
def pg_country(pg_database, monkeypatch):
    """The ``country`` of the PostgreSQL variant, in its own database (everything rolled back at the end)."""
    monkeypatch.setattr(reports, "on_snapshot", lambda campaign_id, node_id, reason: None)
    monkeypatch.setattr(notify.mail, "send", lambda *a, **k: None)
    old_bind = core_db.session_factory.kw.get("bind")
    core_db.session.remove()
    conn = pg_database.connect()
    trans = conn.begin()
    core_db.session_factory.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        sync_builtin()
        year = operations.create_school_year("2025-2026", dt.date(2025, 9, 8),
                                             dt.date(2026, 6, 19), current=True)
        ministry = operations.create_node(level="ministry", code="MEC", name="Ministerul Educației")
        commission = support.make_user("commission", ministry, f"pg.rollup{next(_seq)}@test.arbor.ro", "Comisia")
        assert session.get_bind().dialect.name == "postgresql"
        yield ministry, year, commission
    finally:
        core_db.session.remove()
        trans.rollback()
        conn.close()
        core_db.session_factory.configure(bind=old_bind, join_transaction_mode="conditional_savepoint")


# --- the same property through the real workflow ------------------------------------------------------------

def valid_table(rng: random.Random) -> dict:
    """A class table that passes submit-mode validation (counts add up, benches within seats and groups)."""
    p = rng.randint(0, 30)
    roma = rng.randint(0, p)
    hungarian = rng.randint(0, p - roma)
    below = rng.randint(0, p)
    eight = rng.randint(0, p - below)
    seats = rng.randint(0, min(8, p))
    table = {"pupils": p, "ethnicity.roma": roma, "ethnicity.hungarian": hungarian,
             "ethnicity.romanian": p - roma - hungarian, "ethnicity.undeclared": 0,
             "parents_education.below_eight": below, "parents_education.eight_grades": eight,
             "parents_education.unknown": p - below - eight, "last_benches.seats": seats}
    for k in ("social_scholarship", "single_parent", "disability_sen", "residence_other_locality",
              "institutionalised", "relatives_care", "attended_kindergarten", "repeating"):
        table[k] = rng.randint(0, p)
    table["last_benches.ethnicity.roma"] = rng.randint(0, min(seats, roma))
    table["last_benches.social_scholarship"] = rng.randint(0, min(seats, table["social_scholarship"]))
    table["last_benches.disability_sen"] = rng.randint(0, min(seats, table["disability_sen"]))
    return table


@pytest.fixture
def staff(tree, make_user, monkeypatch):
    from forms.operations import sync_builtin as sync
    monkeypatch.setattr(reports, "on_snapshot", lambda campaign_id, node_id, reason: None)
    monkeypatch.setattr(notify.mail, "send", lambda *a, **k: None)
    sync()
    people = {"commission": make_user("commission", tree.ministry)}
    for key, county in tree.counties.items():
        people[key] = make_user("inspector", county)
    for key, school in tree.schools.items():
        people[key] = make_user("director", school)
    for key, unit in tree.units.items():
        people[key] = make_user("unit_responsible", unit)
    return people


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_through_the_workflow_the_nation_equals_the_recomputation(tree, staff, seed):
    from workflows import state as sm
    from workflows import values as wv
    rng = random.Random(seed)
    nested = session.begin_nested()
    try:
        campaign = campaigns.create_campaign(staff["commission"], name="Aleatoare", school_year=tree.year,
                                             deadline=dt.date.today() + dt.timedelta(days=30))
        campaigns.launch_campaign(staff["commission"], campaign, "Colectare.")
        for skey, school in tree.schools.items():
            county_key = skey[0]
            if rng.random() < 0.15:
                sm.transition(staff[county_key], campaign, school, "exclude", reason="școală închisă")
                continue
            for ukey in (f"{skey}.1", f"{skey}.2"):
                unit, resp = tree.units[ukey], staff[ukey]
                if rng.random() < 0.2:
                    sm.transition(staff[county_key], campaign, unit, "exclude", reason="fără elevi")
                    continue
                for k in (0, 1):
                    c = tree.classes[f"{ukey}.{k}"]
                    wv.save_values(resp, campaign, c, valid_table(rng), wv.get_values(campaign, c).version)
                    sm.transition(resp, campaign, c, "submit")
                form = {"buildings.classrooms": 4, "buildings.notes": "-"}
                if rng.random() < 0.7:
                    form.update({k: rng.randint(0, 100) for k in LOCALITY_KEYS})
                    form["locality_info.source"] = "INS"
                wv.save_values(resp, campaign, unit, form, wv.get_values(campaign, unit).version)
                sm.transition(resp, campaign, unit, "submit")
            sm.transition(staff[skey], campaign, school, "submit")
        submitted = [k for k in tree.counties if rng.random() < 0.85]
        for ckey in submitted:
            sm.transition(staff[ckey], campaign, tree.counties[ckey], "submit")
        assert (rollup.get_snapshot(campaign, campaign.root_id) is not None) == bool(submitted)
        if submitted:
            assert_national_equality(campaign)
        # Sometimes a correction: reopen top-down to one unit, change a table, submit it all again.
        units = [k for k in tree.units if k[0] in submitted
                 and sm.state_for(campaign, tree.units[k]).state == "submitted"
                 and sm.state_for(campaign, tree.schools[k[:2]]).state == "submitted"]
        if units and rng.random() < 0.6:
            ukey = rng.choice(units)
            county, school, unit = tree.counties[ukey[0]], tree.schools[ukey[:2]], tree.units[ukey]
            sm.transition(staff["commission"], campaign, county, "reopen", reason="corectură")
            sm.transition(staff[ukey[0]], campaign, school, "reopen", reason="corectură")
            sm.transition(staff[ukey[:2]], campaign, unit, "reopen", reason="corectură")
            assert rollup.check(campaign) == []
            c = tree.classes[f"{ukey}.0"]
            sm.transition(staff[ukey], campaign, c, "reopen", reason="corectură")
            wv.save_values(staff[ukey], campaign, c, valid_table(rng), wv.get_values(campaign, c).version)
            for target, actor in ((c, staff[ukey]), (unit, staff[ukey]), (school, staff[ukey[:2]]),
                                  (county, staff[ukey[0]])):
                sm.transition(actor, campaign, target, "submit")
            assert_national_equality(campaign)
        assert rollup.check(campaign) == []
    finally:
        nested.rollback()
