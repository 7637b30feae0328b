"""Races on PostgreSQL: two threads, two sessions, one committed database of their own."""
from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import select

from core import audit
from core import db as core_db
from core.errors import DomainError
from tenants.models import Node, SchoolClass, User
from tests import support
from tests.workflows.conftest import VALID_CLASS, launch, people, submit_unit
from workflows import notify, values
from workflows import state as sm
from workflows.models import Campaign, CampaignState, WorkflowEvent

pytestmark = [pytest.mark.postgres, pytest.mark.no_rollback]


@pytest.fixture
def pg(pg_url, monkeypatch):
    url = support.fresh_pg_database(pg_url, "arbor_wfrace")
    support.migrate(url)
    eng = core_db.make_engine(url)
    old_bind = core_db.session_factory.kw.get("bind")
    core_db.session.remove()
    core_db.session_factory.configure(bind=eng)
    monkeypatch.setattr(notify.mail, "send", lambda *a, **k: None)  # mail is not what these tests are about
    seq = itertools.count(1)
    try:
        tree = support.build_tree()
        who = people(tree, lambda role, node: support.make_user(role, node, f"race{next(seq)}@test.arbor.ro"))
        campaign = launch(who, tree)
        core_db.session.commit()
        yield tree, who, campaign
    finally:
        core_db.session.remove()
        core_db.session_factory.configure(bind=old_bind)
        eng.dispose()
        support.drop_pg_database(url)


def race(*jobs):
    """Run each job (a function of the thread's own session) in its own thread, started together; return
    "ok" or the error for each."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        s = core_db.session
        try:
            barrier.wait()
            job(s)
            s.commit()
            results[i] = "ok"
        except DomainError as e:
            s.rollback()
            results[i] = e
        finally:
            core_db.session.remove()

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _load(s, model, id_):
    return s.get(model, id_)


def _audited():
    ok, _, msg = audit.verify()
    assert ok, msg


def test_two_saves_on_one_version_exactly_one_wins(pg):
    tree, who, campaign = pg
    cid, class_id, users = campaign.id, tree.classes["A1.1.0"].id, (who.helper.id, who.responsible.id)

    def save(user_id, seats):
        def job(s):
            values.save_values(s.get(User, user_id), s.get(Campaign, cid), s.get(SchoolClass, class_id),
                               {"last_benches.seats": seats}, 0)
        return job

    results = race(save(users[0], 5), save(users[1], 7))
    assert sorted(r == "ok" for r in results) == [False, True], results
    loser = next(r for r in results if r != "ok")
    assert loser.status == 409 and loser.details["current_version"] == 1
    s = core_db.session
    cur = values.get_values(s.get(Campaign, cid), s.get(SchoolClass, class_id))
    assert cur.version == 1 and cur.values["last_benches.seats"] == (5 if results[0] == "ok" else 7)
    assert s.execute(select(WorkflowEvent).where(WorkflowEvent.action == "save")).scalars().all().__len__() == 1
    _audited()


def test_a_submit_racing_a_lock_ends_consistent(pg):
    tree, who, campaign = pg
    cid, c = campaign.id, tree.classes["A1.1.0"]
    values.save_values(who.helper, campaign, c, VALID_CLASS, 0)
    sm.transition(who.helper, campaign, c, "submit")
    values.save_values(who.helper, campaign, tree.classes["A1.1.1"], VALID_CLASS, 0)
    sm.transition(who.helper, campaign, tree.classes["A1.1.1"], "submit")
    from tests.workflows.conftest import fill_unit
    fill_unit(campaign, tree.units["A1.1"], who.responsible)
    core_db.session.commit()
    unit_id, resp_id, dir_id = tree.units["A1.1"].id, who.responsible.id, who.director.id

    def act(user_id, action):
        return lambda s: sm.transition(s.get(User, user_id), s.get(Campaign, cid), s.get(Node, unit_id), action)

    results = race(act(resp_id, "submit"), act(dir_id, "lock"))
    s = core_db.session
    row = s.execute(select(CampaignState).where(CampaignState.node_id == unit_id, CampaignState.campaign_id == cid,
                                                CampaignState.class_id.is_(None))).scalar_one()
    assert results[1] == "ok" and row.locked  # a lock always succeeds (on a submitted unit too)
    events = [e.action for e in s.execute(select(WorkflowEvent).where(WorkflowEvent.state_id == row.id)
                                           .order_by(WorkflowEvent.id)).scalars() if e.action != "save"]
    if results[0] == "ok":
        assert row.state == "submitted" and events == ["submit", "lock"]  # never submitted after the lock
    else:
        assert row.state == "in_progress" and events == ["lock"] and "locked" in results[0].message
    _audited()


def test_a_reopen_racing_a_submit_ends_consistent(pg):
    tree, who, campaign = pg
    cid = campaign.id
    submit_unit(campaign, tree, "A1.1", who.responsible)
    sm.transition(who.inspector, campaign, tree.units["A1.2"], "exclude", reason="closed")
    core_db.session.commit()
    school_id, unit_id, dir_id = tree.schools["A1"].id, tree.units["A1.1"].id, who.director.id

    def act(node_id, action, reason=None):
        return lambda s: sm.transition(s.get(User, dir_id), s.get(Campaign, cid), s.get(Node, node_id), action,
                                       reason)

    results = race(act(unit_id, "reopen", "a correction"), act(school_id, "submit"))
    assert sorted(r == "ok" for r in results) == [False, True], results
    s = core_db.session
    rows = {r.node_id: r for r in s.execute(select(CampaignState).where(
        CampaignState.campaign_id == cid, CampaignState.node_id.in_([school_id, unit_id]),
        CampaignState.class_id.is_(None))).scalars()}
    if results[0] == "ok":  # reopened first: the school could not be submitted
        assert rows[unit_id].state == "in_progress" and rows[school_id].state == "in_progress"
        assert "1 unit not submitted" in results[1].message
    else:
        assert rows[school_id].state == "submitted" and rows[unit_id].state == "submitted"
        assert "must be reopened first" in results[0].message
    _audited()
