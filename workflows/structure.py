"""Structure changes that reach a running campaign: a class added to a unit after the launch joins the campaign.

Launch snapshots the classes of the campaign's school year (:func:`workflows.campaigns._snapshot`). A class the
unit adds later joins a running campaign of that year only while the unit's data there can still be edited (not
submitted, locked or excluded, nothing above it locked or submitted): otherwise the submitted or frozen picture
would change under the people who reported or froze it.
"""
from __future__ import annotations

from sqlalchemy import select

from core.db import session, utcnow
from core.errors import Conflict
from tenants.models import SchoolClass
from workflows import state as sm
from workflows.models import Campaign, CampaignState, CampaignValues


def running_campaigns(school_year_id: int) -> list[Campaign]:
    return list(session.execute(select(Campaign).where(Campaign.school_year_id == school_year_id,
                                                       Campaign.status == "running").order_by(Campaign.id))
                .scalars())


def add_class(campaign: Campaign, school_class: SchoolClass, actor=None) -> CampaignState:
    """Insert the class's state row (as the launch snapshot would have) and its empty class-table values (version
    0: the table starts from the defaults of the class parameters). Conflict when the campaign is not running for
    this class's year, the unit does not take part, the class already does, or the unit's data cannot be edited."""
    if campaign.school_year_id != school_class.school_year_id:
        raise Conflict("the campaign collects another school year")
    unit_state = session.execute(select(CampaignState).where(
        CampaignState.campaign_id == campaign.id, CampaignState.node_id == school_class.unit_id,
        CampaignState.level == "unit")).scalar_one_or_none()
    if unit_state is None:
        raise Conflict("the unit does not take part in the campaign")
    # The unit's row FOR UPDATE (its ancestors FOR SHARE): a submit or lock of the unit runs before or after us.
    chain = sm.lock_chain(unit_state)
    session.refresh(campaign)  # a concurrent close is seen
    blocker = sm.edit_blocker(campaign, chain, "unit")
    if blocker is not None:
        raise Conflict(f"the class cannot join the campaign: {blocker}", details={"reason": blocker})
    unit_state = chain.me
    path = f"{unit_state.path}c{school_class.id}/"
    if session.execute(select(CampaignState.id).where(CampaignState.campaign_id == campaign.id,
                                                      CampaignState.path == path)).first():
        raise Conflict("the class already takes part in the campaign")
    row = CampaignState(campaign_id=campaign.id, level="class", node_id=school_class.unit_id,
                        class_id=school_class.id, parent_id=unit_state.id, path=path,
                        county_id=unit_state.county_id, school_id=unit_state.school_id, state="not_started",
                        locked=False, excluded=False, extended="none", updated_at=utcnow())
    session.add(row)
    session.flush()
    session.add(CampaignValues(campaign_id=campaign.id, state_id=row.id, section="class", values={}, version=0))
    sm.record_event(campaign, row, "class-added", actor, after={"class_id": school_class.id, **row.snapshot()})
    session.flush()
    return row


def join_running_campaigns(school_class: SchoolClass, actor=None) -> tuple[list[Campaign], list[tuple]]:
    """Add a new class to every running campaign of its school year: (joined, [(campaign, reason), …] refused)."""
    joined, refused = [], []
    for campaign in running_campaigns(school_class.school_year_id):
        try:
            add_class(campaign, school_class, actor)
        except Conflict as e:
            refused.append((campaign, e.message))
        else:
            joined.append(campaign)
    return joined, refused


__all__ = ["add_class", "join_running_campaigns", "running_campaigns"]
