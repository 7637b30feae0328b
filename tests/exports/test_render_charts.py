"""Report charts (SVG strings for the web page) and the engine-computed sample data the renderers are tested on."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from exports.render import charts
from exports.render.samples import sample_data
from forms.indicators import Aggregate, indicators_from_totals

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def county():
    return sample_data(children=60, level="inspectorate", seed=7)


@pytest.fixture(scope="module")
def unit():
    return sample_data(children=14, level="unit")


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML, every name escaped
    assert root.tag == SVG + "svg" and root.get("viewBox") and root.get("width") == "100%"
    for el in root.iter():
        assert "style" not in el.attrib and not any(a.startswith("on") for a in el.attrib)  # strict CSP
        assert el.tag != SVG + "script"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(SVG + "rect") if "chart-bar" in r.get("class", "").split()]


def test_risk_by_child_draws_one_bar_per_child_with_units_highest_first(county):
    root = parse(charts.risk_by_child(county, "en"))
    counted = [c for c in county["children"] if c["units"] and not c["excluded"]]
    drawn = bars(root)
    assert len(drawn) == min(len(counted), 45)
    widths = [float(r.get("width")) for r in drawn]
    assert widths == sorted(widths, reverse=True)
    best = max(counted, key=lambda c: c["units_at_risk"] / c["units"])
    assert widths[0] == pytest.approx(charts.BAR_W * best["units_at_risk"] / best["units"], abs=0.1)
    ref = [line for line in root.iter(SVG + "line") if line.get("class") == "chart-ref"]
    assert len(ref) == 1
    expected_x = charts.BAR_X + charts.BAR_W * county["totals"]["units_at_risk_share"]
    assert float(ref[0].get("x1")) == pytest.approx(expected_x, abs=0.1)
    risky = [r for r in drawn if "chart-bar-risk" in r.get("class")]
    assert 0 < len(risky) < len(drawn)  # above the county's own share only


def test_group_shares_of_a_unit_show_every_class_against_the_unit(unit):
    root = parse(charts.group_shares(unit, "ethnicity.roma", "en"))
    drawn = bars(root)
    classes = [c for c in unit["children"] if c["groups"]["ethnicity.roma"]["share"] is not None]
    assert len(drawn) == len(classes)
    for rect, c in zip(drawn, classes, strict=True):  # a unit keeps its class order
        g = c["groups"]["ethnicity.roma"]
        assert float(rect.get("width")) == pytest.approx(charts.BAR_W * g["share"], abs=0.1)
        assert ("chart-bar-risk" in rect.get("class")) == (g["score"] >= charts.RISK_SCORE)
    labels = [t.text for t in root.iter(SVG + "text")]
    assert [c["name"] for c in classes] == [t for t in labels if t in {c["name"] for c in classes}]
    assert charts.group_shares(unit, "no.such.group", "en") is None


def test_names_are_escaped_and_official_prefixes_shortened(county):
    data = {**county, "children": [dict(c) for c in county["children"]]}
    data["children"][0] = {**data["children"][0], "name": '<script>alert("x")</script> & „Școala”',
                           "units": 4, "units_at_risk": 4, "excluded": False}
    data["children"][1] = {**data["children"][1], "name": "Inspectoratul Școlar Județean Argeș",
                           "units": 4, "units_at_risk": 3, "excluded": False}
    svg = charts.risk_by_child(data, "ro")
    assert "<script>" not in svg
    root = parse(svg)
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "Argeș" in texts
    titles = [t.text for t in root.iter(SVG + "title")]
    assert any(t.startswith('<script>alert("x")</script> & „Școala”') for t in titles)


def test_default_charts(county, unit):
    assert [c["key"] for c in charts.default_charts(unit, "en")][:1] == ["group:ethnicity.roma"]
    above = charts.default_charts(county, "en")
    assert above[0]["key"] == "risk-by-child" and above[0]["title"].startswith("Share of units at risk per school")
    for chart in above:
        parse(chart["svg"])
    assert charts.default_charts(sample_data(children=0), "ro") == []


def test_sample_data_follows_the_contract_and_the_engine(county):
    data = county
    assert set(data) >= {"schema", "campaign", "node", "version", "reason", "provisional", "generated_at",
                         "ruleset", "completion", "totals", "risk", "children", "exclusions", "dissimilarity",
                         "aggregate"}
    assert data["risk_total"] == len(data["risk"])  # uncapped unless asked
    assert [u["name"] for u in data["units_at_risk"]] and len(data["units_at_risk"]) == data["totals"]["units_at_risk"]
    # totals are the engine's indicators over the summed aggregate, never averages
    assert data["totals"] == indicators_from_totals(Aggregate.from_dict(data["aggregate"]))
    counted = [c for c in data["children"] if not c["excluded"]]
    assert sum(c["pupils"] for c in counted) == data["totals"]["pupils"]
    assert sum(c["units_at_risk"] for c in counted) == data["totals"]["units_at_risk"]
    done = data["completion"]
    assert done["total"] == len(data["children"]) == done["submitted"] + done["excluded"] + done["pending"]
    assert [e["id"] for e in data["exclusions"]] == [c["id"] for c in data["children"] if c["excluded"]]
    assert data["risk"] and {r["outcome"] for r in data["risk"]} <= {"risk", "missing_data"}
    for r in data["risk"]:
        assert r["codes"] and r["unit"]["name"] and r["item_name"]
