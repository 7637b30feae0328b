"""The content of a report, as one JSON-ready dict: what the API returns, what the HTML page shows and what every
file format renders. Built from roll-up snapshots (:mod:`exports.rollup`), never from a template's own queries.

THE CONTRACT (shared by exports.rollup, exports.reports, exports.render, the web page and the API; language-neutral:
codes and numbers, no translated text — renderers translate)::

    {
      "schema": 1,
      "campaign": {"id": int, "name": str, "school_year": "2026-2027"},
      "node": {"id": int, "level": "unit"|"school"|"inspectorate"|"ministry", "code": str|None, "name": str,
               "county": {"id", "name"}|None, "school": {"id", "name"}|None},
      "version": int, "reason": "submitted"|"on_demand"|"reissued"|"extended", "provisional": bool,
      "generated_at": "2026-11-21T08:00:00+00:00",
      "ruleset": {"key": "segregation", "version": 1},
      "completion": {"children_level": "class"|"unit"|"school"|"inspectorate",
                     "total": int, "submitted": int, "excluded": int, "pending": int},
      "totals": indicators_from_totals(aggregate) — units, classes, pupils, classes_missing_pupils, units_at_risk,
                units_with_missing_data, units_at_risk_share, groups{group_id: {criterion, n, N, missing, share,
                reference_share, gap_pp, score}}, bench{group_id: {...}}, criteria{criterion: {level: {units, at_risk,
                scores}}},
      "risk": [  # flagged items: a unit's own items; above the unit, the flagged items of every unit below
        {"unit": {"id", "name"}, "criterion": str, "group": str, "level": "class"|"building"|"bench"|"locality",
         "item": str, "item_name": str, "outcome": "risk"|"missing_data", "score": float|None,
         "share": float|None, "reference_share": float|None, "gap_pp": float|None, "codes": [str, ...]}
      ],
      "children": [  # the breakdown one level down (a unit: its classes)
        {"id": int, "code": str|None, "name": str, "level": str, "state": str, "excluded": bool,
         "exclusion_reason": str|None, "units": int, "classes": int, "pupils": int, "units_at_risk": int,
         "at_risk": bool, "groups": {group_id: {"n", "N", "share", "gap_pp", "score"}}}
      ],
      "exclusions": [{"id": int, "code": str|None, "name": str, "level": str, "reason": str}],
      "dissimilarity": {group_id: float|None},  # units only, else {}
      "aggregate": Aggregate.to_dict(),
    }

Floats are shares 0–1, gaps in percentage points, scores 0–10; None where not computable.

How it is built (:mod:`exports.rollup`): a **submitted** node (the nation: every inspectorate submitted) reads its
own snapshot — aggregate, risk, children breakdown, exclusions as written at submission — and is not provisional.
Any other node is **provisional**: a unit is evaluated from its current class tables (never-saved tables count as
missing data); above the unit, each submitted child contributes its snapshot and every other child that is not
excluded is recomputed from the raw tables (``sources`` says how many of each). ``completion`` always comes from the
campaign's state rows. ``node.county`` / ``node.school`` are the county and school containing the node (itself for
an inspectorate / a school).

Added keys (beyond the contract above): ``risk_total`` (flagged items before the cap of ``exports.rollup.RISK_CAP``
above the unit), ``units_at_risk`` (``[{"id", "name", "risk_codes"}]``, above the unit; at most
``exports.rollup.UNITS_AT_RISK_CAP``) with ``units_at_risk_total``, ``sources``
(``{"snapshots": int, "recomputed": int}``), ``snapshot`` (``{"version", "written_at"}`` or None) and, for a unit,
``extended`` (``{"state", "values"}``); every child row also has ``included`` (counted in the totals).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.db import session, utcnow
from exports import rollup
from exports.models import Snapshot
from forms.indicators_rollup import Aggregate, indicators_from_totals, sum_aggregates
from tenants.models import Node
from workflows import state as sm
from workflows.models import Campaign, CampaignState, CampaignValues

SCHEMA = 1


def build(campaign: Campaign, node: Node, *, version: int = 1, reason: str = "on_demand") -> dict[str, Any]:
    """The report data of ``node`` in ``campaign`` (from snapshots; provisional when the node is not submitted)."""
    loader = rollup.Loader(campaign)
    rs = loader.rs
    ministry = node.id == campaign.root_id
    row = None if ministry else sm.state_for(campaign, node)
    kids = rollup.children_rows(campaign, None if ministry else row)
    snap = rollup.get_snapshot(campaign, node.id)
    submitted = all(k.state == "submitted" for k in kids) if ministry else row.state == "submitted"
    if snap is not None and submitted:
        part = _from_snapshot(snap)
        if "extended" in part:  # requested after the snapshot: say so (the answers come with submit-extended)
            part["extended"] = {**part["extended"], "state": row.extended}
    elif not ministry and row.level == "unit":
        part = _unit_now(loader, row, node)
    else:
        part = _provisional(loader, row, kids)
    agg: Aggregate = part.pop("agg")
    data = {
        "schema": SCHEMA,
        "campaign": {"id": campaign.id, "name": campaign.name, "school_year": campaign.school_year.name},
        "node": _node(node),
        "version": version, "reason": reason, "provisional": not (snap is not None and submitted),
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "ruleset": {"key": rs.key, "version": rs.version},
        "completion": _completion(node, kids),
        "totals": indicators_from_totals(agg, rs),
        **part,
        "aggregate": agg.to_dict(),
    }
    return data


def _node(node: Node) -> dict:
    ids = {i for i in (node.county_id, node.school_id) if i}
    names = dict(session.execute(select(Node.id, Node.name).where(Node.id.in_(ids))).all()) if ids else {}

    def ref(i):
        return {"id": i, "name": names.get(i, "")} if i else None
    return {"id": node.id, "level": node.level, "code": node.code, "name": node.name,
            "county": ref(node.county_id), "school": ref(node.school_id if node.level in ("school", "unit") else None)}


def _completion(node: Node, kids: list[CampaignState]) -> dict:
    excluded = sum(1 for k in kids if k.excluded)
    submitted = sum(1 for k in kids if k.state == "submitted" and not k.excluded)
    return {"children_level": rollup.CHILD_LEVEL[node.level], "total": len(kids), "submitted": submitted,
            "excluded": excluded, "pending": len(kids) - submitted - excluded}


def _part(details: dict, agg: Aggregate, **extra) -> dict:
    return {"agg": agg, "risk": list(details.get("risk", [])), "risk_total": details.get("risk_total", 0),
            "children": list(details.get("children", [])), "exclusions": list(details.get("exclusions", [])),
            "units_at_risk": list(details.get("units_at_risk", [])),
            "units_at_risk_total": details.get("units_at_risk_total", len(details.get("units_at_risk", []))),
            "dissimilarity": dict(details.get("dissimilarity", {})), **extra}


def _from_snapshot(snap: Snapshot) -> dict:
    d = snap.details or {}
    extra = {"extended": d["extended"]} if snap.level == "unit" and "extended" in d else {}
    return _part(d, Aggregate.from_dict(snap.aggregate), sources={"snapshots": 1, "recomputed": 0},
                 snapshot={"version": snap.version, "written_at": d.get("written_at")}, **extra)


def _unit_now(loader: rollup.Loader, row: CampaignState, node: Node) -> dict:
    inp = loader.load_unit(row)
    result = loader.evaluate(inp.data)
    buildings = rollup.building_names([node.id]).get(node.id, {})
    details = rollup.unit_details(inp, result, node.name, buildings)
    ext = session.execute(select(CampaignValues.values, CampaignValues.version).where(
        CampaignValues.state_id == row.id, CampaignValues.section == "extended")).first()
    extended = {"state": row.extended, "values": dict(ext.values or {}) if ext is not None and ext.version else {}}
    return _part(details, result.aggregate, sources={"snapshots": 0, "recomputed": 1}, snapshot=None,
                 extended=extended)


def _provisional(loader: rollup.Loader, row: CampaignState | None, kids: list[CampaignState]) -> dict:
    """Above the unit, before submission: submitted children from their snapshots, the rest recomputed."""
    campaign, rs = loader.campaign, loader.rs
    zero = Aggregate(ruleset=(rs.key, rs.version))
    snaps = {s.node_id: s for s in session.execute(select(Snapshot).where(
        Snapshot.campaign_id == campaign.id, Snapshot.node_id.in_([k.node_id for k in kids]))).scalars()} \
        if kids else {}
    from_snap = {k.node_id for k in kids if not k.excluded and k.state == "submitted" and k.node_id in snaps}
    pending = [k for k in kids if not k.excluded and k.node_id not in from_snap]
    aggs: dict[int, Aggregate] = {k: Aggregate.from_dict(snaps[k].aggregate) for k in from_snap}
    recomputed = rollup.recompute_children(loader, row, pending) if pending else rollup.Recomputed({}, {})
    aggs.update(recomputed.aggregates)
    included = {k.node_id for k in kids if not k.excluded}
    total = sum_aggregates([zero, *(aggs.get(i, zero) for i in included)])
    # The snapshot's own rules build the breakdown, exclusions and risk from the children's snapshots; the
    # recomputed children are given as stand-in snapshots.
    stand_ins = {k: snaps[k] for k in from_snap}
    for node_id, agg in recomputed.aggregates.items():
        stand_ins[node_id] = Snapshot(node_id=node_id, aggregate=agg.to_dict(),
                                      details=recomputed.details.get(node_id, {}), **rollup.flags_of(agg))
    details = rollup.parent_details(kids, stand_ins, included, total, rs)
    return _part(details, total, sources={"snapshots": len(from_snap), "recomputed": len(pending)}, snapshot=None)
