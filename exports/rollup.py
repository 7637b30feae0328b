"""Roll-up snapshots: each node's indicator aggregate, stored once at submission and summed upward.

A **unit**'s snapshot is computed from its own data (class tables + the unit form's locality counts) with
:func:`forms.indicators.evaluate_unit`; a **school**'s and an **inspectorate**'s from their children's snapshots;
the **nation** (``level='ministry'``, node = the campaign's root, no state row) from the inspectorates'. So a
parent never reads the raw tables of its subtree: the national snapshot costs 42 rows, not 140,000 classes.

What a parent counts (the same rule everywhere, also in :func:`recompute`): the children that are **submitted and
not excluded**. Snapshots are kept equal to that rule at all times:

- ``submit`` of a unit/school/inspectorate writes its snapshot (``on_snapshot`` reason ``submitted``);
  ``submit-extended`` rewrites the unit's (reason ``extended``); both then rebuild every snapshot that already
  exists above (reason ``reissued``); the nation is (re)built whenever an inspectorate's snapshot is written;
- ``reopen``, ``exclude`` and ``include`` rebuild the existing snapshots above too (the reopened or excluded child
  leaves the sums, an included submitted child re-enters them) but issue no report: reports follow submissions.
  A reopened node keeps its own snapshot (its data as last submitted) until it is submitted again.

How a class table counts: saved values (version ≥ 1) are used as stored. A never-saved table (version 0) of a
**submitted** class counts with the form's defaults computed from the class parameters (it was submitted as
defaulted — what :func:`workflows.values.get_values` shows); a never-saved table of a class not submitted counts
as missing data (no pupils, no counts) — only provisional reports and recomputations see those. A never-saved
unit form has no locality counts (the form has no defaults for them). Counts that contradict each other (a group
larger than its class) make that class missing data instead of failing the submission.

:func:`recompute` is the full recomputation of a node from the raw tables (no snapshot) and :func:`check` compares
every snapshot with it, field by field. Recomputation reads only the integers the rules need (on PostgreSQL one
statement extracts them from the JSON class tables; for the whole campaign, chunks of counties are read by a
thread while the chunks already read are evaluated) and evaluates units with :mod:`exports.rollup_fast` (aggregate
only, integer arithmetic, units as vectors of integers summed up the tree) while snapshots use the engine's
:func:`~forms.indicators.evaluate_unit`, so the check also cross-checks two implementations of the rules.
Module layout: the value bridge and the payloads live in :mod:`exports.rollup_data` (re-exported here).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import load_only

from core import audit
from core.db import session
from exports.models import Snapshot
from exports.rollup_data import (  # noqa: F401  (re-exported: the roll-up's public surface)
    _BATCH, _LEVELS, CHILD_LEVEL, RISK_CAP, UNITS_AT_RISK_CAP, ClassInfo, Loader, UnitInput, _risk_order,
    building_names, campaign_ruleset, child_entry, flags_of, node_infos, parent_details, risk_codes_of, unit_details,
)
from exports.rollup_fast import sum_into
from forms.indicators_rollup import Aggregate, sum_aggregates
from forms.indicators_ruleset import Ruleset
from tenants.models import Node
from workflows import state as sm
from workflows.models import Campaign, CampaignState, CampaignValues

_NONE = object()  # "known to have no snapshot yet" (None means "not looked up")


# --- writing ------------------------------------------------------------------------------------------------

def get_snapshot(campaign: Campaign, node_id: int, *, lock: bool = False) -> Snapshot | None:
    q = select(Snapshot).where(Snapshot.campaign_id == campaign.id, Snapshot.node_id == node_id)
    if lock:
        q = q.with_for_update()
    return session.execute(q.execution_options(populate_existing=True)).scalar_one_or_none()


def _write(campaign: Campaign, rs: Ruleset, *, node_id: int, state_id: int | None, level: str, path: str,
           parent_node_id: int | None, county_id: int | None, agg: Aggregate, details: dict,
           existing: Any = None) -> Snapshot:
    """Insert or overwrite (version + 1) the snapshot of ``node_id``; ``existing``: the row when already loaded
    (``_NONE``: known to be absent; None: look it up)."""
    snap = get_snapshot(campaign, node_id, lock=True) if existing is None else None if existing is _NONE \
        else existing
    if snap is None:
        snap = Snapshot(campaign_id=campaign.id, node_id=node_id, version=0)
        session.add(snap)
    snap.state_id, snap.level, snap.path = state_id, level, path
    snap.parent_node_id, snap.county_id = parent_node_id, county_id
    snap.ruleset_key, snap.ruleset_version = rs.key, rs.version
    snap.aggregate, snap.details = agg.to_dict(), details
    for k, v in flags_of(agg).items():
        setattr(snap, k, v)
    snap.version = (snap.version or 0) + 1
    return snap


def _parent_node_id(campaign: Campaign, row: CampaignState) -> int | None:
    if row.level == "inspectorate":
        return campaign.root_id
    return session.execute(select(CampaignState.node_id).where(CampaignState.id == row.parent_id)).scalar()


def _unit_snapshot(loader: Loader, row: CampaignState, inp: UnitInput | None = None, *,
                   names: dict | None = None, buildings: dict | None = None, parent_node_id: int | None = None,
                   existing: Any = None, extended: Any = None) -> Snapshot:
    campaign = loader.campaign
    inp = inp or loader.load_unit(row)
    result = loader.evaluate(inp.data)
    name = (names or {}).get(row.node_id) or session.get(Node, row.node_id).name
    if buildings is None:
        buildings = building_names([row.node_id]).get(row.node_id, {})
    details = unit_details(inp, result, name, buildings)
    ext = session.execute(select(CampaignValues.values, CampaignValues.version).where(
        CampaignValues.state_id == row.id, CampaignValues.section == "extended")).first() \
        if extended is None else None if extended is _NONE else extended
    details["extended"] = {"state": row.extended,
                           "values": dict(ext.values or {}) if ext is not None and ext.version else {}}
    return _write(campaign, loader.rs, node_id=row.node_id, state_id=row.id, level="unit", path=row.path,
                  parent_node_id=parent_node_id if parent_node_id is not None else _parent_node_id(campaign, row),
                  county_id=row.county_id, agg=result.aggregate, details=details, existing=existing)


def children_rows(campaign: Campaign, parent: CampaignState | None) -> list[CampaignState]:
    """The state rows one level below ``parent`` (None: the inspectorates), in path order."""
    return _children(campaign, None if parent is None else parent.id)


def _children(campaign: Campaign, parent_state_id: int | None) -> list[CampaignState]:
    q = select(CampaignState).where(CampaignState.campaign_id == campaign.id)
    q = q.where(CampaignState.level == "inspectorate") if parent_state_id is None else \
        q.where(CampaignState.parent_id == parent_state_id)
    return list(session.execute(q.order_by(CampaignState.path)).scalars())


def _counted(row) -> bool:
    return row.state == "submitted" and not row.excluded


def _children_snapshots(campaign: Campaign, loader: Loader, kids: list[CampaignState]) -> dict[int, Snapshot]:
    """The children's snapshots (one query); a counted child without one (submitted before snapshots existed)
    gets it built first."""
    ids = [k.node_id for k in kids]
    snaps = {s.node_id: s for s in session.execute(select(Snapshot).where(
        Snapshot.campaign_id == campaign.id, Snapshot.node_id.in_(ids)))
        .scalars()} if ids else {}
    for k in kids:
        if _counted(k) and k.node_id not in snaps:
            snaps[k.node_id] = _build(loader, k)
    return snaps


def _parent_snapshot(loader: Loader, row: CampaignState | None, *, existing: Any = None) -> Snapshot:
    """A school's, an inspectorate's (``row``) or the nation's (``row`` None) snapshot from its children's."""
    campaign = loader.campaign
    if existing is None:
        existing = get_snapshot(campaign, campaign.root_id if row is None else row.node_id, lock=True)
    kids = _children(campaign, None if row is None else row.id)
    snaps = _children_snapshots(campaign, loader, kids)
    included = {k.node_id for k in kids if _counted(k) and k.node_id in snaps}
    total = sum_aggregates(Aggregate.from_dict(snaps[i].aggregate) for i in included)
    if total.ruleset is None:
        total = Aggregate(ruleset=(loader.rs.key, loader.rs.version))
    details = parent_details(kids, snaps, included, total, loader.rs)
    if row is None:
        root = session.get(Node, campaign.root_id)
        return _write(campaign, loader.rs, node_id=root.id, state_id=None, level="ministry", path=root.path,
                      parent_node_id=None, county_id=None, agg=total, details=details, existing=existing)
    return _write(campaign, loader.rs, node_id=row.node_id, state_id=row.id, level=row.level, path=row.path,
                  parent_node_id=_parent_node_id(campaign, row), county_id=row.county_id, agg=total,
                  details=details, existing=existing)


def _build(loader: Loader, row: CampaignState) -> Snapshot:
    if row.level == "unit":
        return _unit_snapshot(loader, row)
    return _parent_snapshot(loader, row)


def snapshot_node(campaign: Campaign, state_row: CampaignState | None) -> Snapshot:
    """Write (or overwrite, version + 1) the snapshot of a unit, school or inspectorate state row, or of the nation
    when ``state_row`` is None. Flushes; the caller commits."""
    loader = Loader(campaign)
    if state_row is not None and state_row.level == "class":
        raise ValueError("classes have no snapshot; snapshot their unit")
    snap = _parent_snapshot(loader, None) if state_row is None else _build(loader, state_row)
    session.flush()
    audit.record("snapshots.write", object_type="campaigns", object_id=campaign.id, node_id=snap.node_id,
                 new={"action": "snapshot", "snapshots": [[snap.node_id, snap.version]]})
    return snap


def snapshot_nation(campaign: Campaign) -> Snapshot:
    return snapshot_node(campaign, None)


def _ancestors_bottom_up(row: CampaignState) -> list[CampaignState]:
    paths = row.ancestor_paths
    if not paths:
        return []
    rows = session.execute(select(CampaignState).where(CampaignState.campaign_id == row.campaign_id,
                                                       CampaignState.path.in_(paths))).scalars()
    return sorted(rows, key=lambda r: -len(r.path))


def refresh(campaign: Campaign, row: CampaignState, *, write_own: bool) -> list[tuple[int, int, bool]]:
    """Write ``row``'s snapshot (when ``write_own``), then rebuild every snapshot that exists above it, bottom up,
    and the nation when an inspectorate's snapshot was written (or an inspectorate's state changed and the
    nation's exists). Returns (node id, version, own) of every snapshot written, in order."""
    loader = Loader(campaign)
    written: list[tuple[int, int, bool]] = []
    county_written = False
    if write_own:
        snap = _build(loader, row)
        written.append((snap.node_id, snap.version, True))
        county_written = row.level == "inspectorate"
    for a in _ancestors_bottom_up(row):
        existing = get_snapshot(campaign, a.node_id, lock=True)
        if existing is None:
            continue
        snap = _parent_snapshot(loader, a, existing=existing)
        written.append((snap.node_id, snap.version, False))
        county_written = county_written or a.level == "inspectorate"
    # The nation sums the inspectorates' snapshots: it changes only when one of them was written, or when an
    # inspectorate itself was reopened (it leaves the sum).
    if county_written or row.level == "inspectorate":
        nation = get_snapshot(campaign, campaign.root_id, lock=True)
        if nation is None and not county_written:
            session.flush()
            return written
        if nation is None:
            # Two inspectorates submitted at once would both create it: serialise on the campaign row.
            session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
            nation = get_snapshot(campaign, campaign.root_id, lock=True)
        snap = _parent_snapshot(loader, None, existing=nation)
        written.append((snap.node_id, snap.version, False))
    session.flush()
    return written


_OWN_REASON = {"submit": "submitted", "submit-extended": "extended"}


def after_transition(campaign: Campaign, row: CampaignState, action: str, actor) -> None:
    """The :data:`workflows.state.AFTER_TRANSITION` callback (runs in the transition's transaction)."""
    if row.level == "class" or action not in ("submit", "submit-extended", "reopen", "exclude", "include"):
        return
    own = action in _OWN_REASON
    if not own and session.execute(select(Snapshot.id).where(Snapshot.campaign_id == campaign.id).limit(1)
                                   ).first() is None:
        return  # nothing written yet: nothing to keep up to date
    written = refresh(campaign, row, write_own=own)
    if not written:
        return
    audit.record("snapshots.write", actor=sm.actor_label(actor), object_type="campaigns", object_id=campaign.id,
                 node_id=row.node_id, new={"action": action, "snapshots": [[n, v] for n, v, _ in written]})
    if own:
        from exports import report_tasks  # noqa: F401  (registers reports.generate, which on_snapshot queues)
        from exports import reports
        for node_id, _version, is_own in written:
            if is_own:
                reason = _OWN_REASON[action]
            elif node_id == campaign.root_id and action == "submit" and row.level == "inspectorate":
                reason = "submitted"  # a county delivered: the nation has no submission of its own
            else:
                reason = "reissued"
            reports.on_snapshot(campaign.id, node_id, reason)


if after_transition not in sm.AFTER_TRANSITION:
    sm.AFTER_TRANSITION.append(after_transition)


# --- full recomputation and the check -----------------------------------------------------------------------

@dataclass
class Tree:
    """The campaign's node rows of a subtree (inspectorates, schools, units) with unit form values."""
    rows: dict[int, Any]  # state id → row
    kids: dict[int | None, list[int]]  # parent state id → child state ids


def load_tree(campaign: Campaign, prefix: str | None = None) -> Tree:
    q = (select(CampaignState.id, CampaignState.parent_id, CampaignState.node_id, CampaignState.level,
                CampaignState.state, CampaignState.excluded, CampaignState.exclusion_reason, CampaignState.path,
                CampaignState.county_id, CampaignValues.values.label("form_values"),
                CampaignValues.version.label("form_version"))
         .outerjoin(CampaignValues, (CampaignValues.state_id == CampaignState.id)
                    & (CampaignValues.section == "unit"))
         .where(CampaignState.campaign_id == campaign.id, CampaignState.level != "class"))
    if prefix:
        q = q.where(CampaignState.path.startswith(prefix))
    rows = {r.id: r for r in session.execute(q)}
    kids: dict[int | None, list[int]] = {}
    for r in rows.values():
        kids.setdefault(r.parent_id if r.parent_id in rows else None, []).append(r.id)
    return Tree(rows, kids)


def _sum_up(tree: Tree, unit_aggs: dict[int, Aggregate], only_submitted: bool, zero: Aggregate
            ) -> dict[int | None, Aggregate]:
    """Bottom-up sums over the tree by the snapshot rule (None = the top: the nation, or the subtree's root)."""
    out: dict[int | None, Aggregate] = {}

    def counted(r) -> bool:
        return not r.excluded and (r.state == "submitted" or not only_submitted)

    def visit(state_id: int) -> Aggregate:
        r = tree.rows[state_id]
        if r.level == "unit":
            agg = unit_aggs.get(state_id, zero)
        else:
            kids = tree.kids.get(state_id, [])
            sums = [visit(k) for k in kids]  # every child is visited: each has its own recomputation
            agg = sum_into((a for k, a in zip(kids, sums, strict=True) if counted(tree.rows[k])), zero)
        out[state_id] = agg
        return agg

    for top in tree.kids.get(None, []):
        visit(top)
    out[None] = sum_into((out[k] for k in tree.kids.get(None, []) if counted(tree.rows[k])), zero)
    return out


def _needed_units(tree: Tree, start: list[int], only_submitted: bool, *, top_counts: bool) -> set[int]:
    need, stack = set(), [(s, top_counts) for s in start]
    while stack:
        sid, check_me = stack.pop()
        r = tree.rows[sid]
        if check_me and (r.excluded or (only_submitted and r.state != "submitted")):
            continue
        if r.level == "unit":
            need.add(sid)
        stack.extend((k, True) for k in tree.kids.get(sid, []))
    return need


def _sum_vectors(plan, tree: Tree, unit_vecs: dict[int, tuple], start: list[int], only_submitted: bool,
                 top_counts: bool, keep: bool) -> dict[int | None, list[int]]:
    """:func:`_sum_up` over the units' vectors: the sum of ``start`` (key None; as counted children of the top
    when ``top_counts``, else ``start`` is one node and the sum its own), and with ``keep`` every node's sum."""
    out: dict[int | None, list[int]] = {}

    def counted(r) -> bool:
        return not r.excluded and (r.state == "submitted" or not only_submitted)

    if not keep:  # sums are linear: every unit under a counted path goes straight into the top's sum
        top = plan.zero()
        stack = [s for s in start if not top_counts or counted(tree.rows[s])]
        while stack:
            state_id = stack.pop()
            if tree.rows[state_id].level == "unit":
                vec = unit_vecs.get(state_id)
                if vec is not None:
                    plan.add_unit(top, vec)
            else:
                stack.extend(k for k in tree.kids.get(state_id, []) if counted(tree.rows[k]))
        return {None: top}

    def visit(state_id: int) -> list[int]:
        acc = plan.zero()
        r = tree.rows[state_id]
        if r.level == "unit":
            vec = unit_vecs.get(state_id)
            if vec is not None:
                plan.add_unit(acc, vec)
        else:
            for k in tree.kids.get(state_id, []):
                sub = visit(k)  # every node is visited: each has its own recomputation
                if counted(tree.rows[k]):
                    plan.add(acc, sub)
        out[state_id] = acc
        return acc

    top = plan.zero()
    for s in start:
        acc = visit(s)
        if not top_counts or counted(tree.rows[s]):
            plan.add(top, acc)
    out[None] = top
    return out


def recompute(campaign: Campaign, node, *, only_submitted: bool = True) -> Aggregate:
    """The aggregate of ``node`` (a Node, a state row, or the campaign's root for the nation) from the raw tables:
    every unit below it counted by the snapshot rule (each state row between the unit and the node submitted and
    not excluded; with ``only_submitted=False`` only not excluded), evaluated from its class tables. A unit's own
    aggregate is computed whatever its state. One query over the class rows (:meth:`Loader.unit_vectors`), sums
    of integer vectors (:class:`exports.rollup_fast.Plan`)."""
    loader = Loader(campaign)
    node_id = node.node_id if isinstance(node, CampaignState) else node.id
    if node_id == campaign.root_id:
        tree, prefix = load_tree(campaign), None
        start, top = tree.kids.get(None, []), True
    else:
        row = node if isinstance(node, CampaignState) else sm.state_for(campaign, node)
        prefix = row.path
        tree = load_tree(campaign, prefix)
        start, top = [row.id], False
    needed = _needed_units(tree, start, only_submitted, top_counts=top)
    vecs = loader.unit_vectors({i: tree.rows[i] for i in needed}, prefix)
    plan = loader.plan
    return plan.aggregate(_sum_vectors(plan, tree, vecs, start, only_submitted, top, keep=False)[None])


def recompute_all(campaign: Campaign) -> dict[int, Aggregate]:
    """node id → recomputed aggregate of every inspectorate, school and unit, and the nation (root id)."""
    loader = Loader(campaign)
    tree = load_tree(campaign)
    vecs = loader.unit_vectors({i: r for i, r in tree.rows.items() if r.level == "unit"})
    plan = loader.plan
    sums = _sum_vectors(plan, tree, vecs, tree.kids.get(None, []), True, True, keep=True)
    out = {tree.rows[i].node_id: plan.aggregate(acc) for i, acc in sums.items() if i is not None}
    out[campaign.root_id] = plan.aggregate(sums[None])
    return out


@dataclass
class Recomputed:
    """Children recomputed from the raw tables (node id → aggregate, and details shaped like a snapshot's)."""
    aggregates: dict[int, Aggregate]
    details: dict[int, dict]


def recompute_children(loader: Loader, parent: CampaignState | None, children: list[CampaignState]) -> Recomputed:
    """The provisional aggregates and details of ``children`` (not excluded) of ``parent`` (None: the nation):
    every unit below each child that is not excluded counts, whatever its state, evaluated from its class tables
    (never-saved tables as missing data). One streaming query over the parent's subtree."""
    campaign, rs = loader.campaign, loader.rs
    zero = Aggregate(ruleset=(rs.key, rs.version))
    prefix = None if parent is None else parent.path
    tree = load_tree(campaign, prefix)
    units_of: dict[int, list[int]] = {}
    excluded_of: dict[int, list[int]] = {}
    for k in children:
        stack = [k.id]
        while stack:
            sid = stack.pop()
            r = tree.rows[sid]
            if r.excluded and sid != k.id:
                excluded_of.setdefault(k.id, []).append(sid)
                continue
            if r.level == "unit":
                units_of.setdefault(k.id, []).append(sid)
            stack.extend(tree.kids.get(sid, []))
    child_of = {u: k for k, us in units_of.items() for u in us}
    units = {u: tree.rows[u] for u in child_of}
    names = {nid: info[1] for nid, info in node_infos(r.node_id for r in units.values()).items()}
    buildings = building_names(r.node_id for r in units.values())
    unit_aggs: dict[int, Aggregate] = {}
    details: dict[int, dict] = {k.id: {"risk": [], "risk_total": 0, "exclusions": [], "units_at_risk": []}
                                for k in children}
    for inp in loader.stream_units(units, prefix):
        result = loader.evaluate(inp.data)
        unit_aggs[inp.state_id] = result.aggregate
        name = names.get(inp.node_id, "")
        d = details[child_of[inp.state_id]]
        if inp.state_id in details:  # the child is this unit: its own details
            details[inp.state_id] = {**unit_details(inp, result, name, buildings.get(inp.node_id, {})),
                                     "exclusions": []}
            continue
        unit_d = unit_details(inp, result, name, buildings.get(inp.node_id, {}))
        d["risk"].extend(unit_d["risk"])
        d["risk_total"] += unit_d["risk_total"]
        if result.at_risk:
            d["units_at_risk"].append({"id": inp.node_id, "name": name,
                                       "risk_codes": flags_of(result.aggregate)["risk_codes"]})
    sums = _sum_up(tree, unit_aggs, False, zero)
    infos = node_infos(tree.rows[s].node_id for ss in excluded_of.values() for s in ss)
    for k in children:
        d = details[k.id]
        d["risk"] = sorted(d["risk"], key=_risk_order)[:RISK_CAP]
        d["exclusions"] = sorted(
            ({"id": tree.rows[s].node_id, "code": infos.get(tree.rows[s].node_id, (None, ""))[0],
              "name": infos.get(tree.rows[s].node_id, (None, ""))[1], "level": tree.rows[s].level,
              "reason": tree.rows[s].exclusion_reason} for s in excluded_of.get(k.id, [])),
            key=lambda e: (_LEVELS.index(e["level"]), e["name"], e["id"]))
    return Recomputed({k.node_id: sums.get(k.id, zero) for k in children},
                      {k.node_id: details[k.id] for k in children})


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as ``{"groups.ethnicity.roma.n": 12, …}`` (what the check compares)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data}


def compare(snapshot: dict, recomputed: dict) -> list[tuple[str, Any, Any]]:
    """(field, snapshot value, recomputed value) for every field that differs; a zero and an absent counter are
    the same number."""
    a, b = flatten(snapshot), flatten(recomputed)
    out = []
    for key in sorted(a.keys() | b.keys()):
        x, y = a.get(key), b.get(key)
        if x != y and not ({x, y} <= {0, None} and not key.startswith("ruleset")):
            out.append((key, x, y))
    return out


def check(campaign: Campaign) -> list[dict]:
    """Every difference between a snapshot and the full recomputation of its node: ``[{"node_id", "level",
    "field", "snapshot", "recomputed"}]`` — empty when every snapshot is exact. Checked: the snapshots of
    submitted units, of every school and inspectorate and of the nation (kept equal to the sum of their counted
    children); a reopened unit's snapshot keeps its data as last submitted and is not compared."""
    recomputed = recompute_all(campaign)
    states = dict(session.execute(select(CampaignState.node_id, CampaignState.state).where(
        CampaignState.campaign_id == campaign.id, CampaignState.level == "unit")).all())
    out = []
    for snap in session.execute(select(Snapshot).where(Snapshot.campaign_id == campaign.id)
                                .order_by(Snapshot.path)).scalars():
        if snap.level == "unit" and states.get(snap.node_id) != "submitted":
            continue
        agg = recomputed.get(snap.node_id)
        if agg is None:
            out.append({"node_id": snap.node_id, "level": snap.level, "field": "*", "snapshot": "present",
                        "recomputed": None})
            continue
        diffs = compare(snap.aggregate, agg.to_dict())
        flags = flags_of(agg)
        diffs += [(k, getattr(snap, k), flags[k]) for k in ("at_risk", "missing_data")
                  if bool(getattr(snap, k)) != flags[k]]
        if sorted(snap.risk_codes or []) != flags["risk_codes"]:
            diffs.append(("risk_codes", snap.risk_codes, flags["risk_codes"]))
        out.extend({"node_id": snap.node_id, "level": snap.level, "field": f, "snapshot": x, "recomputed": y}
                   for f, x, y in diffs)
    return out


def rebuild(campaign: Campaign) -> dict[str, int]:
    """Rewrite every snapshot from the raw tables: the submitted units (one streaming pass), then bottom up every
    school and inspectorate that is submitted or already had a snapshot, then the nation. No report is issued.
    Returns the number written per level."""
    loader = Loader(campaign)
    tree = load_tree(campaign)
    # Only what the rewrite needs of the existing rows (their aggregates and details are replaced, not read).
    existing = {s.node_id: s for s in session.execute(select(Snapshot).where(
        Snapshot.campaign_id == campaign.id).options(load_only(Snapshot.id, Snapshot.node_id, Snapshot.version)))
        .scalars()}
    counts = {"unit": 0, "school": 0, "inspectorate": 0, "ministry": 0}
    units = {i: r for i, r in tree.rows.items() if r.level == "unit" and r.state == "submitted"}
    node_of = {i: r.node_id for i, r in tree.rows.items()}
    buildings = building_names(r.node_id for r in units.values())
    names = {nid: info[1] for nid, info in node_infos(r.node_id for r in units.values()).items()}
    state_rows = {r.id: r for r in session.execute(select(CampaignState).where(
        CampaignState.campaign_id == campaign.id, CampaignState.level == "unit",
        CampaignState.state == "submitted")).scalars()}
    extended = {r.state_id: r for r in session.execute(select(
        CampaignValues.state_id, CampaignValues.values, CampaignValues.version).where(
        CampaignValues.campaign_id == campaign.id, CampaignValues.section == "extended"))}
    for inp in loader.stream_units(units):
        r = tree.rows[inp.state_id]
        _unit_snapshot(loader, state_rows[r.id], inp, names=names, buildings=buildings.get(r.node_id, {}),
                       parent_node_id=node_of.get(r.parent_id), existing=existing.get(r.node_id, _NONE),
                       extended=extended.get(r.id, _NONE))
        counts["unit"] += 1
        if counts["unit"] % _BATCH == 0:
            session.flush()
    session.flush()
    for level in ("school", "inspectorate"):
        for i, r in tree.rows.items():
            if r.level == level and (r.state == "submitted" or r.node_id in existing):
                _parent_snapshot(loader, session.get(CampaignState, i), existing=existing.get(r.node_id, _NONE))
                counts[level] += 1
        session.flush()
    if counts["inspectorate"] or campaign.root_id in existing:
        _parent_snapshot(loader, None, existing=existing.get(campaign.root_id, _NONE))
        counts["ministry"] = 1
    session.flush()
    audit.record("snapshots.rebuild", object_type="campaigns", object_id=campaign.id, node_id=campaign.root_id,
                 new=counts)
    return counts


__all__ = ["Loader", "campaign_ruleset", "check", "rebuild", "recompute", "recompute_all", "refresh",
           "snapshot_nation", "snapshot_node"]
