"""The renderers on real report data: a county submitted through the real workflow, its data built by
exports.report_data from the roll-up snapshots, rendered to every format (names with diacritics survive)."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from core.db import session
from exports import render, report_data
from exports.render.labels import Labels
from tests.exports.test_render import pdf_text
from tests.exports.test_reports_support import submit_county
from tests.workflows.conftest import launch, people

COUNTY = "Inspectoratul Școlar Județean Argeș"
SCHOOL = "Școala Gimnazială „Ștefan cel Mare” Târgu Mureș"
UNIT = "Școala Gimnazială Nr. 1 Târgu Mureș — structura Ținutul Pădurii"


@pytest.fixture
def county_data(app, tree, make_user):
    who = people(tree, make_user)
    tree.a.name, tree.schools["A1"].name, tree.units["A1.1"].name = COUNTY, SCHOOL, UNIT
    session.flush()
    campaign = launch(who, tree, name="Monitorizarea segregării școlare 2025–2026")
    submit_county(campaign, tree, who)
    return {"county": report_data.build(campaign, tree.a, version=2, reason="submitted"),
            "unit": report_data.build(campaign, tree.units["A1.1"], version=1, reason="submitted")}


def test_a_submitted_county_and_unit_render_in_every_format(county_data):
    county, unit = county_data["county"], county_data["unit"]
    assert not county["provisional"] and county["totals"]["pupils"] > 0
    L = Labels("ro")

    text = pdf_text(render.render("pdf", county, "ro"))
    assert COUNTY in text and SCHOOL in text and "Monitorizarea segregării școlare 2025–2026" in text
    assert L.number(county["totals"]["pupils"]) in text
    text = pdf_text(render.render("pdf", unit, "ro"))
    assert UNIT in text and L.number(unit["totals"]["pupils"]) in text

    wb = load_workbook(io.BytesIO(render.render("xlsx", county, "en")))
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Inspectorate"] == COUNTY and summary["Pupils"] == county["totals"]["pupils"]
    schools = list(wb["Schools"].iter_rows(min_row=2, values_only=True))
    assert SCHOOL in [r[2] for r in schools]
    assert sum(r[8] for r in schools) == county["totals"]["pupils"]  # every school included, none excluded

    rows = list(csv.reader(io.StringIO(render.render("csv", unit, "ro").decode("utf-8-sig"))))
    assert rows[-1][2] == UNIT and int(rows[-1][8]) == unit["totals"]["pupils"]
    assert len(rows) == len(unit["children"]) + 2
    assert render.filename(county, "pdf").isascii()
