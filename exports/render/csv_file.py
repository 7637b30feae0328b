"""CSV: one flat table an analyst can open in Excel — the breakdown one level down, one row per child, then one
``Total`` row for the node itself (its totals, recomputed from summed counts).

Columns are those of the XLSX breakdown sheet: level, code, name, state, exclusion, units, classes, pupils, units
at risk, at risk, then for every group its pupils, share (a fraction 0–1, four decimals) and alert score (0–10).
UTF-8 with a BOM, ``,`` separated, CRLF line ends, text neutralised against formula injection
(:func:`exports.spreadsheets.write_csv`, as the other exports). The risk items and the other breakdowns are in
the XLSX file.
"""
from __future__ import annotations

from typing import Any

from exports.render import tables
from exports.render.labels import Labels
from exports.spreadsheets import write_csv

_DIGITS = {"share": 4, "points": 2, "score": 2}


def _value(value: Any, kind: str) -> Any:
    if isinstance(value, float) and kind in _DIGITS:
        return round(value, _DIGITS[kind])
    return value


def render(data: dict[str, Any], lang: str = "ro") -> bytes:
    table = tables.children(data, Labels(lang), with_total=True)
    kinds = [c.kind for c in table.columns]
    rows = ([_value(v, k) for v, k in zip(row, kinds, strict=True)] for row in table.rows)
    return write_csv([c.title for c in table.columns], rows)
