"""XLSX: one sheet per breakdown (summary, groups, benches, criteria, children, [units at risk,] risk items,
exclusions[, a unit's extended-monitoring answers]).

Every sheet has a bold, frozen header row; numbers are numbers (shares as fractions shown with a percent format,
gaps in points, scores with one decimal); text is neutralised against formula injection. The workbook is written
in openpyxl's write-only mode, so thousands of risk rows stream through without a cell model in memory.
"""
from __future__ import annotations

import io
import re
from typing import Any

from exports.render import extended, tables
from exports.render.labels import N_, Labels
from exports.spreadsheets import neutralise

FORMATS = {"share": "0.0%", "points": '+0.0" pp";-0.0" pp";0.0" pp"', "score": "0.0"}
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_title(title: str, taken: set[str]) -> str:
    """A valid, unique sheet name: no ``[]:*?/\\``, at most 31 characters."""
    base = _BAD_SHEET_CHARS.sub(" ", title).strip()[:31] or "Sheet"
    name, k = base, 2
    while name.lower() in taken:
        suffix = f" {k}"
        name, k = base[:31 - len(suffix)] + suffix, k + 1
    taken.add(name.lower())
    return name


def _text(value: Any) -> Any:
    if value is None or isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return neutralise(str(value))


def render(data: dict[str, Any], lang: str = "ro") -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    L = Labels(lang)
    wb = Workbook(write_only=True)
    taken: set[str] = set()
    bold = Font(bold=True)

    def header(ws, titles):
        cells = []
        for t in titles:
            c = WriteOnlyCell(ws, value=_text(t))
            c.font = bold
            cells.append(c)
        ws.append(cells)

    def styled(ws, value, kind):
        if value is None or kind not in FORMATS or isinstance(value, str):
            return _text(value)
        c = WriteOnlyCell(ws, value=value)
        c.number_format = FORMATS[kind]
        return c

    ws = wb.create_sheet(sheet_title(L(N_("Summary")), taken))
    ws.freeze_panes = "A2"
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 60
    header(ws, [L(N_("Indicator")), L(N_("Value"))])
    for label, value, kind in tables.summary(data, L):
        ws.append([_text(label), styled(ws, value, kind)])

    for table in tables.all_tables(data, L):
        ws = wb.create_sheet(sheet_title(table.title, taken))
        ws.freeze_panes = "A2"
        for i, col in enumerate(table.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = col.width
        header(ws, [c.title for c in table.columns])
        kinds = [c.kind for c in table.columns]
        plain = [k not in FORMATS for k in kinds]
        for row in table.rows:
            ws.append([_text(v) if p else styled(ws, v, k) for v, k, p in zip(row, kinds, plain, strict=True)])
    if extended.has_extended(data):
        ws = wb.create_sheet(sheet_title(L(N_("Extended monitoring")), taken))
        ws.freeze_panes = "A2"
        ws.column_dimensions["A"].width = 70
        ws.column_dimensions["B"].width = 60
        header(ws, [L(N_("Question")), L(N_("Answer"))])
        for question, answer in extended.rows(data, L):
            ws.append([_text(question), _text(answer)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
