"""The engine on the built-in forms: defaults from class parameters, draft vs submit, rules, choices."""
from __future__ import annotations

import pytest

from forms import engine, nomenclatures
from forms.definitions import builtin

CLASS_TABLE = builtin("segregation.class_table")
UNIT_FORM = builtin("segregation.unit_form")
EXTENDED = builtin("segregation.extended")
CTX = {"class.pupils": 24, "class.grade_level": 5, "class.teaching_language": "ro"}


def codes(errors) -> dict:
    return {e.field or e.rule: e.code for e in errors}


def realistic(**changes) -> dict:
    """A 24-pupil class as a form teacher would fill it: start from the defaults, change what differs."""
    values = engine.generate_defaults(CLASS_TABLE, CTX)
    values.update({"ethnicity.romanian": 14, "ethnicity.roma": 8, "ethnicity.undeclared": 2,
                   "parents_education.higher": 4, "parents_education.upper_secondary": 9,
                   "parents_education.eight_grades": 6, "parents_education.below_eight": 3,
                   "parents_education.unknown": 2, "social_scholarship": 7, "single_parent": 3, "disability_sen": 1,
                   "attended_kindergarten": 20, "last_benches.seats": 8, "last_benches.ethnicity.roma": 5,
                   "last_benches.social_scholarship": 4})
    values.update(changes)
    return values


# --- defaults ----------------------------------------------------------------------------------------------

def test_defaults_prefill_the_class_table():
    values = engine.generate_defaults(CLASS_TABLE, CTX)
    assert values["pupils"] == 24
    assert values["ethnicity.undeclared"] == 24 and values["parents_education.unknown"] == 24
    zeros = [k for k in values if k not in ("pupils", "ethnicity.undeclared", "parents_education.unknown")]
    assert zeros and all(values[k] == 0 for k in zeros)
    assert "ethnicity.roma" in zeros and "repeating" in zeros and "last_benches.ethnicity.roma" in zeros
    # Everything but the bench count is pre-filled.
    inputs = [f.key for f in CLASS_TABLE.fields if f.is_input]
    assert set(inputs) - set(values) == {"last_benches.seats"}


def test_defaults_accept_nested_context_and_real_classes(tree):
    nested = engine.generate_defaults(CLASS_TABLE, {"class": {"pupils": 24}})
    assert nested == engine.generate_defaults(CLASS_TABLE, CTX)
    cls = tree.classes["A1.1.1"]                        # 21 pupils
    values = engine.generate_defaults(CLASS_TABLE, engine.class_context(cls))
    assert values["pupils"] == 21 and values["ethnicity.undeclared"] == 21


def test_defaults_without_class_parameters_leave_sized_fields_empty():
    values = engine.generate_defaults(CLASS_TABLE, {})
    assert "pupils" not in values and "ethnicity.undeclared" not in values and values["ethnicity.roma"] == 0


def test_a_generated_table_only_needs_the_bench_count():
    values = engine.generate_defaults(CLASS_TABLE, CTX)
    assert codes(engine.validate(CLASS_TABLE, values, CTX, mode="submit")) == {"last_benches.seats": "required"}
    assert engine.validate(CLASS_TABLE, dict(values, **{"last_benches.seats": 6}), CTX, mode="submit") == []


# --- draft vs submit ---------------------------------------------------------------------------------------

def test_draft_accepts_incomplete_data():
    result = engine.clean(CLASS_TABLE, {"ethnicity.roma": "3"}, CTX, mode="draft")
    assert result.ok and result.values["ethnicity.roma"] == 3 and result.values["pupils"] is None


def test_draft_refuses_wrong_types_and_ranges_naming_the_field():
    errors = engine.validate(CLASS_TABLE, realistic(**{"ethnicity.roma": "trei", "single_parent": -1,
                                                       "repeating": 500, "pupils": 2.5}), CTX)
    assert codes(errors) == {"ethnicity.roma": "invalid", "single_parent": "min", "repeating": "max",
                             "pupils": "invalid"}


def test_submit_enforces_required_fields():
    errors = engine.validate(CLASS_TABLE, {}, CTX, mode="submit")
    required = {e.field for e in errors if e.code == "required"}
    assert required == {f.key for f in CLASS_TABLE.fields if f.is_input}


def test_realistic_table_submits_and_computes_shares():
    result = engine.clean(CLASS_TABLE, realistic(), CTX, mode="submit")
    assert result.errors == [] and result.warnings == []
    v = result.values
    assert v["total.ethnicity"] == 24 and v["total.parents_education"] == 24
    assert v["share.ethnicity.roma"] == 33.3 and v["share.attended_kindergarten"] == 83.3
    assert v["share.last_benches.ethnicity.roma"] == 62.5
    assert v["share.repeating"] == 0.0


def test_html_strings_are_parsed():
    raw = {k: str(v) for k, v in realistic().items()}
    raw["parents_education.unknown"] = " 2 "
    result = engine.clean(CLASS_TABLE, raw, CTX, mode="submit")
    assert result.ok and result.values == engine.clean(CLASS_TABLE, realistic(), CTX).values


def test_submit_lists_every_broken_rule():
    values = realistic(**{"ethnicity.roma": 9, "parents_education.unknown": 1, "repeating": 30,
                          "last_benches.seats": 6, "last_benches.ethnicity.roma": 7,
                          "last_benches.social_scholarship": 8})
    errors = engine.validate(CLASS_TABLE, values, CTX, mode="submit")
    rules = {e.rule for e in errors if e.code == "rule"}
    assert rules == {"ethnicity_total", "parents_education_total", "repeating_within_class",
                     "last_benches_ethnicity_roma_within_seats", "last_benches_social_scholarship_within_seats",
                     "last_benches_social_scholarship_within_group"}
    eth = next(e for e in errors if e.rule == "ethnicity_total")
    assert eth.params == {"total": 25, "pupils": 24}
    assert "pupils" in eth.fields and "ethnicity.roma" in eth.fields
    assert eth.render("ro") == "Elevii numărați pe etnii (25) trebuie să totalizeze efectivul clasei (24)."
    assert eth.render("en") == "The pupils counted by ethnicity (25) must add up to the class size (24)."
    by_field = engine.Cleaned(values={}, errors=errors).errors_by_field()
    assert {e.rule for e in by_field["last_benches.seats"]} >= {"last_benches_ethnicity_roma_within_seats"}


def test_ethnicity_sum_rule():
    ok = realistic()
    assert not any(e.rule == "ethnicity_total" for e in engine.validate(CLASS_TABLE, ok, CTX, mode="submit"))
    for delta in (-1, 1):
        bad = realistic(**{"ethnicity.romanian": 14 + delta})
        assert "ethnicity_total" in {e.rule for e in engine.validate(CLASS_TABLE, bad, CTX, mode="submit")}
    # The class size itself is part of the rule: changing pupils alone breaks both partitions.
    rules = {e.rule for e in engine.validate(CLASS_TABLE, realistic(pupils=25), CTX, mode="submit")}
    assert {"ethnicity_total", "parents_education_total"} <= rules


def test_draft_reports_broken_rules_as_warnings_only():
    result = engine.clean(CLASS_TABLE, realistic(**{"ethnicity.roma": 9}), CTX, mode="draft")
    assert result.ok and [w.rule for w in result.warnings] == ["ethnicity_total"]


def test_rules_are_not_reported_for_missing_data():
    values = realistic()
    del values["pupils"]
    errors = engine.validate(CLASS_TABLE, values, CTX, mode="submit")
    assert codes(errors) == {"pupils": "required"}


def test_unknown_fields_are_errors_and_computed_ones_are_ignored():
    values = realistic(**{"share.ethnicity.roma": 99, "nickname": "Ion"})
    result = engine.clean(CLASS_TABLE, values, CTX, mode="submit")
    assert codes(result.errors) == {"nickname": "unknown_field"}
    assert result.values["share.ethnicity.roma"] == 33.3 and "nickname" not in result.values


def test_compute_ignores_keys_the_definition_does_not_know():
    values = dict(realistic(), **{"ethnicity.martian": 100, "total.ethnicity": 0})
    out = engine.compute(CLASS_TABLE, values, CTX)
    assert out["total.ethnicity"] == 24


def test_mode_is_checked():
    with pytest.raises(ValueError):
        engine.validate(CLASS_TABLE, {}, CTX, mode="final")
    with pytest.raises(TypeError):
        engine.clean(CLASS_TABLE, [("pupils", 3)], CTX)


# --- unit form: nomenclature-backed choices ----------------------------------------------------------------

def unit_values(**changes):
    ctx = {"unit.buildings": 2, "unit.classrooms": 14, "unit.unassigned_classes": 0, "unit.languages": ["ro", "hu"]}
    values = engine.generate_defaults(UNIT_FORM, ctx)
    values.update(changes)
    return values, ctx


def test_unit_defaults_come_from_the_unit(tree):
    unit = tree.units["A1.1"]
    ctx = engine.unit_context(unit, [tree.buildings["A1.1"]], [tree.classes["A1.1.0"], tree.classes["A1.1.1"]])
    values = engine.generate_defaults(UNIT_FORM, ctx)
    assert values["buildings.count"] == 1 and values["buildings.classrooms"] == 0
    assert values["buildings.classes_assigned"] is False        # the test classes have no building
    assert values["teaching_languages"] == ["ro"]


def test_unit_form_submits_with_nomenclature_choices():
    values, ctx = unit_values()
    assert values["teaching_languages"] == ["ro", "hu"]
    assert engine.validate(UNIT_FORM, values, ctx, mode="submit") == []
    values["teaching_languages"] = ["hu", "xx"]
    assert codes(engine.validate(UNIT_FORM, values, ctx)) == {"teaching_languages": "choice"}


def test_locality_population_shares_and_source():
    values, ctx = unit_values(**{"locality.ethnicity.romanian": 300, "locality.ethnicity.roma": 100})
    result = engine.clean(UNIT_FORM, values, ctx, mode="submit")
    assert codes(result.errors) == {"locality_info.source": "required"}
    assert result.values["locality.pupils"] == 400 and result.values["share.locality.ethnicity.roma"] == 25.0
    values["locality_info.source"] = "Recensământul 2021"
    assert engine.validate(UNIT_FORM, values, ctx, mode="submit") == []


def test_nomenclature_rows_drive_choices(db):
    nomenclatures.sync_seeds()
    nom = nomenclatures.get("teaching_languages")
    hu = next(i for i in nom.items if i.code == "hu")
    nomenclatures.deactivate_item(hu, reason="test")
    nomenclatures.create_item(nom, "el", {"ro": "Greacă", "en": "Greek"})
    values, ctx = unit_values(teaching_languages=["ro", "el"])
    assert engine.validate(UNIT_FORM, values, ctx) == []
    values["teaching_languages"] = ["ro", "hu"]
    assert codes(engine.validate(UNIT_FORM, values, ctx)) == {"teaching_languages": "choice"}


def test_a_nomenclature_source_can_be_passed():
    values, ctx = unit_values(teaching_languages=["xx"])
    from forms.definitions import Choice
    source = {"teaching_languages": [Choice("xx", "X")]}.__getitem__
    assert engine.validate(UNIT_FORM, values, ctx, nomenclatures=source) == []
    assert [c.value for c in engine.choices_for(UNIT_FORM.field("teaching_languages"), source)] == ["xx"]
    assert engine.choices_for(UNIT_FORM.field("buildings.count")) is None


def test_conditional_requirement_on_buildings():
    values, ctx = unit_values(**{"buildings.classes_assigned": "nu"})
    assert codes(engine.validate(UNIT_FORM, values, ctx, mode="submit")) == {"buildings.notes": "required"}


# --- extended section: a block per flagged class -----------------------------------------------------------

def test_extended_section_repeats_per_flagged_class():
    ctx = {"flagged_classes": [{"key": "c12", "label": "5A"}, {"key": "c13", "label": "6B"}]}
    keys = [f.key for f in EXTENDED.concrete_fields(ctx)]
    assert "flagged_classes.c12.explanation" in keys and "flagged_classes.c13.formation_reason" in keys
    errors = engine.validate(EXTENDED, {}, ctx, mode="submit")
    assert {e.field for e in errors} == {"commission.established", "plan.exists",
                                         "flagged_classes.c12.explanation", "flagged_classes.c12.formation_reason",
                                         "flagged_classes.c13.explanation", "flagged_classes.c13.formation_reason"}
    values = {"commission.established": "da", "plan.exists": "da", "measures": ["other", "mixed_seating"],
              "flagged_classes.c12.explanation": "Clasă cu predare în limba maghiară.",
              "flagged_classes.c12.formation_reason": "teaching_language",
              "flagged_classes.c13.explanation": "Transferuri în timpul anului.",
              "flagged_classes.c13.formation_reason": "bogus"}
    result = engine.clean(EXTENDED, values, ctx, mode="submit")
    assert codes(result.errors) == {"plan.date": "required", "measures_other": "required",
                                    "flagged_classes.c13.formation_reason": "choice"}
    assert result.values["measures"] == ["mixed_seating", "other"]
    values.update({"plan.date": "01.09.2025", "measures_other": "Activități comune",
                   "flagged_classes.c13.formation_reason": "transfer"})
    result = engine.clean(EXTENDED, values, ctx, mode="submit")
    assert result.ok and result.values["plan.date"] == "2025-09-01"
    # A class no longer flagged is an unknown field.
    assert codes(engine.validate(EXTENDED, values, {"flagged_classes": [{"key": "c12"}]})) == {
        "flagged_classes.c13.explanation": "unknown_field", "flagged_classes.c13.formation_reason": "unknown_field"}


def test_extended_context_and_bad_items(tree):
    ctx = engine.extended_context([tree.classes["A1.1.0"]])
    assert ctx["flagged_classes"][0]["key"] == f"c{tree.classes['A1.1.0'].id}"
    with pytest.raises(ValueError):
        EXTENDED.concrete_fields({"flagged_classes": [{"key": "bad key"}]})
