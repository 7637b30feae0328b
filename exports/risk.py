"""Risk read from the roll-up snapshots (:mod:`exports.rollup`): small queries for the inspectorate's lists and the
extended section. A node without a snapshot (not submitted yet) has no risk information: it is absent from
:func:`risk_by_node` and never matches :func:`where_risk`."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, exists, or_, select

from core.db import session
from exports.models import Snapshot
from workflows.models import Campaign, CampaignState

RISK_FILTERS = ("at_risk", "missing_data", "flagged")  # flagged: at risk or missing data


def risk_by_node(campaign: Campaign, node_ids: Iterable[int]) -> dict[int, dict]:
    """``{node_id: {"at_risk", "missing_data", "risk_codes"}}`` for the nodes of ``node_ids`` that have a snapshot
    (one query; ``risk_codes`` are ``criterion.level`` strings such as ``"ethnicity.class"``)."""
    ids = set(node_ids)
    if not ids:
        return {}
    rows = session.execute(select(Snapshot.node_id, Snapshot.at_risk, Snapshot.missing_data, Snapshot.risk_codes)
                           .where(Snapshot.campaign_id == campaign.id, Snapshot.node_id.in_(ids)))
    return {r.node_id: {"at_risk": bool(r.at_risk), "missing_data": bool(r.missing_data),
                        "risk_codes": list(r.risk_codes or [])} for r in rows}


def _flag(kind: str):
    if kind == "at_risk":
        return Snapshot.at_risk.is_(True)
    if kind == "missing_data":
        return Snapshot.missing_data.is_(True)
    if kind == "flagged":
        return or_(Snapshot.at_risk.is_(True), Snapshot.missing_data.is_(True))
    raise ValueError(f"unknown risk filter {kind!r} (one of {', '.join(RISK_FILTERS)})")


def where_risk(q: Select, kind: str) -> Select:
    """Filter a select of :class:`CampaignState` rows (e.g. :func:`workflows.queries.children`) to those whose node's
    snapshot has ``kind`` (``at_risk``, ``missing_data`` or ``flagged``): an EXISTS, so paging stays in SQL."""
    s = CampaignState
    return q.where(exists().where(Snapshot.campaign_id == s.campaign_id, Snapshot.node_id == s.node_id,
                                  _flag(kind)))


def flagged_classes(campaign: Campaign, unit_state: CampaignState) -> list[dict]:
    """The unit's classes with a risk or missing-data item (class or bench level), as the extended section's
    context expects: ``[{"key": "c<class_id>", "label": class name}]``. Read from the unit's snapshot; before the
    unit has one, evaluated from its current class tables."""
    snap = session.execute(select(Snapshot.details).where(Snapshot.campaign_id == campaign.id,
                                                          Snapshot.node_id == unit_state.node_id)).scalar()
    if snap is not None:
        classes = snap.get("children", [])
    else:
        from exports import rollup
        loader = rollup.Loader(campaign)
        inp = loader.load_unit(unit_state)
        classes = rollup.unit_details(inp, loader.evaluate(inp.data), "", {})["children"]
    return [{"key": f"c{c['id']}", "label": c["name"]} for c in classes if c.get("flagged")]


__all__ = ["RISK_FILTERS", "flagged_classes", "risk_by_node", "where_risk"]
