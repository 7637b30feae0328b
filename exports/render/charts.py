"""Server-side SVG charts of a report, as strings the web page embeds (no script, no ``style=``: colours are SVG
presentation attributes and classes, which a strict CSP allows).

- :func:`risk_by_child` — share of units at risk per child node (a county's schools, the nation's counties),
  against the node's own share;
- :func:`group_shares` — the share of a vulnerable group per child (a unit's classes) against the node;
- :func:`default_charts` — the charts worth showing for a report, as ``[{"key", "title", "svg"}]``.

The SVG scales to its container (``viewBox``, ``width="100%"``), so it fits a 360 px screen. Every text is escaped.
"""
from __future__ import annotations

from html import escape
from typing import Any

from exports.render.labels import N_, Labels

WIDTH = 480
LABEL_W = 170
BAR_X = LABEL_W + 6
BAR_W = 230
ROW_H = 20
TOP = 28
RISK_SCORE = 5  # the default ruleset's risk_score_threshold: bars at or above it are drawn as risk
RISK_TITLES = {
    "unit": N_("Share of units at risk per unit"),
    "school": N_("Share of units at risk per school"),
    "inspectorate": N_("Share of units at risk per county"),
}
SHARE_TITLES = {
    "class": N_("%(group)s: share of pupils per class"),
    "unit": N_("%(group)s: share of pupils per unit"),
    "school": N_("%(group)s: share of pupils per school"),
    "inspectorate": N_("%(group)s: share of pupils per county"),
}
# Long official prefixes that every county shares; the chart labels keep what tells them apart.
_PREFIXES = ("Inspectoratul Școlar Județean ", "Inspectoratul Școlar al Municipiului ")
COLOURS = {"bar": "#4a78b5", "risk": "#b3261e", "ref": "#222222", "text": "#1a1a1a", "grid": "#d0d0d0"}


def short_name(name: str | None) -> str:
    """A child's name without the official prefix all counties share (``Inspectoratul Școlar Județean Argeș``)."""
    name = " ".join(str(name or "").split())
    for prefix in _PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):]
    return name


def _short(text: str, limit: int = 30) -> str:
    """At most ``limit`` characters, cut in the middle: names differ at the end (``Școala Gimn…nr. 14 Brașov``)."""
    text = " ".join(str(text or "").split())
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 2 + 2
    return text[:limit - 1 - tail].rstrip() + "…" + text[-tail:].lstrip()


def _bars(title: str, rows: list[tuple[str, float, bool, str]], reference: float | None, reference_label: str,
          key: str, font: str = "sans-serif") -> str:
    """A horizontal bar chart of shares 0–1: rows of (label, share, emphasised, value text)."""
    height = TOP + ROW_H * len(rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" '
           f'role="img" aria-labelledby="chart-{key}-title" font-family="{escape(font)}" font-size="12">',
           f'<title id="chart-{key}-title">{escape(title)}</title>']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = BAR_X + BAR_W * tick
        out.append(f'<line class="chart-grid" x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{TOP + ROW_H * len(rows)}" '
                   f'stroke="{COLOURS["grid"]}" stroke-width="1"/>')
        out.append(f'<text class="chart-tick" x="{x:.1f}" y="{TOP - 8}" text-anchor="middle" font-size="10" '
                   f'fill="{COLOURS["text"]}">{int(tick * 100)}%</text>')
    bottom = TOP + ROW_H * len(rows)
    if reference is not None:
        x = BAR_X + max(0.0, min(1.0, reference)) * BAR_W
        out.append(f'<line class="chart-ref" x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{bottom + 4}" '
                   f'stroke="{COLOURS["ref"]}" stroke-width="2" stroke-dasharray="4 3"/>')
        out.append(f'<text class="chart-legend" x="{BAR_X}" y="{bottom + 20}" fill="{COLOURS["text"]}">'
                   f'┆ {escape(reference_label)}</text>')
    for i, (label, value, emphasised, text) in enumerate(rows):
        y = TOP + ROW_H * i
        w = max(0.0, min(1.0, value)) * BAR_W
        css, fill = ("chart-bar chart-bar-risk", COLOURS["risk"]) if emphasised else ("chart-bar", COLOURS["bar"])
        out.append(f'<g class="chart-row"><title>{escape(str(label))}: {escape(text)}</title>'
                   f'<text x="{LABEL_W}" y="{y + 14}" text-anchor="end" fill="{COLOURS["text"]}">'
                   f'{escape(_short(label))}</text>'
                   f'<rect class="{css}" x="{BAR_X}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" fill="{fill}"/>'
                   f'<text x="{BAR_X + w + 4:.1f}" y="{y + 14}" fill="{COLOURS["text"]}">{escape(text)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def risk_by_child(data: dict[str, Any], lang: str = "ro", limit: int = 45) -> str | None:
    """Share of units at risk per child (highest first, at most ``limit``); None when no child has units."""
    chart = _risk_by_child(data, Labels(lang), limit)
    return chart and chart[1]


def _risk_by_child(data: dict[str, Any], L: Labels, limit: int = 45,
                   font: str = "sans-serif") -> tuple[str, str] | None:
    children = [c for c in data.get("children") or () if (c.get("units") or 0) > 0 and not c.get("excluded")]
    if not children:
        return None
    values = [((c.get("units_at_risk") or 0) / c["units"], str(c.get("name") or ""), c) for c in children]
    values.sort(key=lambda v: (-v[0], v[1]))
    ref = (data.get("totals") or {}).get("units_at_risk_share")
    rows = [(short_name(name), share, share > (ref or 0),
             f"{L.share(share)} ({c.get('units_at_risk') or 0}/{c['units']})") for share, name, c in values[:limit]]
    level = (data.get("completion") or {}).get("children_level")
    title = L(RISK_TITLES.get(level, RISK_TITLES["unit"]))
    if len(children) > limit:
        title += " — " + L(N_("the %(count)s highest"), count=limit)
    return title, _bars(title, rows, ref, L(N_("overall: %(share)s"), share=L.share(ref)), "risk-by-child", font)


def group_shares(data: dict[str, Any], group_id: str, lang: str = "ro", limit: int = 40) -> str | None:
    """The share of ``group_id`` per child against the node's share; None when no child has a share for it.

    A unit's classes keep their order; above a unit the children with the highest share come first."""
    chart = _group_shares(data, group_id, Labels(lang), limit)
    return chart and chart[1]


def _group_shares(data: dict[str, Any], group_id: str, L: Labels, limit: int = 40,
                  font: str = "sans-serif") -> tuple[str, str] | None:
    rows = []
    for c in data.get("children") or ():
        g = (c.get("groups") or {}).get(group_id) or {}
        if g.get("share") is not None and not c.get("excluded"):
            rows.append((short_name(c.get("name")), g["share"], (g.get("score") or 0) >= RISK_SCORE,
                         f"{L.share(g['share'])} ({g.get('n')}/{g.get('N')})"))
    if not rows:
        return None
    if (data.get("node") or {}).get("level") != "unit":
        rows.sort(key=lambda r: (-r[1], r[0]))
    shown = rows[:limit]
    ref = (((data.get("totals") or {}).get("groups") or {}).get(group_id) or {}).get("share")
    level = (data.get("node") or {}).get("level")
    child = (data.get("completion") or {}).get("children_level")
    title = L(SHARE_TITLES.get(child, SHARE_TITLES["class"]), group=L.group(group_id))
    if len(rows) > limit:
        title += " — " + L(N_("the %(count)s highest"), count=limit)
    ref_label = L(N_("the unit: %(share)s"), share=L.share(ref)) if level == "unit" else \
        L(N_("overall: %(share)s"), share=L.share(ref))
    key = "group-" + "".join(ch if ch.isalnum() else "-" for ch in group_id)
    return title, _bars(title, shown, ref, ref_label, key, font)


def chart_groups(data: dict[str, Any], limit: int = 3) -> list[str]:
    """The groups worth a chart: those with a child at or above the risk score, highest first."""
    best: dict[str, float] = {}
    for c in data.get("children") or ():
        for gid, g in (c.get("groups") or {}).items():
            score = (g or {}).get("score")
            if score is not None and score >= RISK_SCORE and not c.get("excluded"):
                best[gid] = max(best.get(gid, 0.0), score)
    return sorted(best, key=lambda g: (-best[g], g))[:limit]


def default_charts(data: dict[str, Any], lang: str = "ro") -> list[dict[str, str]]:
    """The charts of a report page: risk by child (above a unit), then the groups with a child at risk."""
    L = Labels(lang)
    charts: list[tuple[str, tuple[str, str] | None]] = []
    if (data.get("node") or {}).get("level") != "unit":
        charts.append(("risk-by-child", _risk_by_child(data, L)))
    charts += [(f"group:{gid}", _group_shares(data, gid, L)) for gid in chart_groups(data)]
    return [{"key": key, "title": chart[0], "svg": chart[1]} for key, chart in charts if chart]


def document_chart(data: dict[str, Any], L: Labels, font: str, limit: int = 20) -> tuple[str, str] | None:
    """The one chart of a PDF (it must fit a page): units at risk per child above a unit, else the group with the
    highest class score in a unit; drawn with ``font`` (a family the PDF embeds, so diacritics render)."""
    if (data.get("node") or {}).get("level") != "unit":
        return _risk_by_child(data, L, limit, font)
    groups = chart_groups(data, limit=1)
    return _group_shares(data, groups[0], L, limit, font) if groups else None
