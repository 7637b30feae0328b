"""Network and structure import/export: parsing, row-level errors, scope, idempotence, round trips, safe exports."""
from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.db import session
from core.errors import Conflict, Invalid
from exports import spreadsheets
from tenants import network_io, operations
from tenants.models import ImportBatch, Node, SchoolClass

NET = ["county_code", "school_code", "school_name", "unit_code", "unit_name", "locality", "environment", "languages"]
STRUCT = ["unit_code", "class_name", "grade_level", "teaching_language", "education_form", "pupils", "combined"]
NEW_SCHOOL = ["CA", "1300000001", "Școala Nouă", "1310000002", "Școala Nouă — corp principal", "Deva", "urban",
              "ro"]


def noop(*_args, **_kw):
    return None


def csv_bytes(rows, header=NET, delimiter=",", encoding="utf-8") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows, header=NET) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def counts() -> tuple[int, int, int]:
    return tuple(session.execute(select(func.count()).select_from(m)).scalar_one()
                 for m in (Node, SchoolClass, AuditEntry))


def messages(batch) -> str:
    return " | ".join(e["message"] % e["params"] if e["params"] else e["message"] for e in batch.errors)


def by_code(code: str, level: str) -> Node | None:
    return session.execute(select(Node).where(Node.level == level, Node.code == code)).scalar()


@pytest.fixture
def inspector(tree, make_user):
    return make_user("inspector", tree.a)


# --- parsing and applying ----------------------------------------------------------------------------------------

def test_csv_with_romanian_headers_and_semicolons_is_planned_and_applied(tree, inspector):
    header = ["Cod județ", "Cod PJ", "Denumire PJ", "Cod SIIIR", "Denumire unitate", "Localitate", "Mediu", "Limbi"]
    data = csv_bytes([NEW_SCHOOL, ["CA", "1300000001", "Școala Nouă", "1320000002", "Structura Sat", "Sat", "R",
                                   "ro; HU"]], header=header, delimiter=";")
    batch = network_io.preview("network", tree.a, inspector, "retea.csv", data)
    assert batch.status == "preview" and batch.errors == []
    assert [(c["level"], c["code"]) for c in batch.plan["creates"]] == [
        ("school", "1300000001"), ("unit", "1310000002"), ("unit", "1320000002")]
    assert batch.plan["summary"] == {"rows": 2, "errors": 0, "creates": 3, "updates": 0, "unchanged": 0,
                                     "missing": 6}
    before = counts()
    result = network_io.apply(batch.id, inspector.id, noop)
    assert result["created"] == 3 and batch.status == "applied" and batch.applied_at is not None
    school, unit = by_code("1300000001", "school"), by_code("1320000002", "unit")
    assert school.parent_id == tree.a.id and (school.locality, school.environment) == ("Deva", "urban")
    assert unit.parent_id == school.id and unit.county_id == tree.a.id
    assert (unit.environment, unit.languages) == ("rural", "ro,hu")
    assert counts()[0] == before[0] + 3
    creations = session.execute(select(AuditEntry).where(AuditEntry.action == "node.create",
                                                         AuditEntry.user_id == inspector.id)).scalars().all()
    assert len(creations) == 3


def test_xlsx_numeric_cells_are_read_as_codes_and_numbers(tree, inspector):
    # Excel turns a typed code into a number and drops the leading zero of counties 01-09.
    data = xlsx_bytes([["CA", 110000009, "Școala Zero", 110000019.0, "Unitatea Zero", "Alba Iulia", "urban", "ro"]])
    batch = network_io.preview("network", tree.a, inspector, "retea.xlsx", data)
    assert batch.errors == []
    assert [c["code"] for c in batch.plan["creates"]] == ["0110000009", "0110000019"]

    unit = tree.units["A1.1"]
    data = xlsx_bytes([[unit.code, "7B", "VII", "ro", "zi", 27.0, "da"], [unit.code, "P-II", "P", None, None, 9,
                                                                           True]], header=STRUCT)
    batch = network_io.preview("structure", tree.a, inspector, "clase.xlsx", data, year=tree.year)
    assert batch.errors == []
    fields = [c["fields"] for c in batch.plan["creates"]]
    assert fields == [
        {"grade_level": 7, "teaching_language": "ro", "education_form": "day", "pupils": 27, "combined": True},
        {"grade_level": 0, "teaching_language": "ro", "education_form": "day", "pupils": 9, "combined": True}]


def test_reimporting_the_same_file_changes_nothing(tree, inspector):
    data = csv_bytes([NEW_SCHOOL])
    first = network_io.preview("network", tree.a, inspector, "n.csv", data)
    network_io.apply(first.id, inspector.id, noop)
    before = counts()
    again = network_io.preview("network", tree.a, inspector, "n.csv", data)
    assert again.status == "preview"
    assert (again.plan["summary"]["creates"], again.plan["summary"]["updates"]) == (0, 0)
    assert again.plan["summary"]["unchanged"] == 2
    assert network_io.apply(again.id, inspector.id, noop) == {"import_batch_id": again.id, "created": 0,
                                                              "updated": 0}
    assert counts() == before  # no node, no class, not one audit entry for a no-op
    assert again.status == "applied"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", ["network", "structure"])
@pytest.mark.parametrize("where", ["ministry", "county"])
def test_export_then_import_is_a_noop(tree, make_user, fmt, kind, where):
    scope, role = (tree.ministry, "commission") if where == "ministry" else (tree.a, "inspector")
    user = make_user(role, scope)
    # Values that stress the round trip: diacritics, a formula-like name, an empty locality, two languages.
    operations.update_node(tree.schools["A1"], {"name": "=Școala „Ion” + 1", "languages": "ro,hu"})
    operations.update_node(tree.units["A1.2"], {"locality": None, "name": "@Unitatea"})
    operations.update_class(tree.classes["A1.1.0"], {"grade_level": 0, "combined": True, "education_form": "evening"})
    year = tree.year if kind == "structure" else None
    filename, _mime, data = network_io.export(kind, scope, fmt, year=year)
    before = counts()
    batch = network_io.preview(kind, scope, user, filename, data, year=year)
    assert batch.errors == [] and batch.status == "preview"
    s = batch.plan["summary"]
    assert (s["creates"], s["updates"], s["missing"]) == (0, 0, 0)
    assert s["rows"] == (8 if where == "ministry" else 4) * (2 if kind == "structure" else 1)
    network_io.apply(batch.id, user.id, noop)
    assert counts() == before


def test_updates_show_old_and_new_values(tree, inspector):
    unit = tree.units["A1.1"]
    row = ["CA", "1100000001", "Școala A1", unit.code, "Unitatea A1.1 (renumită)", "Sat A11", "urban", "ro"]
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([row]))
    assert batch.plan["updates"] == [{"row": 2, "level": "unit", "id": unit.id, "code": unit.code,
                                      "name": "Unitatea A1.1", "changes": {
                                          "name": {"old": "Unitatea A1.1", "new": "Unitatea A1.1 (renumită)"},
                                          "environment": {"old": "rural", "new": "urban"}}}]
    assert batch.plan["summary"]["unchanged"] == 1  # the school: no school_* columns, same name
    network_io.apply(batch.id, inspector.id, noop)
    assert (unit.name, unit.environment, unit.locality) == ("Unitatea A1.1 (renumită)", "urban", "Sat A11")
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "node.update")
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry.old == {"name": "Unitatea A1.1", "environment": "rural"} and entry.user_id == inspector.id


def test_rows_missing_from_the_file_are_reported_never_deleted(tree, inspector):
    row = ["CA", "1100000001", "Școala A1", tree.units["A1.1"].code, "Unitatea A1.1", "Sat A11", "rural", "ro"]
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([row]))
    missing = {(m["level"], m["code"]) for m in batch.plan["missing"]}
    assert missing == {("school", "1200000001"), ("unit", tree.units["A1.2"].code), ("unit", tree.units["A2.1"].code),
                       ("unit", tree.units["A2.2"].code)}
    before = counts()
    network_io.apply(batch.id, inspector.id, noop)
    assert counts() == before and by_code(tree.units["A2.2"].code, "unit") is not None


def test_school_columns_update_the_school(tree, inspector):
    header = NET + ["school_locality", "school_environment", "school_languages"]
    row = ["CA", "1100000001", "Școala A1", tree.units["A1.1"].code, "Unitatea A1.1", "Sat A11", "rural", "ro",
           "Oraș A", "rural", "ro,de"]
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([row], header=header))
    (update,) = batch.plan["updates"]
    assert update["level"] == "school"
    assert update["changes"] == {"environment": {"old": "urban", "new": "rural"},
                                 "languages": {"old": "ro", "new": "ro,de"}}


def test_a_school_row_without_unit_creates_the_school_only(tree, inspector):
    row = ["CA", "1400000001", "Școala fără unități", "", "", "Brad", "urban", ""]
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([row]))
    assert batch.errors == [] and [c["level"] for c in batch.plan["creates"]] == ["school"]
    network_io.apply(batch.id, inspector.id, noop)
    _f, _m, data = network_io.export("network", tree.a, "csv")
    assert "CA,1400000001,Școala fără unități,,,,,,Brad,urban,ro" in data.decode("utf-8-sig")


def test_cp1250_csv_is_read_with_a_notice_and_comma_below_diacritics(tree, inspector):
    row = ["CA", "1300000001", "Şcoala Gimnazială Ţăndărei", "1310000002", "Şcoala Ţăndărei", "Ţăndărei", "urban",
           "ro"]
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([row], encoding="cp1250"))
    assert batch.errors == []
    assert batch.plan["creates"][0]["name"] == "Școala Gimnazială Țăndărei"
    assert "Windows-1250" in batch.plan["notices"][0]["message"]


def test_network_import_is_for_the_country_or_a_county(tree, make_user):
    director = make_user("director", tree.schools["A1"])
    with pytest.raises(Invalid):
        network_io.preview("network", tree.schools["A1"], director, "n.csv", csv_bytes([NEW_SCHOOL]))


# --- malformed files: clear errors, nothing written --------------------------------------------------------------

def _unit_b():
    return session.execute(select(Node).where(Node.level == "unit", Node.name == "Unitatea B1.1")).scalar_one()


def _corrupt_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    return buf.getvalue()


NETWORK_CASES = {
    "missing columns": ("n.csv", lambda t: csv_bytes([["CA", "1300000001", "X", "1310000002"]], header=NET[:4]),
                        "missing columns: unit_name, locality, environment, languages"),
    "same column twice": ("n.csv", lambda t: csv_bytes([NEW_SCHOOL + ["1310000002"]], header=NET + ["cod_siiir"]),
                          "both mean unit_code"),
    "empty file": ("n.csv", lambda t: b"", "The file is empty."),
    "blank lines only": ("n.csv", lambda t: b"\xef\xbb\xbf\r\n ,, \r\n", "The file is empty."),
    "header only": ("n.csv", lambda t: csv_bytes([]), "header row but no data rows"),
    "corrupt xlsx": ("n.xlsx", lambda t: b"PK\x03\x04" + b"\x00garbage" * 50, "damaged"),
    "zip that is no workbook": ("n.xlsx", lambda t: _corrupt_zip(), "damaged"),
    "text named xlsx": ("n.xlsx", lambda t: csv_bytes([NEW_SCHOOL]), "not an Excel workbook"),
    "legacy xls": ("n.xls", lambda t: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls files are not"),
    "pdf": ("n.pdf", lambda t: b"%PDF-1.4", "Unsupported file type .pdf"),
    "neither utf-8 nor cp1250": ("n.csv", lambda t: csv_bytes([NEW_SCHOOL]) + b"\x81\x98\n", "neither UTF-8"),
    "bad codes": ("n.csv", lambda t: csv_bytes([["CA", "12345", "X", "abcdefghij", "Y", "", "", ""]]),
                  "“12345” is not a SIIIR code"),
    "duplicate unit codes": ("n.csv", lambda t: csv_bytes([NEW_SCHOOL, NEW_SCHOOL]),
                             "unit code 1310000002 already appears on row 2"),
    "one school, two names": ("n.csv", lambda t: csv_bytes([NEW_SCHOOL, NEW_SCHOOL[:2] + ["Alt nume", "1320000002",
                                                                                         "U", "", "", ""]]),
                              "school 1300000001 has a different school_name on row 2"),
    "row of another county": ("n.csv", lambda t: csv_bytes([["CB"] + NEW_SCHOOL[1:]]),
                              "the row is for county CB, but this import covers county CA only"),
    "unknown county": ("n.csv", lambda t: csv_bytes([["ZZ"] + NEW_SCHOOL[1:]]), "no county with code ZZ"),
    "school of another county": ("n.csv", lambda t: csv_bytes([["CA", t.schools["B1"].code] + NEW_SCHOOL[2:]]),
                                 "is already registered in another county"),
    "unit under a school of another county": (
        "n.csv", lambda t: csv_bytes([NEW_SCHOOL[:3] + [_unit_b().code] + NEW_SCHOOL[4:]]),
        "already registered under a school of another county"),
    "unit under another school": (
        "n.csv", lambda t: csv_bytes([["CA", "1100000001", "Școala A1", t.units["A2.1"].code, "Unitatea A2.1",
                                       "Sat A21", "rural", "ro"]]),
        "is registered under school 1200000001, not 1100000001"),
    "bad environment and language": ("n.csv", lambda t: csv_bytes([NEW_SCHOOL[:6] + ["oraș", "română"]]),
                                     "not an environment"),
    "unit code without name": ("n.csv", lambda t: csv_bytes([NEW_SCHOOL[:4] + ["", "Deva", "urban", "ro"]]),
                               "the name is missing"),
}


@pytest.mark.parametrize("case", sorted(NETWORK_CASES))
def test_malformed_network_files_get_clear_errors_and_write_nothing(tree, inspector, case):
    filename, make, expected = NETWORK_CASES[case]
    data = make(tree)
    before = counts()
    batch = network_io.preview("network", tree.a, inspector, filename, data)
    assert batch.status == "invalid"
    assert expected in messages(batch)
    with pytest.raises(Conflict):
        network_io.start_apply(batch, inspector)
    assert counts() == before


def test_too_many_rows(tree, inspector):
    rows = [["CA", "1300000001", "Școala Nouă", f"13{i:02d}000002", f"U{i}", "", "", ""] for i in range(4)]
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes(rows), max_rows=3)
    assert batch.status == "invalid" and "more than 3 data rows" in messages(batch)


def test_every_row_error_is_reported_with_row_and_column(tree, inspector):
    rows = [NEW_SCHOOL,
            ["CA", "1300000001", "Școala Nouă", "13", "U", "", "suburban", "ro"],
            ["CA", "x", "", "1330000002", "U", "", "", ""],
            ["CB"] + NEW_SCHOOL[1:]]
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes(rows))
    assert [(e["row"], e["column"]) for e in batch.errors] == [
        (3, "unit_code"), (3, "environment"), (4, "school_code"), (4, "school_name"), (5, "unit_code"),
        (5, "county_code"), (5, "county_code")]
    assert [e["message"].split(" ")[0:2] for e in batch.errors[-3:]] == [
        ["unit", "code"], ["school", "%(code)s"], ["the", "row"]]
    assert batch.plan["summary"]["errors"] == 7


STRUCTURE_CASES = {
    "non-numeric pupils": (lambda u: [u, "5B", "V", "ro", "day", "douăzeci", "nu"],
                           "“douăzeci” is not a number of pupils"),
    "negative pupils": (lambda u: [u, "5B", "V", "ro", "day", "-3", "nu"], "cannot be negative"),
    "fractional pupils": (lambda u: [u, "5B", "V", "ro", "day", "20.5", "nu"], "not a number of pupils"),
    "unknown grade": (lambda u: [u, "13A", "XIII", "ro", "day", "20", "nu"], "“XIII” is not a grade"),
    "bad form": (lambda u: [u, "5B", "V", "ro", "weekend", "20", "nu"], "not a form of education"),
    "bad combined flag": (lambda u: [u, "5B", "V", "ro", "day", "20", "poate"], "not yes or no"),
    "missing class name": (lambda u: [u, "", "V", "ro", "day", "20", "nu"], "the name is missing"),
    "unit of another county": (lambda u: [_unit_b().code, "5B", "V", "ro", "day", "20", "nu"],
                               "there is no unit with code"),
}


@pytest.mark.parametrize("case", sorted(STRUCTURE_CASES))
def test_malformed_structure_files_get_clear_errors_and_write_nothing(tree, inspector, case):
    make, expected = STRUCTURE_CASES[case]
    data = csv_bytes([make(tree.units["A1.1"].code)], header=STRUCT)
    before = counts()
    batch = network_io.preview("structure", tree.a, inspector, "c.csv", data, year=tree.year)
    assert batch.status == "invalid" and expected in messages(batch)
    assert counts() == before


def test_duplicate_classes_and_missing_structure_columns(tree, inspector):
    code = tree.units["A1.1"].code
    data = csv_bytes([[code, "5B", "V", "ro", "day", "20", "nu"], [code, "5b", "5", "ro", "day", "21", "nu"]],
                     header=STRUCT)
    batch = network_io.preview("structure", tree.a, inspector, "c.csv", data, year=tree.year)
    assert f"class 5b of unit {code} already appears on row 2" in messages(batch)
    batch = network_io.preview("structure", tree.a, inspector, "c.csv", csv_bytes([[code, "5B"]], header=STRUCT[:2]),
                               year=tree.year)
    assert "missing columns: grade_level, teaching_language, education_form, pupils, combined" in messages(batch)


# --- structure ---------------------------------------------------------------------------------------------------

def test_structure_import_creates_updates_and_is_idempotent(tree, make_user):
    responsible = make_user("unit_responsible", tree.units["A1.1"])
    code = tree.units["A1.1"].code
    rows = [[code, "1a", "I", "ro", "", "19", ""],  # existing "1A": case-insensitive match, pupils 20 → 19
            [code, "5A", "v", "ro", "day", "21", "no"],  # unchanged
            [code, "Pregătitoare", "preg", "hu", "seral", "12", "da"]]
    data = csv_bytes(rows, header=STRUCT)
    batch = network_io.preview("structure", tree.units["A1.1"], responsible, "c.csv", data, year=tree.year)
    assert batch.errors == []
    assert [u["changes"] for u in batch.plan["updates"]] == [{"pupils": {"old": 20, "new": 19}}]
    assert batch.plan["summary"]["unchanged"] == 1
    assert batch.plan["creates"][0]["fields"] == {"grade_level": 0, "teaching_language": "hu",
                                                  "education_form": "evening", "pupils": 12, "combined": True}
    network_io.apply(batch.id, responsible.id, noop)
    assert tree.classes["A1.1.0"].pupils == 19 and tree.classes["A1.1.0"].name == "1A"
    before = counts()
    again = network_io.preview("structure", tree.units["A1.1"], responsible, "c.csv", data, year=tree.year)
    assert (again.plan["summary"]["creates"], again.plan["summary"]["updates"]) == (0, 0)
    network_io.apply(again.id, responsible.id, noop)
    assert counts() == before


def test_structure_scope_is_the_importers_subtree(tree, make_user):
    director = make_user("director", tree.schools["A1"])
    other = tree.units["A2.1"].code  # same county, another school
    data = csv_bytes([[other, "9A", "IX", "ro", "day", "25", "nu"]], header=STRUCT)
    batch = network_io.preview("structure", tree.schools["A1"], director, "c.csv", data, year=tree.year)
    assert batch.status == "invalid"
    assert batch.errors[0]["params"] == {"code": other, "scope": "Școala A1"}


# --- apply re-validates ------------------------------------------------------------------------------------------

def test_apply_refuses_when_the_network_changed_since_the_preview(tree, inspector):
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([NEW_SCHOOL]))
    # Meanwhile someone registers the same unit code under another school of the county.
    operations.create_node(level="unit", code="1310000002", name="Altă unitate", parent=tree.schools["A2"])
    before = counts()
    with pytest.raises(Conflict, match="an import never moves units.*row 2"):
        network_io.apply(batch.id, inspector.id, noop)
    assert counts() == before and by_code("1300000001", "school") is None
    assert batch.status == "preview"


def test_apply_refuses_a_plan_that_is_no_longer_the_confirmed_one(tree, inspector):
    row = ["CA", "1100000001", "Școala A1 nouă", tree.units["A1.1"].code, "Unitatea A1.1", "Sat A11", "rural", "ro"]
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([row]))
    operations.update_node(tree.schools["A1"], {"name": "Școala A1 nouă"})
    before = counts()
    for _attempt in range(2):  # a retried job is refused the same way
        with pytest.raises(Conflict, match="Upload the file again"):
            network_io.apply(batch.id, inspector.id, noop)
    assert counts() == before and batch.status == "preview"
    fresh = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([row]))
    assert fresh.plan["summary"]["updates"] == 0
    assert network_io.apply(fresh.id, inspector.id, noop)["updated"] == 0


def test_apply_twice_and_discard(tree, inspector):
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([NEW_SCHOOL]))
    network_io.apply(batch.id, inspector.id, noop)
    with pytest.raises(Conflict):
        network_io.apply(batch.id, inspector.id, noop)
    with pytest.raises(Conflict):
        network_io.discard(batch)
    other = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([NEW_SCHOOL]))
    network_io.discard(other)
    assert other.status == "discarded" and other.rows == [] and other.plan["summary"]["unchanged"] == 2
    with pytest.raises(Conflict):
        network_io.start_apply(other, inspector)


def test_apply_checks_the_permission_again(tree, inspector, make_user):
    batch = network_io.preview("network", tree.a, inspector, "n.csv", csv_bytes([NEW_SCHOOL]))
    stranger = make_user("inspector", tree.b)
    from core.errors import Forbidden
    with pytest.raises(Forbidden):
        network_io.apply(batch.id, stranger.id, noop)
    assert session.get(ImportBatch, batch.id).status == "preview"


# --- safe spreadsheets -------------------------------------------------------------------------------------------

def test_exports_neutralise_formula_injection(tree, make_user):
    evil = '=HYPERLINK("http://evil.example","click")'
    operations.update_node(tree.schools["A1"], {"name": evil, "locality": "+40\tline\r\nbreak"})
    operations.update_node(tree.units["A1.1"], {"name": "@SUM(1)", "locality": "-2"})
    _f, mime, data = network_io.export("network", tree.a, "csv")
    assert data.startswith(b"\xef\xbb\xbf") and mime.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    a1 = rows[1]
    assert a1[2] == "'" + evil and a1[4] == "'@SUM(1)" and a1[5] == "'-2" and a1[8] == "'+40 line break"
    _f, mime, data = network_io.export("network", tree.a, "xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold
    assert ws["C2"].value == "'" + evil and ws["C2"].data_type == "s"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_writers_keep_numbers_as_numbers():
    data = spreadsheets.write_xlsx(["n", "text", "flag"], [[25, "-5", True], [1.5, None, False]])
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert [c.value for c in ws[2]] == [25, "'-5", "yes"] and ws["A2"].data_type == "n"
    assert ws["A3"].value == 1.5 and ws["B3"].value is None
    csv_data = spreadsheets.write_csv(["n", "text"], [[25, "=1+1"], [None, "a\tb"]])
    assert csv_data.decode("utf-8-sig") == "n,text\r\n25,'=1+1\r\n,a b\r\n"


def test_neutralise_and_restore_are_inverse():
    for text in ("=1+1", "+40", "-", "@x", " =x", "Școala", "'quoted", "a-b"):
        assert spreadsheets.restore(spreadsheets.neutralise(text)) == text
    assert spreadsheets.neutralise("\t=1") == "' =1"
