"""Read side of campaigns: progress counts, filters and history — set-based, one statement per question.

Children are counted on ``(campaign_id, parent_id)``; a whole subtree at one level on ``(campaign_id, county_id)``
or on the path prefix, so a national page stays a handful of grouped statements over ~160,000 rows a campaign.
"""
from __future__ import annotations

from sqlalchemy import Select, case, func, select

from core.db import session
from tenants.models import Node
from workflows import state as sm
from workflows.models import Campaign, CampaignState, ClassLink, WorkflowEvent

COUNT_KEYS = ("total", "not_started", "in_progress", "submitted", "locked", "excluded", "extended_requested",
              "extended_submitted")


def campaigns(status: str | None = None) -> Select:
    q = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    return q.where(Campaign.status == status) if status else q


def _count_columns():
    s = CampaignState
    counted = s.excluded.is_(False)
    return [func.count().label("total"),
            func.sum(case(((s.state == "not_started") & counted, 1), else_=0)).label("not_started"),
            func.sum(case(((s.state == "in_progress") & counted, 1), else_=0)).label("in_progress"),
            func.sum(case(((s.state == "submitted") & counted, 1), else_=0)).label("submitted"),
            func.sum(case((s.locked.is_(True), 1), else_=0)).label("locked"),
            func.sum(case((s.excluded.is_(True), 1), else_=0)).label("excluded"),
            func.sum(case((s.extended == "requested", 1), else_=0)).label("extended_requested"),
            func.sum(case((s.extended == "submitted", 1), else_=0)).label("extended_submitted"),
            func.max(s.updated_at).label("last_activity")]


def _row_dict(row) -> dict:
    out = {k: int(row[k] or 0) for k in COUNT_KEYS}
    out["last_activity"] = row["last_activity"]
    return out


def _empty() -> dict:
    return {**dict.fromkeys(COUNT_KEYS, 0), "last_activity": None}


def children_counts(campaign: Campaign, parents: list[CampaignState | None]) -> dict[int | None, dict]:
    """For each parent row (None: the campaign's inspectorates) the counts of its direct children by state
    (excluded children are counted only as excluded), locked, excluded, extended, and their last activity.
    One grouped statement for the whole list."""
    ids = [p.id if p is not None else None for p in parents]
    out = {i: _empty() for i in ids}
    real = [i for i in ids if i is not None]
    s = CampaignState
    if real:
        q = (select(s.parent_id, *_count_columns()).where(s.campaign_id == campaign.id, s.parent_id.in_(real))
             .group_by(s.parent_id))
        for row in session.execute(q).mappings():
            out[row["parent_id"]] = _row_dict(row)
    if None in ids:
        row = session.execute(select(*_count_columns()).where(s.campaign_id == campaign.id,
                                                              s.parent_id.is_(None))).mappings().one()
        out[None] = _row_dict(row)
    return out


def node_counts(campaign: Campaign, target) -> dict:
    """Counts of the direct children of a node (the ministry: the inspectorates)."""
    if isinstance(target, Node) and target.level == "ministry":
        return children_counts(campaign, [None])[None]
    st = sm.state_for(campaign, target)
    return children_counts(campaign, [st])[st.id]


def level_counts(campaign: Campaign, within: Node | None, level: str) -> dict:
    """Counts of every row of ``level`` inside ``within``'s subtree (None or the ministry: the whole campaign),
    e.g. all classes of a county: one statement on the county/school column or the path prefix."""
    s = CampaignState
    q = select(*_count_columns()).where(s.campaign_id == campaign.id, s.level == level)
    if within is not None and within.level != "ministry":
        if within.level == "inspectorate":
            q = q.where(s.county_id == within.id)
        elif within.level == "school":
            q = q.where(s.school_id == within.id)
        else:
            q = q.where(s.path.startswith(within.path, autoescape=True))
    return _row_dict(session.execute(q).mappings().one())


def last_activity(campaign: Campaign, within: Node):
    """The latest workflow activity (transition or save) in a node's subtree."""
    s = CampaignState
    return session.execute(select(func.max(s.updated_at)).where(
        s.campaign_id == campaign.id, s.path.startswith(within.path, autoescape=True))).scalar()


def children(campaign: Campaign, parent: CampaignState | None, *, state: str | None = None,
             locked: bool | None = None, excluded: bool | None = None, level: str | None = None) -> Select:
    """The child rows of ``parent`` (None: the inspectorates), filterable, e.g. "schools not started":
    ``children(c, county_row, state="not_started", excluded=False)``."""
    s = CampaignState
    q = select(s).where(s.campaign_id == campaign.id)
    q = q.where(s.parent_id.is_(None) if parent is None else s.parent_id == parent.id)
    if state is not None:
        q = q.where(s.state == state)
    if locked is not None:
        q = q.where(s.locked.is_(locked))
    if excluded is not None:
        q = q.where(s.excluded.is_(excluded))
    if level is not None:
        q = q.where(s.level == level)
    return q.order_by(s.path)


def in_subtree(campaign: Campaign, within: Node, level: str, **filters) -> Select:
    """Rows of ``level`` in ``within``'s subtree with optional state/locked/excluded filters (national lists such
    as "schools of county X not started")."""
    s = CampaignState
    q = select(s).where(s.campaign_id == campaign.id, s.level == level,
                        s.path.startswith(within.path, autoescape=True))
    for name in ("state", "locked", "excluded", "extended"):
        if filters.get(name) is not None:
            q = q.where(getattr(s, name) == filters[name])
    return q.order_by(s.path)


def links_progress(campaign: Campaign, within: Node | None) -> dict:
    """Form-teacher links in ``within``'s subtree (None or the ministry: the whole campaign): classes with a link
    issued (not revoked), opened by the teacher, and submitted through the link. One statement."""
    link, s = ClassLink, CampaignState
    q = (select(func.count(link.id).label("issued"),
                func.sum(case((link.opened_at.is_not(None), 1), else_=0)).label("opened"),
                func.sum(case((link.submitted_at.is_not(None), 1), else_=0)).label("submitted"))
         .join(s, s.id == link.state_id).where(link.campaign_id == campaign.id, link.revoked_at.is_(None)))
    if within is not None and within.level != "ministry":
        if within.level == "inspectorate":
            q = q.where(s.county_id == within.id)
        elif within.level == "school":
            q = q.where(s.school_id == within.id)
        else:
            q = q.where(link.unit_id == within.id)
    row = session.execute(q).mappings().one()
    return {k: int(row[k] or 0) for k in ("issued", "opened", "submitted")}


def history(campaign: Campaign, target) -> Select:
    """The workflow events of one node or class, oldest first."""
    st = sm.state_for(campaign, target)
    return select(WorkflowEvent).where(WorkflowEvent.state_id == st.id).order_by(WorkflowEvent.id)


__all__ = ["campaigns", "children", "children_counts", "history", "in_subtree", "last_activity", "level_counts",
           "links_progress", "node_counts"]
