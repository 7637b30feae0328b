from workflows import state, values
from workflows.models import CampaignState
from core.db import session
from sqlalchemy import select, func
from tests.workflows.conftest import fill_class


def test_launch_snapshot(campaign, tree):
    rows = dict(session.execute(select(CampaignState.level, func.count()).where(
        CampaignState.campaign_id == campaign.id).group_by(CampaignState.level)).all())
    assert rows == {"inspectorate": 2, "school": 4, "unit": 8, "class": 16}


def test_round_trip(campaign, tree, who):
    for k in ("A1.1.0", "A1.1.1"):
        fill_class(campaign, tree.classes[k], who.helper)
        state.transition(who.helper, campaign, tree.classes[k], "submit")
    print(values.get_values(campaign, tree.units["A1.1"]).values)
    print(values.submit_errors(campaign, state.state_for(campaign, tree.units["A1.1"]), "unit"))
