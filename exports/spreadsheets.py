"""Safe CSV/XLSX writing and tolerant CSV/XLSX reading.

Writing: every text cell is neutralised against formula injection (a leading ``= + - @`` gets an apostrophe,
tabs and line breaks become spaces); numbers stay numbers; CSV is UTF-8 with a BOM so Excel shows diacritics;
XLSX has a bold, frozen header row.

Reading: ``.xlsx`` (first worksheet) or CSV in UTF-8 (with or without BOM), falling back to Windows-1250 — the
code page Romanian Excel uses for "CSV" — with a notice; ``,`` ``;`` or tab separated. Anything unreadable raises
:class:`SpreadsheetError` with a plain message, never a traceback. The apostrophe added on export is removed on
import, so an exported file reads back exactly.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
FORMULA_PREFIXES = ("=", "+", "-", "@")
ESCAPE = "'"
MAX_COLUMNS = 64  # wider rows are cut: no import needs more, and it bounds the work on a hostile file
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls
_CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "Ş": "Ș", "ţ": "ț", "Ţ": "Ț"})


def N_(message: str) -> str:
    """Mark a message for translation; the page that shows it translates it (domain code has no locale)."""
    return message


class SpreadsheetError(ValueError):
    """The file cannot be read as a table. ``message`` is a msgid with ``%(name)s`` placeholders from ``params``."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


# --- writing ---------------------------------------------------------------------------------------------------

def neutralise(text: str) -> str:
    """Make a text cell inert: no tab or line break, and no leading character a spreadsheet would evaluate."""
    text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\t", " ")
    if text.lstrip()[:1] in FORMULA_PREFIXES:
        return ESCAPE + text
    return text


def restore(text: str) -> str:
    """Undo :func:`neutralise`'s apostrophe (only where neutralise would have added it)."""
    if text.startswith(ESCAPE) and text[1:].lstrip()[:1] in FORMULA_PREFIXES:
        return text[1:]
    return text


def _cell(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return neutralise(str(value))


def write_csv(headers: Sequence[str], rows: Iterable[Sequence], delimiter: str = ",") -> bytes:
    """A CSV file as bytes: UTF-8 with BOM, CRLF line ends, every text cell neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([_cell(h) for h in headers])
    for row in rows:
        writer.writerow(["" if (v := _cell(value)) is None else v for value in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def write_xlsx(headers: Sequence[str], rows: Iterable[Sequence], title: str = "data") -> bytes:
    """An XLSX workbook as bytes: one sheet, bold frozen header, numbers as numbers, text neutralised."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31] or "data")
    ws.freeze_panes = "A2"
    for i, h in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(12, min(40, len(str(h)) + 4))
    bold = Font(bold=True)
    header_cells = []
    for h in headers:
        c = WriteOnlyCell(ws, value=_cell(h))
        c.font = bold
        header_cells.append(c)
    ws.append(header_cells)
    for row in rows:
        ws.append([_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- reading ---------------------------------------------------------------------------------------------------

@dataclass
class Table:
    """A sheet read from a file: the header row and the non-blank data rows with their spreadsheet row numbers."""

    headers: list[str]
    header_row: int
    rows: list[tuple[int, list]]
    notices: list[dict] = field(default_factory=list)  # {"message", "params"}: not errors, shown on the preview


def read_table(data: bytes, filename: str, max_rows: int) -> Table:
    """Read the first sheet of an .xlsx or a CSV file; raise SpreadsheetError when it cannot be read."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if not data or not data.strip(b" \t\r\n\x00").removeprefix(b"\xef\xbb\xbf").strip():
        raise SpreadsheetError(N_("The file is empty."))
    if data.startswith(_OLE_MAGIC) or ext == "xls":
        raise SpreadsheetError(N_("Old Excel .xls files are not supported: save the file as .xlsx or as "
                                  "CSV UTF-8 and upload it again."))
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx(data, max_rows)
    if ext == "xlsx":
        raise SpreadsheetError(N_("The file is named .xlsx but is not an Excel workbook (it may be damaged "
                                  "or renamed). Save it again from Excel as .xlsx or CSV UTF-8."))
    if ext not in ("csv", "txt", ""):
        raise SpreadsheetError(N_("Unsupported file type .%(ext)s: upload an .xlsx or .csv file."), ext=ext[:10])
    return _read_csv(data, max_rows)


def _damaged() -> SpreadsheetError:
    return SpreadsheetError(N_("The .xlsx file is damaged or is not a valid Excel workbook. Open it in Excel, "
                               "save it again as .xlsx (or CSV UTF-8) and upload it again."))


def _read_xlsx(data: bytes, max_rows: int) -> Table:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises BadZipFile, KeyError, InvalidFileException, XML errors … on bad input
        raise _damaged() from None
    try:
        if not wb.worksheets:
            raise SpreadsheetError(N_("The workbook has no worksheet."))
        sheet = wb.worksheets[0]
        lines = ([_xlsx_value(v) for v in values[:MAX_COLUMNS]] for values in sheet.iter_rows(values_only=True))
        return _table(lines, max_rows, [])
    except SpreadsheetError:
        raise
    except Exception:
        raise _damaged() from None
    finally:
        wb.close()


def _xlsx_value(value):
    if isinstance(value, str):
        return restore(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _decode(data: bytes) -> tuple[str, list[dict]]:
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1250")
    except UnicodeDecodeError:
        raise SpreadsheetError(N_("The file is neither UTF-8 nor Windows-1250 text. Save it from Excel as "
                                  "“CSV UTF-8” (or as .xlsx) and upload it again.")) from None
    # Windows-1250 has only the cedilla forms; Romanian is written with the comma below.
    notice = {"message": N_("The file is not UTF-8; it was read as Windows-1250 (the code page Excel uses for "
                            "Romanian CSV files). Check the names with diacritics below before you confirm."),
              "params": {}}
    return text.translate(_CEDILLA_TO_COMMA), [notice]


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_csv(data: bytes, max_rows: int) -> Table:
    text, notices = _decode(data)
    if "\x00" in text:
        raise SpreadsheetError(N_("This is not a text (CSV) file. Upload an .xlsx or a CSV UTF-8 file."))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        return _table(([restore(v.strip()) for v in rec[:MAX_COLUMNS]] for rec in reader), max_rows, notices)
    except csv.Error as e:
        raise SpreadsheetError(N_("The CSV file cannot be read near line %(line)s: %(problem)s."),
                               line=reader.line_num, problem=str(e)) from None


def _blank(values: list) -> bool:
    return all(v is None or v == "" for v in values)


def _table(lines: Iterable[list], max_rows: int, notices: list[dict]) -> Table:
    headers: list[str] | None = None
    header_row = 0
    rows: list[tuple[int, list]] = []
    for number, values in enumerate(lines, start=1):
        if _blank(values):
            continue
        if headers is None:
            headers = ["" if v is None else str(v).strip() for v in values]
            header_row = number
            continue
        if len(rows) >= max_rows:
            raise SpreadsheetError(N_("The file has more than %(max)s data rows. Split it (for example by county "
                                      "or school) and import the parts one after another."), max=max_rows)
        rows.append((number, list(values)))
    if headers is None:
        raise SpreadsheetError(N_("The file is empty."))
    while headers and headers[-1] == "":
        headers.pop()
    return Table(headers=headers, header_row=header_row, rows=rows, notices=notices)
