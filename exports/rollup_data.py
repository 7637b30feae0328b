"""The data side of the roll-up (:mod:`exports.rollup`): the campaign's ruleset, the bridge from campaign values to
the indicator engine's :class:`~forms.indicators.UnitData` (one unit, or every unit of a subtree from one streaming
query), and the JSON payloads of snapshots and reports (a unit's details, a parent's details from its children's
snapshots, a breakdown row). No writes here."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from core.db import session, utcnow
from core.errors import NotFound
from exports.models import Snapshot
from forms import engine
from forms.indicators import ClassData, IndicatorInputError, UnitData, UnitResult, evaluate_unit
from forms.indicators_rollup import Aggregate, indicators_from_totals
from forms.indicators_ruleset import Ruleset, load_ruleset
from tenants.models import Building, Node, SchoolClass
from workflows.models import Campaign, CampaignState, CampaignValues

RISK_CAP = 200  # flagged items kept in the details of a snapshot above the unit (the highest scores first)
UNITS_AT_RISK_CAP = 2000  # at-risk units listed in the details of a snapshot above the unit
CHILD_LEVEL = {"ministry": "inspectorate", "inspectorate": "school", "school": "unit", "unit": "class"}
_BATCH = 2000
_LEVELS = ("ministry", "inspectorate", "school", "unit", "class")


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
        self._rules = None

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

    def aggregate(self, unit: UnitData) -> Aggregate:
        """``self.evaluate(unit).aggregate`` without the item results (:mod:`exports.rollup_fast`)."""
        from exports.rollup_fast import Rules, unit_aggregate
        if self._rules is None:
            self._rules = Rules(self.rs)
        try:
            return unit_aggregate(unit, self.rs, self._rules)
        except IndicatorInputError:
            return unit_aggregate(_sanitised(unit, self.rs), self.rs, self._rules)

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
