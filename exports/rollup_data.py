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
        self._plan = None

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

    # -- the recomputation's vectors (exports.rollup_fast.Plan) ---------------------------------------------
    @property
    def plan(self):
        from exports.rollup_fast import Plan
        if self._plan is None:
            if self._rules is None:
                from exports.rollup_fast import Rules
                self._rules = Rules(self.rs)
            self._plan = Plan(self.rs, self._rules)
        return self._plan

    def unit_vectors(self, unit_rows: dict[int, Any], prefix: str | None = None) -> dict[int, tuple]:
        """state id → :meth:`~exports.rollup_fast.Plan.unit_vector` of every unit of ``unit_rows`` (rows with
        node_id, county_id, form_values, form_version): on PostgreSQL from one statement that extracts the integers
        (:func:`class_rows_sql`; for many units of the whole campaign, in chunks of counties read by a thread while
        this one evaluates, see :func:`_split`), elsewhere from the decoded class tables
        (:meth:`Plan.class_row`). A unit with an odd class or odd locality counts is evaluated by
        :meth:`aggregate` from its decoded tables."""
        plan = self.plan
        lp = self.rs.locality_prefix
        locs = {}
        for state_id, u in unit_rows.items():
            values = (u.form_values or {}) if u.form_version else {}
            counts = {k: _as_int(v) for k, v in values.items() if k.startswith(lp) and k != f"{lp}pupils"}
            locs[state_id] = plan.locality(_as_int(values.get(f"{lp}pupils")), counts)
        if session.get_bind().dialect.name != "postgresql":
            rows = (plan.class_row(inp.state_id, c) for inp in self.stream_units(unit_rows, prefix)
                    for c in inp.data.classes)
            out, odd = _vectors(plan, rows, locs)
        else:
            out, odd = _split(self, unit_rows, locs, prefix)
        for state_id in odd:
            u = unit_rows[state_id]
            class_rows = session.execute(_class_query(self.campaign).where(
                CampaignState.parent_id == state_id)).all()
            data = self.unit_data(u.node_id, u.form_values, u.form_version or 0, class_rows).data
            out[state_id] = plan.vector_of(self.aggregate(data))
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


# --- the recomputation's class rows (exports.rollup_fast.Plan) ------------------------------------------------

def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def class_rows_sql(plan, *, prefix: bool = False, counties: bool = False) -> str:
    """One PostgreSQL statement (psycopg parameters) returning the :class:`~exports.rollup_fast.Plan` row of every
    class table of the campaign (``c``; with ``prefix``, of the subtree under the path ``prefix``; with
    ``counties``, of the counties ``counties``), in no particular order. The JSON document of each table is parsed
    once (``json_to_record``) and only the integers the ruleset's groups use are returned: a value counts when it
    is a JSON integer (what ``_as_int`` accepts of the decoded document; NULL when absent, null, a string, a
    fraction, a boolean), and the row is ``odd`` — evaluated from the decoded document by
    :func:`exports.rollup_fast.unit_aggregate` — when a value is negative or too long for bigint, a group does not
    fit its class, the benches contradict the class, the document is not an object, or the table was never saved
    but submitted (counted with the form's defaults). A never-saved table of a class not submitted is missing
    data: every value NULL."""
    rs, keys = plan.rs, ("pupils", *plan.keys)
    col = {k: f"k{i}" for i, k in enumerate(keys)}
    record = ", ".join(f"{_ident(k)} json" for k in keys)
    # x.k::text is the JSON text of the value (trimmed): an integer only when it is all digits ('"5"', '5.0',
    # '1e2', 'null', 'true' are not)
    ints = ", ".join(f"CASE WHEN x.{_ident(k)}::text ~ '^[0-9]{{1,18}}$' THEN x.{_ident(k)}::text::bigint END "
                     f"AS {col[k]}" for k in keys)
    # odd: a value that may be a negative integer or one too long for bigint (a string or an object that looks
    # like one only sends its unit to the decoded path, which reads it as it is)
    odd = " OR ".join(f"left(x.{_ident(k)}::text, 1) = '-' OR octet_length(x.{_ident(k)}::text) > 18" for k in keys)
    ns = []
    for g in plan.groups:
        total = " + ".join(f"y.{col[k]}" for k in g.counts)
        ns.append(f"CASE WHEN y.k0 IS NOT NULL THEN {'y.k0 - ' if g.complement else ''}({total}) END")
    checks = [f"{n} > y.k0 OR {n} < 0" for n in ns]
    seats = f"y.{col[rs.bench_seats]}"
    for j, b in plan.bench_of.items():
        seated = f"y.{col[plan.bench_groups[b].bench]}"
        checks.append(f"{seated} > {seats} OR {seated} > {ns[j]}")
    where = ["c.campaign_id = %(c)s", "c.level = 'class'"]
    if prefix:
        where.append("c.path LIKE %(prefix)s || '%%'")
    if counties:
        where.append("c.county_id = ANY(%(counties)s)")
    return (
        "SELECT y.parent_id, y.grade_level, y.teaching_language, y.building_id, "
        f"y.odd OR COALESCE({' OR '.join(checks)}, false), y.k0, {seats}, {', '.join(ns)}, "
        + ", ".join(f"y.{col[g.bench]}" for g in plan.bench_groups)
        + " FROM (SELECT c.parent_id, sc.grade_level, sc.teaching_language, sc.building_id, "
        # odd: a never-saved table of a submitted class, a document that is not an object, a value as above
        f"(v.version = 0 AND c.state = 'submitted') OR json_typeof(v.values) <> 'object' "
        f"OR COALESCE({odd}, false) AS odd, {ints} "
        "FROM campaign_states c JOIN campaign_values v ON v.state_id = c.id AND v.section = 'class' "
        "JOIN classes sc ON sc.id = c.class_id "
        "CROSS JOIN LATERAL json_to_record(CASE WHEN v.version > 0 AND json_typeof(v.values) = 'object' "
        f"THEN v.values ELSE '{{}}'::json END) AS x({record}) "
        f"WHERE {' AND '.join(where)} OFFSET 0) y")


def _vectors(plan, rows: Iterable[tuple], locs: dict[int, Any]) -> tuple[dict[int, tuple], list[int]]:
    """The vectors of the units of ``locs`` (state id → :meth:`Plan.locality`) from their class rows (any order;
    rows of other units are ignored), and the units left to :meth:`Loader.aggregate` (odd)."""
    by_unit: dict[int, list] = {}
    for row in rows:
        by_unit.setdefault(row[0], []).append(row)
    out, odd = {}, []
    for state_id, loc in locs.items():
        rows_ = by_unit.get(state_id, ())
        if loc is None or any(r[4] for r in rows_):
            odd.append(state_id)
        else:
            out[state_id] = plan.unit_vector(rows_, loc)
    return out, odd


def _fetch(conn, sql: str, params: dict) -> list[tuple]:
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        cur.close()


PIPELINE_MIN_UNITS = 1000  # below this one statement is as fast
PIPELINE_CHUNKS = 6


def _split(loader: Loader, unit_rows: dict[int, Any], locs: dict, prefix: str | None):
    """The PostgreSQL path of :meth:`Loader.unit_vectors`. For many units of the whole campaign the counties are
    read in a few chunks of about as many units, by a thread on this session's connection (nothing else uses it
    meanwhile: same transaction, same rows), while this thread evaluates the chunks already read — PostgreSQL
    parses the JSON of the next chunk while Python evaluates the last one. Otherwise one statement."""
    plan = loader.plan
    conn = session.connection().connection.driver_connection
    if prefix is not None or len(unit_rows) < PIPELINE_MIN_UNITS:
        params = {"c": loader.campaign.id, "prefix": prefix}
        return _vectors(plan, _fetch(conn, class_rows_sql(plan, prefix=bool(prefix)), params), locs)
    import queue
    import threading
    per_county: dict[Any, list[int]] = {}
    for state_id, u in unit_rows.items():
        per_county.setdefault(u.county_id, []).append(state_id)
    chunks: list[list] = [[] for _ in range(PIPELINE_CHUNKS)]
    sizes = [0] * PIPELINE_CHUNKS
    for county, ids in sorted(per_county.items(), key=lambda kv: (-len(kv[1]), kv[0] or 0)):
        k = sizes.index(min(sizes))
        chunks[k].append(county)
        sizes[k] += len(ids)
    chunks = [c for c in chunks if c]
    sql = class_rows_sql(plan, counties=True)
    done: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            for counties in chunks:
                if None in counties:  # units without a county (none in a real campaign): the plain statement
                    rows = _fetch(conn, class_rows_sql(plan), {"c": loader.campaign.id})
                else:
                    rows = _fetch(conn, sql, {"c": loader.campaign.id, "counties": counties})
                done.put((counties, rows, None))
        except BaseException as e:  # noqa: BLE001  (handed to the evaluating thread)
            done.put((None, None, e))

    reader = threading.Thread(target=read, name="rollup-class-rows", daemon=True)
    reader.start()
    out: dict[int, tuple] = {}
    odd: list[int] = []
    try:
        for _ in chunks:
            counties, rows, error = done.get()
            if error is not None:
                raise error
            mine = {s: locs[s] for c in counties for s in per_county[c]}
            o, d = _vectors(plan, rows, mine)
            out.update(o)
            odd.extend(d)
    finally:
        reader.join()
    return out, odd
