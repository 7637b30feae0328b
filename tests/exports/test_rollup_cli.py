"""``flask reports check`` and ``flask reports rebuild`` through ``app.test_cli_runner()`` (setup committed first;
the commands' commits are SAVEPOINT releases inside the test's rolled-back transaction)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import session
from exports import reports, rollup
from exports.models import Snapshot
from workflows import state as sm
from workflows.models import CampaignState, CampaignValues
from tests.exports.test_rollup import submit_tables
from tests.workflows.conftest import launch, people, submit_unit


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=list(args))
        session.expire_all()
        return result
    return run


@pytest.fixture
def submitted_school(tree, make_user, monkeypatch):
    monkeypatch.setattr(reports, "on_snapshot", lambda campaign_id, node_id, reason: None)
    who = people(tree, make_user)
    campaign = launch(who, tree)
    submit_tables(campaign, tree, "A1.1", who.responsible)
    submit_unit(campaign, tree, "A1.2", who.responsible_12)
    sm.transition(who.director, campaign, tree.schools["A1"], "submit")
    session.commit()
    return campaign


def test_check_says_identical_then_names_the_differences_and_rebuild_repairs_them(cli, submitted_school, tree):
    campaign = submitted_school
    r = cli("reports", "check", str(campaign.id))
    assert r.exit_code == 0, r.output
    assert f"campaign {campaign.id}: 3 snapshots, identical to the recomputation" in r.output
    # A class table changed behind the workflow's back.
    row = session.execute(select(CampaignValues).join(CampaignState, CampaignState.id == CampaignValues.state_id)
                          .where(CampaignState.campaign_id == campaign.id,
                                 CampaignState.class_id == tree.classes["A1.2.0"].id)).scalar_one()
    row.values = {**row.values, "pupils": 22, "ethnicity.undeclared": 22, "parents_education.unknown": 22}
    session.commit()
    r = cli("reports", "check", str(campaign.id))
    assert r.exit_code == 1
    assert f"unit {tree.units['A1.2'].id} pupils: snapshot 41, recomputed 43" in r.output
    assert f"school {tree.schools['A1'].id} pupils: snapshot 82, recomputed 84" in r.output
    assert "differences in 2 of 3 snapshots" in r.output
    r = cli("reports", "rebuild", str(campaign.id))
    assert r.exit_code == 0, r.output
    assert "rebuilt 2 unit, 1 school, 0 inspectorate, 0 ministry" in r.output
    school = session.execute(select(Snapshot).where(Snapshot.campaign_id == campaign.id,
                                                    Snapshot.node_id == tree.schools["A1"].id)).scalar_one()
    assert school.aggregate["pupils"] == 84 and school.version == 2
    assert rollup.check(campaign) == []
    assert cli("reports", "check", str(campaign.id)).exit_code == 0


def test_check_of_an_unknown_campaign_fails(cli, db):
    r = cli("reports", "check", "999999")
    assert r.exit_code == 1 and "no campaign 999999" in r.output
