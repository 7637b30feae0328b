"""PDF through xhtml2pdf: a standalone Jinja template (``templates/report.html``) with the shipped DejaVu Sans,
so ș ț ă â î render on any machine.

xhtml2pdf slows down badly on long tables (it lays out a whole table before splitting it across pages), so every
breakdown is cut into tables of :data:`CHUNK` rows with fixed column widths, no nesting and plain CSS, and the lists
that grow with the country are capped with a note saying so: a unit's flagged items (:data:`RISK_LIMIT`); above a
unit, the units at risk (:data:`RISK_UNITS_LIMIT`) and the highest alerts (:data:`TOP_ITEMS`) — the XLSX file
carries every row of the data.
"""
from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from exports.render import charts, extended, tables
from exports.render.labels import N_, Labels

HERE = Path(__file__).resolve().parent
FONTS = {"regular": str(HERE / "fonts" / "DejaVuSans.ttf"), "bold": str(HERE / "fonts" / "DejaVuSans-Bold.ttf")}
CHUNK = 40
RISK_LIMIT = 200  # a unit's flagged items
RISK_UNITS_LIMIT = 100  # above a unit: units at risk
CHART_FONT = "ArborChartSans"
TOP_ITEMS = 50  # above a unit: the flagged items with the highest scores


class PdfError(RuntimeError):
    """xhtml2pdf reported errors while laying out the document."""


@lru_cache(maxsize=1)
def _chart_font() -> str:
    """Register the shipped font with svglib (which draws the chart's SVG inside xhtml2pdf) under CHART_FONT."""
    from svglib.fonts import register_font

    register_font(CHART_FONT, FONTS["regular"])
    return CHART_FONT


def _chart(data: dict[str, Any], L: Labels) -> dict[str, Any] | None:
    """The document's chart as an SVG data URI with its size in points (1 SVG unit = 1 pt)."""
    chart = charts.document_chart(data, L, _chart_font())
    if chart is None:
        return None
    title, svg = chart
    height = svg.split('viewBox="0 0 ', 1)[1].split('"', 1)[0].split()[1]
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return {"title": title, "uri": uri, "width": charts.WIDTH, "height": int(float(height))}


@lru_cache(maxsize=4)
def environment(lang: str) -> Environment:
    """The Jinja environment of the report templates in ``lang`` (one per language: no shared mutable state)."""
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(Labels(lang).translations, newstyle=True)
    return env


def _fmt(L: Labels, value: Any, kind: str) -> str:
    if kind == "int":
        return L.number(value)
    if kind == "share":
        return L.share(value)
    if kind == "points":
        return L.points(value)
    if kind == "score":
        return L.score(value)
    return "" if value is None else str(value)


def _section(title: str, columns: list[tables.Column], rows: list[list[Any]], L: Labels,
             note: str | None = None, highlight: int | None = None) -> dict[str, Any]:
    """A titled table cut into chunks of CHUNK rows of (text, css class) cells."""
    kinds = [c.kind for c in columns]
    cells = []
    for row in rows:
        out = []
        for i, (value, kind) in enumerate(zip(row, kinds, strict=True)):
            css = "num" if kind != "text" else ""
            if i == highlight and value:
                css = (css + " risk").strip()
            out.append((_fmt(L, value, kind), css))
        cells.append(out)
    chunks = [cells[i:i + CHUNK] for i in range(0, len(cells), CHUNK)]
    total = sum(c.width for c in columns) or 1
    widths = [f"{100 * c.width / total:.1f}%" for c in columns]  # fixed widths: no guessing from the content
    return {"title": title, "columns": list(zip(columns, widths, strict=True)), "chunks": chunks, "note": note}


def _pick(table: tables.Table, indexes: list[int]) -> tuple[list[tables.Column], list[list[Any]]]:
    return [table.columns[i] for i in indexes], [[row[i] for i in indexes] for row in table.rows]


def _children(data: dict[str, Any], L: Labels) -> dict[str, Any]:
    """The breakdown, narrowed to what fits a landscape page: the highest alert stands in for the group columns."""
    level = (data.get("completion") or {}).get("children_level")
    cols = [tables.Column(L(N_("Code")), width=12), tables.Column(L(N_("Name")), width=44),
            tables.Column(L(N_("State")), width=11)]
    if level != "class":
        cols += [tables.Column(L(N_("Units")), "int", 7), tables.Column(L(N_("Units at risk")), "int", 8)]
    cols += [tables.Column(L(N_("Classes")), "int", 7), tables.Column(L(N_("Pupils")), "int", 9),
             tables.Column(L(N_("Highest alert score")), width=30)]
    rows = []
    for c in data.get("children") or ():
        groups = {g: v for g, v in (c.get("groups") or {}).items() if (v or {}).get("score") is not None}
        top = max(groups, key=lambda g: groups[g]["score"], default=None)
        state = L(N_("excluded")) if c.get("excluded") else L.state(c.get("state"))
        row = [c.get("code"), c.get("name"), state]
        if level != "class":
            row += [c.get("units"), c.get("units_at_risk")]
        alert = f"{L.score(groups[top]['score'])} · {L.group(top)}" if top else ""
        if c.get("at_risk") and not c.get("excluded"):
            alert = f"{L(N_('at risk'))} · {alert}" if alert else L(N_("at risk"))
        rows.append(row + [c.get("classes"), c.get("pupils"), alert])
    title = L.child_level(level) or L(N_("Breakdown"))
    return _section(title, cols, rows, L, highlight=4 if level != "class" else None)


def _risk_items(data: dict[str, Any], L: Labels, limit: int, title: str | None = None) -> dict[str, Any]:
    """Flagged items one by one, highest alert first: all of a unit's, the top ones above it."""
    table = tables.risk(data, L)
    unit = (data.get("node") or {}).get("level") == "unit"
    columns, rows = _pick(table, [4, 3, 2, 5, 6, 7, 8, 10] if unit else [0, 4, 3, 2, 5, 6, 7, 8])
    total = max(data.get("risk_total") or 0, len(rows))
    note = None
    if total > min(limit, len(rows)):
        note = L(N_("The %(shown)s flagged items with the highest alert scores, of %(total)s; the XLSX file of "
                    "this report lists %(listed)s."), shown=L.number(min(limit, len(rows))),
                 total=L.number(total), listed=L.number(len(rows)))
        rows = rows[:limit]
    return _section(title or table.title, columns, rows, L, note=note)


def _units_at_risk(data: dict[str, Any], L: Labels) -> dict[str, Any]:
    table = tables.units_at_risk(data, L)
    total = max(data.get("units_at_risk_total") or 0, len(table.rows))
    note = None
    if total > RISK_UNITS_LIMIT:
        note = L(N_("The first %(shown)s of %(total)s units are listed."), shown=L.number(RISK_UNITS_LIMIT),
                 total=L.number(total))
    return _section(table.title, table.columns, table.rows[:RISK_UNITS_LIMIT], L, note=note)


def _risk_units(data: dict[str, Any], L: Labels) -> dict[str, Any]:
    """Above the unit: one row per unit with flagged items (the items themselves are in the XLSX file)."""
    units: dict[Any, dict[str, Any]] = {}
    for r in data.get("risk") or ():
        unit = r.get("unit") or {}
        u = units.setdefault(unit.get("id"), {"name": unit.get("name"), "risk": 0, "missing": 0, "score": None,
                                               "groups": []})
        if r.get("outcome") == "risk":
            u["risk"] += 1
            if r.get("group") not in u["groups"]:
                u["groups"].append(r.get("group"))
        else:
            u["missing"] += 1
        if r.get("outcome") == "risk" and r.get("score") is not None:
            u["score"] = max(u["score"] or 0, r["score"])
    ordered = sorted(units.values(), key=lambda u: (-u["risk"], -(u["score"] or 0), -u["missing"], str(u["name"])))
    columns = [tables.Column(L(N_("Unit")), width=50), tables.Column(L(N_("Items at risk")), "int", 10),
               tables.Column(L(N_("Items with missing data")), "int", 10),
               tables.Column(L(N_("Highest alert score")), "score", 10),
               tables.Column(L(N_("Groups at risk")), width=40)]
    rows = [[u["name"], u["risk"], u["missing"], u["score"], ", ".join(L.group(g) for g in u["groups"])]
            for u in ordered[:RISK_UNITS_LIMIT]]
    note = L(N_("Units with items at risk or with missing data; every item, with its class or building, is in "
                "the XLSX file of this report."))
    if len(ordered) > RISK_UNITS_LIMIT:
        note += " " + L(N_("The first %(shown)s of %(total)s units are listed."),
                        shown=L.number(RISK_UNITS_LIMIT), total=L.number(len(ordered)))
    return _section(L(N_("Units with flagged items")), columns, rows, L, note=note)


def context(data: dict[str, Any], L: Labels) -> dict[str, Any]:
    """What the template shows: facts and sections of preformatted cells."""
    facts = [(label, _fmt(L, value, kind)) for label, value, kind in tables.summary(data, L)]
    groups, bench, criteria = tables.groups(data, L), tables.bench(data, L), tables.criteria(data, L)
    sections = [_section(groups.title, groups.columns, groups.rows, L)]
    if bench.rows:
        sections.append(_section(bench.title, bench.columns, bench.rows, L))
    sections.append(_section(criteria.title, criteria.columns, criteria.rows, L, highlight=2))
    if (data.get("node") or {}).get("level") != "unit" or data.get("children"):
        sections.append(_children(data, L))
    if (data.get("node") or {}).get("level") == "unit":
        sections.append(_risk_items(data, L, RISK_LIMIT))
        if extended.has_extended(data):
            columns = [tables.Column(L(N_("Question")), width=60), tables.Column(L(N_("Answer")), width=40)]
            sections.append(_section(L(N_("Extended monitoring")), columns,
                                     [list(r) for r in extended.rows(data, L)], L))
    else:
        sections.append(_units_at_risk(data, L) if tables.has_units_at_risk(data) else _risk_units(data, L))
        sections.append(_risk_items(data, L, TOP_ITEMS, L(N_("Highest alerts"))))
    excl = tables.exclusions(data, L)
    if excl.rows:
        sections.append(_section(excl.title, excl.columns, excl.rows, L))
    return {"data": data, "node": data.get("node") or {}, "campaign": data.get("campaign") or {},
            "facts": facts, "sections": sections, "fonts": FONTS, "lang": L.lang, "chart": _chart(data, L),
            "generated": L.timestamp(data.get("generated_at"))}


def html(data: dict[str, Any], lang: str = "ro") -> str:
    """The document's XHTML, as xhtml2pdf receives it."""
    L = Labels(lang)
    return environment(L.lang).get_template("report.html").render(**context(data, L))


def render(data: dict[str, Any], lang: str = "ro") -> bytes:
    from xhtml2pdf import pisa

    out = io.BytesIO()
    status = pisa.CreatePDF(html(data, lang), dest=out, encoding="utf-8")
    if status.err:
        raise PdfError(f"xhtml2pdf: {status.err} error(s) while rendering the report")
    return out.getvalue()
