"""Property tests: random sequences of actions by random roles on the test tree never break the invariants."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.db import session
from core.errors import Conflict, DomainError
from workflows import state as sm
from workflows import values
from workflows.models import CampaignState, WorkflowEvent
from tests.workflows.conftest import VALID_CLASS, VALID_UNIT

ROLE_OF = {"commission": "commission", "isg": "isg", "inspector": "inspector", "inspector_b": "inspector",
           "director": "director", "director_a2": "director", "responsible": "unit_responsible",
           "responsible_12": "unit_responsible", "helper": "unit_helper", "teacher": "teacher"}
OPS = (*sm.ACTIONS, "save", "save", "save")
REASONS = (None, "", "a reason")


def _rows(campaign):
    return list(session.execute(select(CampaignState).where(CampaignState.campaign_id == campaign.id)
                                .order_by(CampaignState.path)).scalars())


def _do(campaign, actor, row, op, reason):
    if op == "save":
        section = "class" if row.level == "class" else "unit"
        if row.level not in ("class", "unit"):
            return
        cur = values.get_values(campaign, row, section)
        values.save_values(actor, campaign, row, VALID_CLASS if section == "class" else VALID_UNIT, cur.version)
    else:
        sm.transition(actor, campaign, row, op, reason)


def check_invariants(campaign, who_by_id):
    rows = _rows(campaign)
    by_id = {r.id: r for r in rows}
    children: dict[int, list[CampaignState]] = {}
    for r in rows:
        children.setdefault(r.parent_id, []).append(r)
    for r in rows:
        assert not r.excluded or r.exclusion_reason, "an exclusion carries its reason"
        if r.state == "submitted":
            bad = [c for c in children.get(r.id, []) if c.state != "submitted" and not c.excluded]
            assert not bad, f"submitted {r} has children neither submitted nor excluded: {bad}"
    # Nothing editable under a lock or a submission: a save by the unit's own responsible is refused.
    for r in rows:
        if r.level not in ("class", "unit"):
            continue
        chain = [by_id[p] for p in _ancestor_ids(r, by_id)] + [r]
        frozen = any(x.locked or x.state == "submitted" or x.excluded for x in chain)
        if not frozen:
            continue
        section = "class" if r.level == "class" else "unit"
        actor = sm.LinkActor(r.class_id) if r.level == "class" else who_by_id["responsible_of"].get(r.node_id)
        if actor is None:
            continue
        with pytest.raises(Conflict):
            values.save_values(actor, campaign, r, {}, values.get_values(campaign, r, section).version)
    # Only the level directly above locks, unlocks, reopens; only the inspectorate excludes and includes.
    for e in session.execute(select(WorkflowEvent).where(WorkflowEvent.campaign_id == campaign.id)).scalars():
        target = by_id[e.state_id]
        role = who_by_id["role"].get(e.user_id)
        if e.action in ("lock", "unlock", "reopen"):
            assert role in sm.ABOVE_ROLES[target.level], (e.action, target.level, role)
        if e.action in ("exclude", "include", "request-extended"):
            assert role in sm.INSPECTORATE_ROLES and target.level in sm.EXCLUDABLE


def _ancestor_ids(r, by_id):
    out, cur = [], r
    while cur.parent_id is not None:
        out.append(cur.parent_id)
        cur = by_id[cur.parent_id]
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_random_sequences_keep_the_invariants(campaign, tree, who, data):
    names = sorted(ROLE_OF)
    rows = _rows(campaign)
    # Concentrate on county A (where the people are) so deep states (submitted schools) are reached.
    rows_a = [r for r in rows if r.county_id == tree.a.id]
    who_by_id = {"role": {getattr(who, n).id: ROLE_OF[n] for n in names},
                 "responsible_of": {tree.units["A1.1"].id: who.responsible, tree.units["A1.2"].id: who.responsible_12}}
    nested = session.begin_nested()
    try:
        steps = data.draw(st.lists(st.tuples(st.sampled_from(names + ["link"]), st.sampled_from(rows_a),
                                             st.sampled_from(OPS), st.sampled_from(REASONS)),
                                   min_size=1, max_size=40))
        for name, row, op, reason in steps:
            actor = sm.LinkActor(row.class_id or 0) if name == "link" else getattr(who, name)
            try:
                with session.begin_nested():
                    _do(campaign, actor, row, op, reason)
            except DomainError:
                pass
        check_invariants(campaign, who_by_id)
    finally:
        nested.rollback()


def test_a_full_path_satisfies_the_invariants(campaign, tree, who):
    """The deterministic journey the random walk may not reach: everything submitted up to the county."""
    from tests.workflows.conftest import submit_unit
    submit_unit(campaign, tree, "A1.1", who.responsible)
    submit_unit(campaign, tree, "A1.2", who.responsible_12)
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    sm.transition(who.inspector, campaign, tree.schools["A2"], "exclude", reason="closed")
    sm.transition(who.isg, campaign, tree.a, "submit")
    names = sorted(ROLE_OF)
    check_invariants(campaign, {"role": {getattr(who, n).id: ROLE_OF[n] for n in names},
                                "responsible_of": {tree.units["A1.1"].id: who.responsible,
                                                   tree.units["A1.2"].id: who.responsible_12}})
