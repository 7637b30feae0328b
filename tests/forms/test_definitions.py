"""Definitions: the built-in forms load and are self-consistent; a faulty definition lists every problem."""
from __future__ import annotations

import copy
import json

import pytest

from forms import nomenclatures
from forms.definitions import (BUILTIN_DIR, DefinitionError, builtin, builtin_definitions, checksum, localize,
                               parse_definition)
from forms.expressions import compile_expression

ETHNICITIES = ["romanian", "roma", "hungarian", "german", "ukrainian", "turkish_tatar", "other", "undeclared"]
PARENTS = ["higher", "upper_secondary", "eight_grades", "below_eight", "unknown"]
SINGLE = ["social_scholarship", "single_parent", "disability_sen", "residence_other_locality", "institutionalised",
          "relatives_care", "attended_kindergarten", "repeating"]


def test_the_three_builtin_forms_ship():
    defs = {d.key: d for d in builtin_definitions()}
    assert set(defs) == {"segregation.unit_form", "segregation.class_table", "segregation.extended"}
    assert {k: (d.scope, d.version) for k, d in defs.items()} == {
        "segregation.unit_form": ("unit", 1), "segregation.class_table": ("class", 1),
        "segregation.extended": ("extended", 1)}


@pytest.mark.parametrize("definition", builtin_definitions(), ids=lambda d: d.key)
def test_builtin_self_consistent(definition):
    keys = {f.key for s in definition.sections for f in s.fields if not s.repeat}
    known = keys | set(definition.context)
    for s in definition.sections:
        for f in s.fields:
            assert localize(f.label, "ro") and localize(f.label, "en"), f.key
            for attr in ("default", "formula", "required_if"):
                if f.spec.get(attr):
                    e = compile_expression(f.spec[attr])
                    assert e.names <= known, (f.key, attr)
                    assert all(any(k.startswith(p) for k in keys) for p in e.patterns)
            if f.nomenclature:
                assert f.nomenclature in nomenclatures.seeds(), f.nomenclature
    for r in definition.rules:
        assert compile_expression(r.expr).names <= known
        assert set(r.fields) <= keys and r.fields
        assert localize(r.message, "ro") != localize(r.message, "en")
        for src in r.values.values():
            assert compile_expression(src).names <= known
    assert localize(definition.title, "ro") and localize(definition.title, "en")


def test_class_table_follows_the_indicator_set():
    d = builtin("segregation.class_table")
    inputs = {f.key: f for f in d.fields if f.is_input}
    expected = ({"pupils", "last_benches.seats"} | {f"ethnicity.{k}" for k in ETHNICITIES}
                | {f"parents_education.{k}" for k in PARENTS} | set(SINGLE))
    assert expected <= set(inputs)
    assert all(f.type == "integer" and f.required and f.spec["min"] == 0 for f in inputs.values())
    # Percentages are computed, never typed: every count of a criterion has its share.
    computed = {f.key for f in d.fields if not f.is_input}
    for k in expected - {"pupils", "last_benches.seats"}:
        assert f"share.{k}" in computed
    # Ethnicity keys are the ethnicities nomenclature.
    assert [c.value for c in nomenclatures.choices("ethnicities")] == ETHNICITIES


def test_no_field_identifies_a_pupil():
    """The class table only holds counts: no free text or date that could name or single out a pupil (a class
    table with such a field does not even parse, see below)."""
    d = builtin("segregation.class_table")
    assert {f.type for f in d.fields} == {"integer", "computed"}
    for f in d.fields:
        assert not any(w in f.key for w in ("name", "cnp", "birth", "address", "email", "phone"))


def test_bench_and_count_keys_match_the_shipped_ruleset():
    """Every count the indicators ruleset reads exists in the class table (they are two data files)."""
    d = builtin("segregation.class_table")
    keys = {f.key for f in d.fields}
    files = sorted((BUILTIN_DIR.parent / "rulesets").glob("*.json"))
    if not files:
        pytest.skip("no shipped ruleset yet")
    for path in files:
        params = json.loads(path.read_text(encoding="utf-8")).get("params", {})
        if params.get("bench", {}).get("seats"):
            assert params["bench"]["seats"] in keys
        for criterion in params.get("criteria", []):
            for g in criterion.get("groups", []):
                assert set(g.get("counts", [])) <= keys, g
                assert g.get("bench") is None or g["bench"] in keys, g


def test_unit_form_and_extended_fields():
    u = builtin("segregation.unit_form")
    keys = {f.key for f in u.fields}
    assert {"buildings.count", "buildings.classrooms", "teaching_languages", "locality.pupils"} <= keys
    assert {f"locality.ethnicity.{k}" for k in ETHNICITIES} <= keys
    assert u.field("teaching_languages").nomenclature == "teaching_languages"
    e = builtin("segregation.extended")
    assert {f.key for f in e.fields} == {"commission.established", "plan.exists", "plan.date", "measures",
                                         "measures_other"}
    assert e.field("measures").type == "multiple_choice" and e.field("measures").nomenclature == "measures"
    per_class = [s for s in e.sections if s.repeat]
    assert len(per_class) == 1 and {f.key for f in per_class[0].fields} == {"explanation", "formation_reason"}
    assert per_class[0].fields[0].nomenclature == "class_formation_reasons"


def test_default_and_computed_order_put_dependencies_first():
    d = builtin("segregation.class_table")
    assert d.default_order.index("pupils") < d.default_order.index("ethnicity.undeclared")
    u = builtin("segregation.unit_form")
    assert u.computed_order.index("locality.pupils") < u.computed_order.index("share.locality.ethnicity.roma")


def test_checksum_ignores_version_only():
    body = builtin("segregation.extended").to_dict()
    assert checksum(body) == checksum(dict(body, version=7))
    assert checksum(body) != checksum(dict(body, title="x"))


MINIMAL = {
    "key": "test.form", "version": 1, "scope": "class", "title": "Test",
    "context": {"class.pupils": "integer", "items": "items"},
    "sections": [{"key": "main", "title": "Main", "fields": [
        {"key": "a", "type": "integer", "label": "A", "default": "class.pupils"},
        {"key": "b", "type": "computed", "label": "B", "formula": "a * 2"},
    ]}],
    "rules": [{"key": "r", "expr": "a <= class.pupils", "fields": ["a"], "message": "A too big"}],
}


def test_minimal_definition_parses():
    d = parse_definition(MINIMAL)
    assert [f.key for f in d.fields] == ["a", "b"] and d.rules[0].key == "r"


def _problems(mutate) -> list[str]:
    body = copy.deepcopy(MINIMAL)
    mutate(body)
    with pytest.raises(DefinitionError) as e:
        parse_definition(body)
    return e.value.problems


def _field(body, **spec):
    body["sections"][0]["fields"].append(spec)


@pytest.mark.parametrize("mutate, fragment", [
    (lambda b: b.update(key="Bad Key"), "key"),
    (lambda b: b.update(version=0), "version"),
    (lambda b: b.update(scope="county"), "scope"),
    (lambda b: b.update(colour="red"), "unknown attribute 'colour'"),
    (lambda b: b.update(sections=[]), "at least one section"),
    (lambda b: _field(b, key="c", type="slider", label="C"), "unknown type 'slider'"),
    (lambda b: _field(b, key="a", type="integer", label="A again"), "duplicate key"),
    (lambda b: _field(b, key="c", type="integer"), "missing label"),
    (lambda b: _field(b, key="c", type="integer", label="C", maximum=3), "unknown attribute 'maximum'"),
    (lambda b: _field(b, key="c", type="integer", label="C", default="nope + 1"), "unknown key 'nope'"),
    (lambda b: _field(b, key="c", type="integer", label="C", default="__import__('os')"), "invalid name"),
    (lambda b: _field(b, key="c", type="computed", label="C", formula='sum("zzz.*")'), "matches no field"),
    (lambda b: _field(b, key="c", type="computed", label="C", formula="c + 1"), "refers to the field itself"),
    (lambda b: [_field(b, key="x", type="computed", label="X", formula="y"),
                _field(b, key="y", type="computed", label="Y", formula="x")], "dependency cycle"),
    (lambda b: _field(b, key="c", type="single_choice", label="C"), "either choices or a nomenclature"),
    (lambda b: _field(b, key="sum", type="integer", label="S"), "bad key"),
    (lambda b: _field(b, key="class.pupils", type="integer", label="P"), "clashes with a context parameter"),
    (lambda b: b["rules"].append({"key": "r2", "expr": "a > 0", "fields": ["zz"], "message": "m"}),
     "unknown field 'zz'"),
    (lambda b: b["rules"].append({"key": "r", "expr": "a > 0", "fields": ["a"], "message": "m"}), "duplicate rule"),
    (lambda b: b["rules"].append({"key": "r3", "expr": "a ** 2", "fields": ["a"], "message": "m"}), "not allowed"),
    (lambda b: b["rules"].append({"key": "r4", "expr": "a > 0", "fields": ["a"]}), "missing message"),
    (lambda b: b["sections"].append({"key": "rep", "title": "R", "repeat": "nothing",
                                     "fields": [{"key": "t", "type": "text", "label": "T"}]}), "repeat must name"),
    (lambda b: b["sections"].append({"key": "rep", "title": "R", "repeat": "items",
                                     "fields": [{"key": "t", "type": "integer", "label": "T", "default": "1"}]}),
     "cannot have a default"),
    (lambda b: b["context"].update({"Bad": "integer"}), "bad parameter name"),
    (lambda b: _field(b, key="notes", type="text", label="Notes"), "could identify a pupil"),
    (lambda b: _field(b, key="born", type="date", label="Born"), "could identify a pupil"),
])
def test_faulty_definitions_list_their_problems(mutate, fragment):
    problems = _problems(mutate)
    assert any(fragment in p for p in problems), problems


def test_every_problem_is_listed_at_once():
    def many(b):
        b["version"] = -1
        _field(b, key="c", type="slider", label="C")
        b["rules"][0]["expr"] = "lambda: 1"
    assert len(_problems(many)) >= 3


def test_localize():
    assert localize({"ro": "Da", "en": "Yes"}, "en") == "Yes"
    assert localize({"ro": "Da", "en": "Yes"}, "en_GB") == "Yes"
    assert localize({"ro": "Da", "en": "Yes"}, "fr") == "Da"
    assert localize({"en": "Yes"}, "ro") == "Yes"
    assert localize("Plain", "en") == "Plain" and localize(None) == ""
