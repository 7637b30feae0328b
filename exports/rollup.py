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

:func:`recompute` is the full recomputation of a node from the raw tables (one streaming query, no snapshot) and
:func:`check` compares every snapshot with it, field by field.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from core import audit
from core.db import session, utcnow
from core.errors import NotFound
from exports.models import Snapshot
from forms import engine
from forms.indicators import ClassData, IndicatorInputError, UnitData, UnitResult, evaluate_unit
from forms.indicators_rollup import Aggregate, indicators_from_totals, sum_aggregates
from forms.indicators_ruleset import Ruleset, load_ruleset
from tenants.models import Building, Node, SchoolClass
from workflows import state as sm
from workflows.models import Campaign, CampaignState, CampaignValues

RISK_CAP = 200  # flagged items kept in the details of a snapshot above the unit (the highest scores first)
UNITS_AT_RISK_CAP = 2000  # at-risk units listed in the details of a snapshot above the unit
CHILD_LEVEL = {"ministry": "inspectorate", "inspectorate": "school", "school": "unit", "unit": "class"}
_BATCH = 2000
_LEVELS = ("ministry", "inspectorate", "school", "unit", "class")
_NONE = object()  # "known to have no snapshot yet" (None means "not looked up")


# --- ruleset ------------------------------------------------------------------------------------------------

def campaign_ruleset(campaign: Campaign) -> Ruleset:
    """The ruleset the campaign pinned: the published parameters stored in the database, or the shipped file."""
    from forms.operations import ruleset_params
    try:
        params = ruleset_params(campaign.ruleset_key, campaign.ruleset_version)
    except NotFound:
        return load_ruleset(campaign.ruleset_key, campaign.ruleset_version)
    return Ruleset.from_params(params, key=campaign.ruleset_key, version=campaign.ruleset_version)


# --- the bridge: campaign values → UnitData ------------------------------------------------------------------

@dataclass
class ClassInfo:
    """What a unit's report says of one of its classes besides the indicator items."""
    id: int
    name: str
    state: str
    version: int
    missing: bool  # never saved and not submitted: counted as missing data


@dataclass
class UnitInput:
    state_id: int
    node_id: int
    data: UnitData
    classes: list[ClassInfo] = field(default_factory=list)


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_CLASS_COLUMNS = (CampaignState.parent_id.label("unit_state_id"), CampaignState.class_id, CampaignState.state,
                  CampaignValues.version, CampaignValues.values, SchoolClass.name, SchoolClass.grade_level,
                  SchoolClass.teaching_language, SchoolClass.education_form, SchoolClass.combined,
                  SchoolClass.building_id, SchoolClass.pupils)


def _class_query(campaign: Campaign):
    return (select(*_CLASS_COLUMNS)
            .join(CampaignValues, (CampaignValues.state_id == CampaignState.id) & (CampaignValues.section == "class"))
            .join(SchoolClass, SchoolClass.id == CampaignState.class_id)
            .where(CampaignState.campaign_id == campaign.id, CampaignState.level == "class")
            .order_by(CampaignState.parent_id, SchoolClass.grade_level, SchoolClass.name, SchoolClass.id))


class Loader:
    """Turns campaign rows into indicator inputs under the campaign's ruleset (one per operation)."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.rs = campaign_ruleset(campaign)
        keys = {self.rs.bench_seats}
        for g in self.rs.groups():
            keys.update(g.counts)
            if g.bench:
                keys.add(g.bench)
        self.keys = tuple(sorted(keys))
        self._definition = None

    def _defaults(self, row) -> dict:
        from workflows.values import definition_for
        if self._definition is None:
            self._definition = definition_for(self.campaign, "class")
        ctx = engine.class_context(row)
        return engine.compute(self._definition, engine.generate_defaults(self._definition, ctx), ctx)

    def class_data(self, row) -> tuple[ClassData, ClassInfo]:
        missing = not row.version and row.state != "submitted"
        values = {} if missing else (row.values or {}) if row.version else self._defaults(row)
        data = ClassData(id=row.class_id, pupils=_as_int(values.get("pupils")),
                         counts={k: _as_int(values.get(k)) for k in self.keys},
                         grade_level=row.grade_level, teaching_language=row.teaching_language,
                         building_id=row.building_id)
        return data, ClassInfo(row.class_id, row.name, row.state, row.version or 0, missing)

    def unit_data(self, node_id: int, form_values: dict | None, form_version: int, class_rows) -> UnitInput:
        values = (form_values or {}) if form_version else {}
        prefix = self.rs.locality_prefix
        locality = {k: _as_int(v) for k, v in values.items() if k.startswith(prefix) and k != f"{prefix}pupils"}
        pairs = [self.class_data(r) for r in class_rows]
        data = UnitData(id=node_id, classes=tuple(p[0] for p in pairs),
                        locality_pupils=_as_int(values.get(f"{prefix}pupils")), locality_counts=locality)
        return UnitInput(0, node_id, data, [p[1] for p in pairs])

    def evaluate(self, unit: UnitData) -> UnitResult:
        """:func:`evaluate_unit`, with contradictory counts (a class's, or the locality's) turned into missing data."""
        try:
            return evaluate_unit(unit, self.rs)
        except IndicatorInputError:
            return evaluate_unit(_sanitised(unit, self.rs), self.rs)

    def load_unit(self, unit_state: CampaignState) -> UnitInput:
        """One unit's input: its class tables (one query) and its unit form."""
        form = session.execute(select(CampaignValues.values, CampaignValues.version).where(
            CampaignValues.state_id == unit_state.id, CampaignValues.section == "unit")).first()
        rows = session.execute(_class_query(self.campaign).where(CampaignState.parent_id == unit_state.id)).all()
        out = self.unit_data(unit_state.node_id, form.values if form else None, form.version if form else 0, rows)
        out.state_id = unit_state.id
        return out

    def stream_units(self, unit_rows: dict[int, Any], prefix: str | None = None) -> Iterator[UnitInput]:
        """Every unit of ``unit_rows`` (state id → row with node_id, form_values, form_version) with its classes,
        from one streaming query over the class rows (ordered by unit); units without classes come last."""
        q = _class_query(self.campaign)
        if prefix:
            q = q.where(CampaignState.path.startswith(prefix))
        seen: set[int] = set()
        current, batch = None, []

        def emit(state_id, rows):
            u = unit_rows[state_id]
            out = self.unit_data(u.node_id, u.form_values, u.form_version or 0, rows)
            out.state_id = state_id
            seen.add(state_id)
            return out

        for row in session.execute(q.execution_options(yield_per=_BATCH)):
            if row.unit_state_id != current:
                if current is not None and current in unit_rows:
                    yield emit(current, batch)
                current, batch = row.unit_state_id, []
            if current in unit_rows:
                batch.append(row)
        if current is not None and current in unit_rows:
            yield emit(current, batch)
        for state_id in unit_rows:
            if state_id not in seen:
                yield emit(state_id, [])


def _sanitised(unit: UnitData, rs: Ruleset) -> UnitData:
    """The unit with every class whose counts contradict each other made missing (and the locality counts too
    when they do)."""
    classes = []
    for c in unit.classes:
        try:
            evaluate_unit(UnitData(unit.id, (c,)), rs)
            classes.append(c)
        except IndicatorInputError:
            classes.append(ClassData(c.id, None, {}, c.grade_level, c.teaching_language, c.building_id))
    pupils, counts = unit.locality_pupils, unit.locality_counts
    try:
        evaluate_unit(UnitData(unit.id, (), pupils, counts), rs)
    except IndicatorInputError:
        pupils, counts = None, {}
    return UnitData(unit.id, tuple(classes), pupils, counts)


# --- snapshot payloads --------------------------------------------------------------------------------------

def risk_codes_of(agg: Aggregate) -> list[str]:
    """``criterion.level`` for every criterion and level where some unit's outcome was risk."""
    return sorted(f"{c}.{lvl}" for c, levels in agg.outcomes.items() for lvl, out in levels.items()
                  if out.get("risk", 0) > 0)


def flags_of(agg: Aggregate) -> dict[str, Any]:
    """The denormalised columns of a snapshot, all derived from its aggregate."""
    return {"at_risk": agg.units_at_risk > 0, "missing_data": agg.units_with_missing_data > 0,
            "risk_codes": risk_codes_of(agg)}


def _group_view(indicators: dict) -> dict:
    return {g: {k: v[k] for k in ("n", "N", "share", "gap_pp", "score")} for g, v in indicators["groups"].items()}


def _item_key(level: str, item) -> str:
    prefix = {"class": "c", "bench": "c", "building": "b", "locality": "u"}[level]
    return f"{prefix}{'-' if item is None else item}"


def unit_details(inp: UnitInput, result: UnitResult, unit_name: str, building_names: dict) -> dict:
    """A unit's details: flagged items, dissimilarity, per-class breakdown, level summaries."""
    class_names = {c.id: c.name for c in inp.classes}
    risk = []
    flagged_classes: set = set()
    for i in result.flagged:
        if i.level in ("class", "bench"):
            flagged_classes.add(i.item)
            name = class_names.get(i.item, "")
        elif i.level == "building":
            name = building_names.get(i.item, "")
        else:
            name = unit_name
        risk.append({"unit": {"id": inp.node_id, "name": unit_name}, "criterion": i.criterion, "group": i.group,
                     "level": i.level, "item": _item_key(i.level, i.item), "item_name": name, "outcome": i.outcome,
                     "score": i.score, "share": i.p, "reference_share": i.p_ref, "gap_pp": i.gap_pp,
                     "codes": list(i.codes)})
    classes = []
    for c, data in zip(inp.classes, inp.data.classes, strict=True):
        items = result.select(level="class", item=c.id)
        at_risk = any(i.outcome == "risk" for i in result.items if i.item == c.id and i.level in ("class", "bench"))
        classes.append({
            "id": c.id, "code": None, "name": c.name, "level": "class", "state": c.state, "excluded": False,
            "exclusion_reason": None, "units": 0, "classes": 1, "pupils": data.pupils or 0, "units_at_risk": 0,
            "at_risk": at_risk, "flagged": c.id in flagged_classes, "missing": c.missing, "version": c.version,
            "groups": {i.group: {"n": i.n, "N": i.N, "share": i.p, "gap_pp": i.gap_pp, "score": i.score}
                       for i in items}})
    return {
        "children": classes, "exclusions": [], "risk": risk, "risk_total": len(risk),
        "dissimilarity": {g: d.value for g, d in result.dissimilarity.items()},
        "summaries": {f"{s.criterion}.{s.level}": {"outcome": s.outcome, "score": s.score, "codes": list(s.codes)}
                      for s in result.summaries.values()},
        "units_at_risk": [], "written_at": utcnow().isoformat(),
    }


def _risk_order(item: dict):
    return (item["outcome"] != "risk", -(item["score"] or 0), item["unit"]["id"], item["criterion"], item["item"])


def child_entry(row, node: tuple | None, agg: Aggregate | None, included: bool, rs: Ruleset,
                reference: Aggregate | None) -> dict:
    """One row of a breakdown by child node (the report contract's ``children`` item)."""
    code, name = (node[0], node[1]) if node else (None, "")
    entry = {"id": row.node_id, "code": code, "name": name, "level": row.level, "state": row.state,
             "excluded": bool(row.excluded), "exclusion_reason": row.exclusion_reason, "included": included,
             "units": 0, "classes": 0, "pupils": 0, "units_at_risk": 0, "at_risk": False, "groups": {}}
    if agg is not None:
        ind = indicators_from_totals(agg, rs, reference=reference)
        entry.update(units=agg.units, classes=agg.classes, pupils=agg.pupils, units_at_risk=agg.units_at_risk,
                     at_risk=agg.units_at_risk > 0, groups=_group_view(ind))
    return entry


def node_infos(ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """node id → (code, name), in one query."""
    ids = set(ids)
    if not ids:
        return {}
    return {r.id: (r.code, r.name) for r in session.execute(select(Node.id, Node.code, Node.name)
                                                            .where(Node.id.in_(ids)))}


def building_names(unit_ids: Iterable[int]) -> dict[int, dict[int, str]]:
    """unit node id → {building id: name}, in one query (all buildings when there are many units)."""
    ids = set(unit_ids)
    if not ids:
        return {}
    q = select(Building.id, Building.name, Building.unit_id)
    if len(ids) <= 1000:
        q = q.where(Building.unit_id.in_(ids))
    out: dict[int, dict[int, str]] = {}
    for b in session.execute(q):
        out.setdefault(b.unit_id, {})[b.id] = b.name
    return out


def parent_details(child_rows: list, snaps: dict[int, Snapshot], included: set[int], total: Aggregate,
                   rs: Ruleset) -> dict:
    """The details of a node above the unit from its children's rows and snapshots (``included``: node ids)."""
    infos = node_infos(r.node_id for r in child_rows)
    children, exclusions, risk, at_risk_units = [], [], [], []
    risk_total = 0
    for r in child_rows:
        snap = snaps.get(r.node_id)
        use = r.node_id in included
        agg = Aggregate.from_dict(snap.aggregate) if use and snap is not None else None
        children.append(child_entry(r, infos.get(r.node_id), agg, use, rs, total))
        if r.excluded:
            code, name = infos.get(r.node_id, (None, ""))
            exclusions.append({"id": r.node_id, "code": code, "name": name, "level": r.level,
                               "reason": r.exclusion_reason})
        if use and snap is not None:
            d = snap.details or {}
            exclusions.extend(d.get("exclusions", []))
            risk.extend(d.get("risk", []))
            risk_total += d.get("risk_total", len(d.get("risk", [])))
            if r.level == "unit":
                if snap.at_risk:
                    at_risk_units.append({"id": r.node_id, "name": infos.get(r.node_id, (None, ""))[1],
                                          "risk_codes": list(snap.risk_codes or [])})
            else:
                at_risk_units.extend(d.get("units_at_risk", []))
    risk.sort(key=_risk_order)
    exclusions.sort(key=lambda e: (_LEVELS.index(e["level"]), e["name"], e["id"]))
    return {"children": children, "exclusions": exclusions, "risk": risk[:RISK_CAP], "risk_total": risk_total,
            "units_at_risk": at_risk_units[:UNITS_AT_RISK_CAP], "units_at_risk_total": len(at_risk_units),
            "dissimilarity": {}, "written_at": utcnow().isoformat()}


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
        buildings = dict(session.execute(select(Building.id, Building.name)
                                         .where(Building.unit_id == row.node_id)).all())
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
    and the nation when an inspectorate's was written (or the nation's exists). Returns (node id, version,
    own) of every snapshot written, in order."""
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
    nation = get_snapshot(campaign, campaign.root_id, lock=True)
    if county_written or nation is not None:
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
    if not own and not session.execute(select(func.count()).select_from(Snapshot).where(
            Snapshot.campaign_id == campaign.id)).scalar_one():
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


def _unit_aggregates(loader: Loader, tree: Tree, unit_ids: set[int], prefix: str | None) -> dict[int, Aggregate]:
    units = {i: tree.rows[i] for i in unit_ids}
    return {u.state_id: loader.evaluate(u.data).aggregate for u in loader.stream_units(units, prefix)}


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
            agg = sum_aggregates([zero, *(a for k, a in zip(kids, sums, strict=True) if counted(tree.rows[k]))])
        out[state_id] = agg
        return agg

    for top in tree.kids.get(None, []):
        visit(top)
    out[None] = sum_aggregates([zero, *(out[k] for k in tree.kids.get(None, []) if counted(tree.rows[k]))])
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


def recompute(campaign: Campaign, node, *, only_submitted: bool = True) -> Aggregate:
    """The aggregate of ``node`` (a Node, a state row, or the campaign's root for the nation) from the raw tables:
    every unit below it counted by the snapshot rule (each state row between the unit and the node submitted and
    not excluded; with ``only_submitted=False`` only not excluded), evaluated from its class tables. A unit's own
    aggregate is computed whatever its state. One streaming query over the class rows."""
    loader = Loader(campaign)
    zero = Aggregate(ruleset=(loader.rs.key, loader.rs.version))
    node_id = node.node_id if isinstance(node, CampaignState) else node.id
    if node_id == campaign.root_id:
        tree, prefix = load_tree(campaign), None
        start, top = tree.kids.get(None, []), True
    else:
        row = node if isinstance(node, CampaignState) else sm.state_for(campaign, node)
        prefix = row.path
        tree = load_tree(campaign, prefix)
        start, top = [row.id], False
    unit_aggs = _unit_aggregates(loader, tree, _needed_units(tree, start, only_submitted, top_counts=top), prefix)
    sums = _sum_up(tree, unit_aggs, only_submitted, zero)
    return sums[None] if node_id == campaign.root_id else sums[start[0]]


def recompute_all(campaign: Campaign) -> dict[int, Aggregate]:
    """node id → recomputed aggregate of every inspectorate, school and unit, and the nation (root id)."""
    loader = Loader(campaign)
    zero = Aggregate(ruleset=(loader.rs.key, loader.rs.version))
    tree = load_tree(campaign)
    units = {i for i, r in tree.rows.items() if r.level == "unit"}
    sums = _sum_up(tree, _unit_aggregates(loader, tree, units, None), True, zero)
    out = {tree.rows[i].node_id: agg for i, agg in sums.items() if i is not None}
    out[campaign.root_id] = sums[None]
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
    existing = {s.node_id: s for s in session.execute(select(Snapshot).where(
        Snapshot.campaign_id == campaign.id)).scalars()}
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
