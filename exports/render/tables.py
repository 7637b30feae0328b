"""The report as tables: one per breakdown, shared by the XLSX, CSV and PDF renderers.

Each :class:`Table` has typed columns (``text``, ``int``, ``share`` 0–1, ``points`` = percentage points,
``score`` 0–10) and rows of raw values from the report data (numbers stay numbers; the renderer
formats them). Titles are translated through :class:`~exports.render.labels.Labels`.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from exports.render.labels import GROUPS, N_, Labels

COUNTED = {  # what the breakdown counts, by the level of the children
    "class": N_("Classes in the breakdown"),
    "unit": N_("Units in the breakdown"),
    "school": N_("Schools in the breakdown"),
    "inspectorate": N_("Counties in the breakdown"),
}
_OUTCOME_ORDER = {"risk": 0, "missing_data": 1}


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = "text"
    width: int = 12  # spreadsheet column width, in characters


@dataclass
class Table:
    key: str  # stable, whatever the language
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)


def group_ids(data: dict[str, Any]) -> list[str]:
    """The groups of the report in ruleset order (the totals' order), known labels first when totals are empty."""
    ids = list((data.get("totals") or {}).get("groups") or {})
    return ids or list(GROUPS)


def summary(data: dict[str, Any], L: Labels) -> list[tuple[str, Any, str]]:
    """(label, value, kind) facts of the report: identity, completion and the headline totals."""
    node, campaign = data.get("node") or {}, data.get("campaign") or {}
    completion, totals = data.get("completion") or {}, data.get("totals") or {}
    facts: list[tuple[str, Any, str]] = [
        (L(N_("Campaign")), campaign.get("name"), "text"),
        (L(N_("School year")), campaign.get("school_year"), "text"),
        (L(node_level_title(node.get("level"))), node.get("name"), "text"),
        (L(N_("Code")), node.get("code"), "text"),
    ]
    if node.get("county"):
        facts.append((L(N_("County")), node["county"].get("name"), "text"))
    if node.get("school") and node["school"].get("name") != node.get("name"):
        facts.append((L(N_("School")), node["school"].get("name"), "text"))
    facts += [
        (L(N_("Version")), data.get("version"), "int"),
        (L(N_("Generated")), L.timestamp(data.get("generated_at")), "text"),
        (L(N_("Why this version")), L.reason(data.get("reason")), "text"),
        (L(N_("Provisional")), L.yes_no(bool(data.get("provisional"))), "text"),
        (L(COUNTED.get(completion.get("children_level"), COUNTED["unit"])), completion.get("total", 0), "int"),
        (L(N_("Submitted")), completion.get("submitted", 0), "int"),
        (L(N_("Excluded")), completion.get("excluded", 0), "int"),
        (L(N_("Pending")), completion.get("pending", 0), "int"),
        (L(N_("Units")), totals.get("units", 0), "int"),
        (L(N_("Classes")), totals.get("classes", 0), "int"),
        (L(N_("Pupils")), totals.get("pupils", 0), "int"),
        (L(N_("Classes without a number of pupils")), totals.get("classes_missing_pupils", 0), "int"),
        (L(N_("Units at risk")), totals.get("units_at_risk", 0), "int"),
        (L(N_("Share of units at risk")), totals.get("units_at_risk_share"), "share"),
        (L(N_("Units with missing data")), totals.get("units_with_missing_data", 0), "int"),
    ]
    listed = len(data.get("risk") or ())
    flagged = max(data.get("risk_total") or 0, listed)
    facts.append((L(N_("Flagged items (risk or missing data)")), flagged, "int"))
    if flagged > listed:
        facts.append((L(N_("Flagged items listed (the highest alert scores)")), listed, "int"))
    return facts


def node_level_title(level: str | None) -> str:
    return {"unit": N_("Unit"), "school": N_("School"), "inspectorate": N_("Inspectorate"),
            "ministry": N_("Ministry")}.get(level or "", N_("Unit"))


def groups(data: dict[str, Any], L: Labels) -> Table:
    """Every vulnerable group: pupils of the group, all pupils, share, and (units) the dissimilarity index."""
    totals = (data.get("totals") or {}).get("groups") or {}
    dissim = data.get("dissimilarity") or {}
    columns = [Column(L(N_("Criterion")), width=24), Column(L(N_("Group")), width=30),
               Column(L(N_("Pupils of the group")), "int"), Column(L(N_("Pupils")), "int"),
               Column(L(N_("Classes with missing counts")), "int"), Column(L(N_("Share")), "share")]
    with_reference = any(g.get("reference_share") is not None for g in totals.values())
    if with_reference:
        columns += [Column(L(N_("Reference share")), "share"), Column(L(N_("Gap")), "points"),
                    Column(L(N_("Alert score")), "score")]
    if dissim:
        columns.append(Column(L(N_("Dissimilarity index")), "share"))
    table = Table("groups", L(N_("Groups")), columns)
    for gid, g in totals.items():
        row = [L.criterion(g.get("criterion")), L.group(gid), g.get("n"), g.get("N"), g.get("missing"),
               g.get("share")]
        if with_reference:
            row += [g.get("reference_share"), g.get("gap_pp"), g.get("score")]
        if dissim:
            row.append(dissim.get(gid))
        table.rows.append(row)
    return table


def bench(data: dict[str, Any], L: Labels) -> Table:
    """The last two benches: pupils of the group seated there against the group's share in the same classes."""
    table = Table("bench", L(N_("Last two benches")), [
        Column(L(N_("Group")), width=30), Column(L(N_("Pupils of the group on the last two benches")), "int"),
        Column(L(N_("Seats on the last two benches")), "int"), Column(L(N_("Share on the benches")), "share"),
        Column(L(N_("Share in the same classes")), "share"), Column(L(N_("Gap")), "points"),
        Column(L(N_("Alert score")), "score"), Column(L(N_("Classes with missing counts")), "int"),
    ])
    for gid, b in ((data.get("totals") or {}).get("bench") or {}).items():
        table.rows.append([L.group(gid), b.get("n"), b.get("N"), b.get("share"), b.get("class_share"),
                           b.get("gap_pp"), b.get("score"), b.get("missing")])
    return table


def criteria(data: dict[str, Any], L: Labels) -> Table:
    """How many units had each outcome, per criterion and level of analysis (the distribution of unit results)."""
    outcomes = ("risk", "missing_data", "insufficient", "ok", "exempt")
    table = Table("criteria", L(N_("Units by criterion and level")), [
        Column(L(N_("Criterion")), width=24), Column(L(N_("Level")), width=22),
        *(Column(L.outcome(o), "int", width=14) for o in outcomes),
    ])
    for key, levels in ((data.get("totals") or {}).get("criteria") or {}).items():
        for level, v in levels.items():
            units = v.get("units") or {}
            table.rows.append([L.criterion(key), L.analysis_level(level), *(units.get(o, 0) for o in outcomes)])
    return table


def children(data: dict[str, Any], L: Labels, *, with_total: bool = False) -> Table:
    """The breakdown one level down, with each group's pupils, share and alert score against this node."""
    level = (data.get("completion") or {}).get("children_level")
    gids = group_ids(data)
    columns = [Column(L(N_("Level")), width=12), Column(L(N_("Code")), width=14), Column(L(N_("Name")), width=44),
               Column(L(N_("State")), width=12), Column(L(N_("Excluded")), width=10),
               Column(L(N_("Reason for the exclusion")), width=30), Column(L(N_("Units")), "int", width=8),
               Column(L(N_("Classes")), "int", width=8), Column(L(N_("Pupils")), "int", width=10),
               Column(L(N_("Units at risk")), "int", width=10), Column(L(N_("At risk")), width=8)]
    for gid in gids:
        name = L.group(gid)
        columns += [Column(L(N_("%(group)s: pupils"), group=name), "int"),
                    Column(L(N_("%(group)s: share"), group=name), "share"),
                    Column(L(N_("%(group)s: alert score"), group=name), "score")]
    table = Table("children", L.child_level(level) or L(N_("Breakdown")), columns)
    for c in data.get("children") or ():
        g = c.get("groups") or {}
        row = [L.node_level(c.get("level")), c.get("code"), c.get("name"), L.state(c.get("state")),
               L.yes_no(bool(c.get("excluded"))), c.get("exclusion_reason"), c.get("units"), c.get("classes"),
               c.get("pupils"), c.get("units_at_risk"), L.yes_no(bool(c.get("at_risk")))]
        for gid in gids:
            v = g.get(gid) or {}
            row += [v.get("n"), v.get("share"), v.get("score")]
        table.rows.append(row)
    if with_total:
        node, totals = data.get("node") or {}, data.get("totals") or {}
        row = [L(N_("Total")), node.get("code"), node.get("name"), "", "", None, totals.get("units"),
               totals.get("classes"), totals.get("pupils"), totals.get("units_at_risk"),
               L.yes_no(bool(totals.get("units_at_risk")))]
        for gid in gids:
            v = (totals.get("groups") or {}).get(gid) or {}
            row += [v.get("n"), v.get("share"), v.get("score")]
        table.rows.append(row)
    return table


def risk_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Flagged items, risk before missing data, highest score first, then by unit and item name."""
    return sorted(data.get("risk") or (), key=lambda r: (
        _OUTCOME_ORDER.get(r.get("outcome"), 9), -(r.get("score") or 0), str((r.get("unit") or {}).get("name")),
        str(r.get("item_name")), str(r.get("group"))))


def risk(data: dict[str, Any], L: Labels) -> Table:
    table = Table("risk", L(N_("Risk items")), [
        Column(L(N_("Unit")), width=40), Column(L(N_("Criterion")), width=22), Column(L(N_("Group")), width=28),
        Column(L(N_("Level")), width=20), Column(L(N_("Item")), width=16), Column(L(N_("Outcome")), width=14),
        Column(L(N_("Alert score")), "score"), Column(L(N_("Share")), "share"),
        Column(L(N_("Reference share")), "share"), Column(L(N_("Gap")), "points"),
        Column(L(N_("Explanation")), width=40),
    ])
    for r in risk_items(data):
        table.rows.append([(r.get("unit") or {}).get("name"), L.criterion(r.get("criterion")), L.group(r.get("group")),
                           L.analysis_level(r.get("level")), r.get("item_name"), L.outcome(r.get("outcome")),
                           r.get("score"), r.get("share"), r.get("reference_share"), r.get("gap_pp"),
                           L.codes(r.get("codes"))])
    return table


def units_at_risk(data: dict[str, Any], L: Labels) -> Table:
    """Above the unit: the units at risk with the criteria and levels where they are (``units_at_risk`` of
    :func:`exports.report_data.build`)."""
    table = Table("units_at_risk", L(N_("Units at risk")), [
        Column(L(N_("Unit")), width=50), Column(L(N_("At risk on")), width=90),
    ])
    for u in data.get("units_at_risk") or ():
        table.rows.append([u.get("name"), "; ".join(L.risk_code(c) for c in u.get("risk_codes") or ())])
    return table


def has_units_at_risk(data: dict[str, Any]) -> bool:
    return "units_at_risk" in data and (data.get("node") or {}).get("level") != "unit"


def exclusions(data: dict[str, Any], L: Labels) -> Table:
    table = Table("exclusions", L(N_("Exclusions")), [
        Column(L(N_("Level")), width=12), Column(L(N_("Code")), width=14), Column(L(N_("Name")), width=44),
        Column(L(N_("Reason")), width=60),
    ])
    for e in data.get("exclusions") or ():
        table.rows.append([L.node_level(e.get("level")), e.get("code"), e.get("name"), e.get("reason")])
    return table


def all_tables(data: dict[str, Any], L: Labels) -> Iterator[Table]:
    """The breakdown tables in document order (the summary is separate: see :func:`summary`)."""
    yield groups(data, L)
    yield bench(data, L)
    yield criteria(data, L)
    yield children(data, L)
    if has_units_at_risk(data):
        yield units_at_risk(data, L)
    yield risk(data, L)
    yield exclusions(data, L)
