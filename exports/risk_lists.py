"""Risk in the campaign lists: which rows of a campaign are at risk or lack data, read from the roll-up snapshots
(:class:`exports.models.Snapshot`, written by :mod:`exports.rollup` at each submission) on top of :mod:`exports.risk`.

Set-based like :mod:`workflows.queries`: a filter is an ``EXISTS`` on the snapshot of the row's node, a page's
badges one ``IN`` statement, a county's flagged units one join, the commission's per-county counts one grouped
statement. An excluded row shows no risk (it is out of the collection; its reason goes to the report); a row without
a snapshot (not submitted yet) has "no data yet".
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, String, and_, case, cast, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from core.db import session
from exports import risk
from exports.models import Snapshot
from tenants.models import Node
from workflows.models import Campaign, CampaignState

KINDS = ("at_risk", "missing_data")  # the risk filters; None: either of them (the county's list)
EXTENDED = ("none", "requested", "submitted")


@dataclass(frozen=True)
class Risk:
    """What a list row shows of its snapshot: the flags and the ``criterion.level`` codes at risk."""

    at_risk: bool
    missing_data: bool
    codes: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return self.at_risk or self.missing_data


def _flag(kind: str | None):
    if kind == "at_risk":
        return Snapshot.at_risk.is_(True)
    if kind == "missing_data":
        return Snapshot.missing_data.is_(True)
    if kind is None:
        return or_(Snapshot.at_risk.is_(True), Snapshot.missing_data.is_(True))
    raise ValueError(f"unknown risk kind {kind!r}")


def _criterion(criterion: str):
    """Snapshots with a code of ``criterion`` (``["ethnicity.class", …]`` stored as JSON text: a LIKE on the text
    works the same on PostgreSQL and SQLite)."""
    pattern = criterion.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(Snapshot.risk_codes, String).like(f'%"{pattern}.%', escape="\\")


def where_risk(q: Select, kind: str) -> Select:
    """Keep the :class:`CampaignState` rows of ``q`` (a select of node rows, e.g. :func:`workflows.queries.children`)
    whose node's snapshot has the flag ``kind`` (``at_risk`` / ``missing_data``): the EXISTS of
    :func:`exports.risk.where_risk`, so the page stays paginated in SQL. Class rows and excluded rows never match
    (an excluded row shows no risk on the pages either)."""
    if kind not in KINDS:
        raise ValueError(f"unknown risk kind {kind!r}")
    s = CampaignState
    return risk.where_risk(q, kind).where(s.level != "class", s.excluded.is_(False))


def risk_by_node(campaign: Campaign, node_ids) -> dict[int, Risk]:
    """The snapshot flags of the given nodes (:func:`exports.risk.risk_by_node`, one statement) as :class:`Risk`;
    a node without a snapshot is absent."""
    found = risk.risk_by_node(campaign, {i for i in node_ids if i is not None})
    return {node_id: Risk(r["at_risk"], r["missing_data"], tuple(dict.fromkeys(r["risk_codes"])))
            for node_id, r in found.items()}


def county_units(campaign: Campaign, county: Node, kind: str | None = None, criterion: str | None = None,
                 extended: str | None = None) -> Select:
    """The unit rows (:class:`CampaignState`) of ``county`` whose snapshot is flagged (``kind`` None: at risk or
    missing data), ordered by path; excluded units are left out. ``criterion`` keeps the units with a code of that
    criterion, ``extended`` (none/requested/submitted) the units whose extended section is in that state."""
    s = CampaignState
    q = (select(s).join(Snapshot, and_(Snapshot.campaign_id == s.campaign_id, Snapshot.node_id == s.node_id))
         .where(s.campaign_id == campaign.id, s.county_id == county.id, s.level == "unit",
                s.excluded.is_(False), _flag(kind)))
    if criterion:
        q = q.where(_criterion(criterion))
    if extended is not None:
        q = q.where(s.extended == extended)
    return q.order_by(s.path)


def county_counts(campaign: Campaign) -> list[dict]:
    """Per inspectorate of the campaign (ordered by path): its state row, how many of its units have data (a
    snapshot), are at risk, lack data, and have the extended section requested or submitted. One statement."""
    s, county = CampaignState, aliased(CampaignState)
    unit = and_(s.campaign_id == campaign.id, s.level == "unit", s.excluded.is_(False))
    per_county = (select(s.county_id.label("county_id"),
                         func.count(Snapshot.id).label("with_data"),
                         func.sum(case((Snapshot.at_risk.is_(True), 1), else_=0)).label("at_risk"),
                         func.sum(case((Snapshot.missing_data.is_(True), 1), else_=0)).label("missing_data"),
                         func.sum(case((s.extended != "none", 1), else_=0)).label("extended"))
                  .outerjoin(Snapshot, and_(Snapshot.campaign_id == s.campaign_id, Snapshot.node_id == s.node_id))
                  .where(unit).group_by(s.county_id).subquery())
    q = (select(county, per_county).outerjoin(per_county, per_county.c.county_id == county.node_id)
         .where(county.campaign_id == campaign.id, county.level == "inspectorate").order_by(county.path)
         .options(selectinload(county.node)))
    out = []
    for row in session.execute(q):
        m = row._mapping
        out.append({"state": row[0], **{k: int(m[k] or 0) for k in ("with_data", "at_risk", "missing_data",
                                                                     "extended")}})
    return out


def county_summary(campaign: Campaign, county: Node) -> dict:
    """The same counts for one inspectorate."""
    s = CampaignState
    q = (select(func.count(Snapshot.id), func.sum(case((Snapshot.at_risk.is_(True), 1), else_=0)),
                func.sum(case((Snapshot.missing_data.is_(True), 1), else_=0)))
         .select_from(s)
         .join(Snapshot, and_(Snapshot.campaign_id == s.campaign_id, Snapshot.node_id == s.node_id))
         .where(s.campaign_id == campaign.id, s.county_id == county.id, s.level == "unit", s.excluded.is_(False)))
    with_data, at_risk, missing = session.execute(q).one()
    return {"with_data": int(with_data or 0), "at_risk": int(at_risk or 0), "missing_data": int(missing or 0)}


__all__ = ["EXTENDED", "KINDS", "Risk", "county_counts", "county_summary", "county_units", "risk_by_node",
           "where_risk"]
