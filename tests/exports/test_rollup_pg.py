"""Snapshots under concurrency on PostgreSQL: two units of one school re-submitted at the same moment each rebuild
the school's snapshot, and neither rebuild may lose the other's unit (through the workflow, and through
:func:`exports.rollup.refresh` alone, where only the snapshot row lock taken before the children are read keeps
them apart). Two threads, two sessions, a committed database of their own."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from core import db as core_db
from exports import reports, rollup
from exports.models import Snapshot
from tenants.models import Node, User
from tests import support
from tests.workflows.conftest import launch, people, submit_unit
from tests.workflows.test_concurrency import race
from workflows import notify
from workflows import state as sm
from workflows.models import Campaign, CampaignState

pytestmark = [pytest.mark.postgres, pytest.mark.no_rollback]


@pytest.fixture
def pg(pg_url, monkeypatch):
    url = support.fresh_pg_database(pg_url, "arbor_rollup_race")
    support.migrate(url)
    eng = core_db.make_engine(url)
    old_bind = core_db.session_factory.kw.get("bind")
    core_db.session.remove()
    core_db.session_factory.configure(bind=eng)
    monkeypatch.setattr(notify.mail, "send", lambda *a, **k: None)
    monkeypatch.setattr(reports, "on_snapshot", lambda campaign_id, node_id, reason: None)
    seq = itertools.count(1)
    try:
        tree = support.build_tree()
        who = people(tree, lambda role, node: support.make_user(role, node, f"rollrace{next(seq)}@test.arbor.ro"))
        campaign = launch(who, tree)
        core_db.session.commit()
        yield tree, who, campaign
    finally:
        core_db.session.remove()
        core_db.session_factory.configure(bind=old_bind)
        eng.dispose()
        support.drop_pg_database(url)


def school_snapshot(s, campaign_id, school_id) -> Snapshot:
    return s.execute(select(Snapshot).where(Snapshot.campaign_id == campaign_id, Snapshot.node_id == school_id)
                     .execution_options(populate_existing=True)).scalar_one()


def test_two_units_resubmitted_at_once_both_reach_the_school_snapshot(pg):
    tree, who, campaign = pg
    s = core_db.session
    submit_unit(campaign, tree, "A1.1", who.responsible)
    submit_unit(campaign, tree, "A1.2", who.responsible_12)
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    sm.transition(who.inspector, campaign, tree.schools["A1"], "reopen", reason="corectură")
    for key in ("A1.1", "A1.2"):
        sm.transition(who.director, campaign, tree.units[key], "reopen", reason="corectură")
    s.commit()
    cid, school_id = campaign.id, tree.schools["A1"].id
    before = school_snapshot(s, cid, school_id)
    assert before.aggregate["units"] == 0 and before.version == 3  # both reopened units left it
    jobs = [(who.responsible.id, tree.units["A1.1"].id), (who.responsible_12.id, tree.units["A1.2"].id)]

    def submit(user_id, unit_id):
        return lambda s: sm.transition(s.get(User, user_id), s.get(Campaign, cid), s.get(Node, unit_id), "submit")

    assert race(*(submit(u, n) for u, n in jobs)) == ["ok", "ok"]
    s = core_db.session
    after = school_snapshot(s, cid, school_id)
    assert after.aggregate["units"] == 2 and after.aggregate["pupils"] == 82 and after.version == 5
    assert rollup.check(s.get(Campaign, cid)) == []


def test_two_refreshes_of_one_parent_at_once_lose_no_child(pg):
    """The same race without the transitions (whose audit entry serialises them): the snapshot row lock alone
    keeps the second rebuild from reading the children before the first one commits."""
    tree, who, campaign = pg
    s = core_db.session
    submit_unit(campaign, tree, "A1.1", who.responsible)
    submit_unit(campaign, tree, "A1.2", who.responsible_12)
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    rows = {k: sm.state_for(campaign, tree.units[k]).id for k in ("A1.1", "A1.2")}
    cid, school_id = campaign.id, tree.schools["A1"].id

    def submit(row_id):
        def job(sess):
            row = sess.get(CampaignState, row_id)
            row.state = "submitted"
            sess.flush()
            rollup.refresh(sess.get(Campaign, cid), row, write_own=True)
        return job

    for _ in range(3):
        for row_id in rows.values():  # both units back to in progress, the school's snapshot without them
            s.get(CampaignState, row_id).state = "in_progress"
        s.flush()
        rollup.refresh(campaign, s.get(CampaignState, rows["A1.1"]), write_own=False)
        s.commit()
        assert school_snapshot(s, cid, school_id).aggregate["units"] == 0
        assert race(submit(rows["A1.1"]), submit(rows["A1.2"])) == ["ok", "ok"]
        s = core_db.session
        assert school_snapshot(s, cid, school_id).aggregate["units"] == 2
    assert rollup.check(s.get(Campaign, cid)) == []
