"""The segregation-indicators engine pinned on hand-computed cases (arithmetic in the comments), plus properties of
the roll-up. The engine is pure Python: these tests need no database.
"""
from __future__ import annotations

import copy
import json
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forms.indicators import (
    Aggregate, ClassData, IndicatorInputError, RulesetError, UnitData, aggregate_units, alert_score, assess,
    dissimilarity, evaluate_unit, gap_pp, indicators_from_totals, load_ruleset, share, sum_aggregates,
)
from forms.indicators_ruleset import Ruleset, ruleset_document, shipped_rulesets

RS = load_ruleset("segregation", 1)
ROMA, HU = "ethnicity.roma", "ethnicity.hungarian"


@pytest.fixture(autouse=True, scope="module")
def db():
    """Overrides the suite's per-test database transaction: nothing here touches a database."""
    yield None


def counts(N: int, **given) -> dict:
    """A complete class table: every count the ruleset reads is 0 (everyone attended kindergarten) unless given.
    Keyword names use ``__`` for the dot: ``ethnicity__roma=3``."""
    out = {k: 0 for g in RS.groups() for k in g.counts}
    out.update({g.bench: 0 for g in RS.groups() if g.bench})
    out[RS.bench_seats] = 0
    out["attended_kindergarten"] = N
    out.update({k.replace("__", "."): v for k, v in given.items()})
    return out


def klass(id, N, grade=1, building="b1", lang="ro", **given) -> ClassData:
    return ClassData(id, N, counts(N or 0, **given), grade_level=grade, teaching_language=lang, building_id=building)


def unit(*classes, locality_pupils=None, locality=None) -> UnitData:
    return UnitData("u1", tuple(classes), locality_pupils, locality or {})


def item(result, group, level, item_id=None):
    found = result.select(group=group, level=level, item=item_id)
    assert len(found) == 1, found
    return found[0]


def variant(**changes) -> Ruleset:
    """The shipped ruleset with some params changed (nested keys as "a.b")."""
    doc = copy.deepcopy(ruleset_document("segregation", 1))
    for path, value in changes.items():
        target, *rest = path.split("__")
        node = doc["params"]
        for key in [target, *rest][:-1]:
            node = node[key]
        node[[target, *rest][-1]] = value
    return Ruleset.from_document(doc)


# -- the ruleset is data --------------------------------------------------------------------------------------

def test_shipped_ruleset_carries_every_parameter():
    assert ("segregation", 1) in shipped_rulesets()
    assert (RS.key, RS.version) == ("segregation", 1)
    assert RS.predominance_threshold == F(1, 2)
    assert (RS.risk_score_threshold, RS.score_max, RS.missing_data_score) == (5, 10, 10)
    assert (RS.min_pupils, RS.min_group) == (5, 3)
    assert (RS.class_reference, RS.min_parallel_classes) == ("parallel", 2)
    assert RS.levels == ("building", "class", "bench", "locality")
    # the ten criteria of the 2024–2025 round
    assert [c.key for c in RS.criteria] == [
        "ethnicity", "parents_education", "social_scholarship", "single_parent", "disability_sen",
        "residence_other_locality", "institutionalised", "relatives_care", "attended_kindergarten", "repeating"]
    assert RS.group("attended_kindergarten.not_attended").complement
    assert RS.group("parents_education.eight_or_below").counts == (
        "parents_education.eight_grades", "parents_education.below_eight")
    # exemptions only ever name ethnic groups; bilingual codes are split
    assert all(RS.group(g).criterion == "ethnicity" for _, gs in RS.language_exemptions for g in gs)
    assert RS.exempt_groups("ro+hu") == {HU}
    assert RS.exempt_groups("rmy") == {ROMA}
    assert RS.exempt_groups("ro") == frozenset() == RS.exempt_groups(None)


@pytest.mark.parametrize("change, message", [
    ({"predominance_threshold": 1.5}, "predominance_threshold"),
    ({"unit_outcome_precedence": ["risk", "ok"]}, "unit_outcome_precedence"),
    ({"levels": ["class", "floor"]}, "levels"),
    ({"class_reference__mode": "school"}, "class_reference"),
    ({"minority_language_exemptions": {"sr": ["ethnicity.serbian"]}}, "unknown groups"),
    ({"risk_score_threshold": 11}, "risk_score_threshold"),
])
def test_invalid_ruleset_is_refused(change, message):
    with pytest.raises(RulesetError, match=message):
        variant(**change)


def test_a_threshold_change_is_a_data_edit():
    # p_c = 6/10 against p_u = 8/20 = 0.4: predominant under 0.5, not under 0.65
    u = unit(klass("A", 10, ethnicity__roma=6), klass("B", 10, ethnicity__roma=2))
    assert item(evaluate_unit(u, RS), ROMA, "class", "A").outcome == "risk"
    assert item(evaluate_unit(u, variant(predominance_threshold=0.65)), ROMA, "class", "A").outcome == "ok"


# -- formulas -------------------------------------------------------------------------------------------------

def test_share():
    assert share(3, 12) == F(1, 4)
    assert share(0, 7) == 0
    assert share(0, 0) is None and share(5, 0) is None  # an empty population has no share
    assert share(None, 5) is None and share(2, None) is None
    with pytest.raises(ValueError):
        share(6, 5)


def test_gap_in_percentage_points():
    assert gap_pp(F(3, 5), F(2, 5)) == 20  # 100 · (0.6 − 0.4)
    assert gap_pp(0.25, 0.5) == -25
    assert gap_pp(None, 0.5) is None


@pytest.mark.parametrize("p_x, p_ref, expected", [
    (F(3, 5), F(1, 5), 5),  # 10 · 0.4 / 0.8 = 5 exactly
    (F(3, 5), F(2, 5), F(10, 3)),  # 10 · 0.2 / 0.6 = 3.33…
    (F(3, 10), 0, 3),  # p_u = 0: S = 10 · p_c
    (1, F(1, 4), 10),  # a class made up entirely of the group
    (F(1, 4), F(1, 4), 0),  # mirrors the unit
    (F(1, 10), F(1, 4), 0),  # below the unit
    (1, 1, 0),  # p_u = 1: no room above the reference, excess 0, no division
    (F(4, 5), F(3, 5), 5),  # 10 · 0.2 / 0.4
    (None, F(1, 2), None),
])
def test_alert_score(p_x, p_ref, expected):
    assert alert_score(p_x, p_ref, RS) == expected


def test_alert_score_is_exact_where_floats_are_not():
    # In binary floating point 10·(0.6 − 0.2)/(1 − 0.2) = 4.999999999999999: S ≥ 5 would wrongly fail.
    assert 10 * (0.6 - 0.2) / (1 - 0.2) < 5
    assert alert_score(0.6, 0.2, RS) == 5
    assert assess(12, 20, 4, 20, RS).codes == ("predominant", "score_threshold")  # 0.6 vs 0.2


def test_assess_outcomes():
    # predominance alone: p_c = 0.6 > 0.5, p_u = 0.4 ≤ 0.5; S = 10 · 0.2 / 0.6 = 3.33 < 5 — still risk
    a = assess(6, 10, 8, 20, RS)
    assert (a.outcome, a.codes, a.score, a.gap_pp) == ("risk", ("predominant",), F(10, 3), 20)
    # the boundary p_u = 0.5 still counts as "not predominant": p_c = 0.6, S = 10 · 0.1 / 0.5 = 2
    assert assess(12, 20, 20, 40, RS).codes == ("predominant",)
    # score alone needs p_u > 0.5: p_c = 16/20 = 0.8, p_u = 36/60 = 0.6, S = 10 · 0.2 / 0.4 = 5
    a = assess(16, 20, 36, 60, RS)
    assert (a.outcome, a.codes, a.score) == ("risk", ("score_threshold",), 5)
    # both: p_c = 0.8, p_u = 0.4, S = 10 · 0.4 / 0.6 = 6.67
    assert assess(8, 10, 8, 20, RS).codes == ("predominant", "score_threshold")
    # p_c = 0.5 is not "more than half": S = 10 · 0.3 / 0.8 = 3.75 → ok
    a = assess(10, 20, 4, 20, RS)
    assert (a.outcome, a.score) == ("ok", F(15, 4))
    # p_u = 1: every pupil in the group, p_c = 1 is not predominant against it and S = 0
    assert (assess(10, 10, 20, 20, RS).outcome, assess(10, 10, 20, 20, RS).score) == ("ok", 0)


def test_assess_small_numbers_missing_and_exempt():
    # N_c = 4 < 5: insufficient even for a class made up entirely of the group (S = 10 is shown, not flagged)
    a = assess(4, 4, 10, 40, RS)
    assert (a.outcome, a.codes, a.score) == ("insufficient", ("small_numbers", "few_pupils"), 10)
    # n_u = 2 < 3: insufficient
    assert assess(2, 10, 2, 40, RS).codes == ("small_numbers", "few_in_group")
    # the limits are inclusive: N_c = 5 and n_u = 3 are measured
    assert assess(3, 5, 3, 40, RS).outcome == "risk"  # 0.6 vs 0.075
    # p_u = 0: no pupil of the group anywhere → score 0, insufficient (n_u = 0 < 3), never "ok"
    a = assess(0, 20, 0, 60, RS)
    assert (a.outcome, a.score, a.codes) == ("insufficient", 0, ("small_numbers", "few_in_group"))
    # empty class: N = 0 has no share and no score
    a = assess(0, 0, 10, 40, RS)
    assert (a.outcome, a.p, a.score, a.codes) == ("insufficient", None, None, ("small_numbers", "no_pupils"))
    # missing count → score 10, reason missing_data
    a = assess(None, 20, 10, 40, RS)
    assert (a.outcome, a.score, a.codes) == ("missing_data", 10, ("missing_data",))
    # exempt wins over everything, the numbers are still reported
    a = assess(18, 20, 2, 40, RS, exempt=True)
    assert (a.outcome, a.codes, a.score) == ("exempt", ("minority_language",), 10 * (F(9, 10) - F(1, 20)) / F(19, 20))


def test_dissimilarity_textbook_cases():
    # A: 10 of 20, B: 0 of 20 → n_u = 10, others = 30
    # ½ (|10/10 − 10/30| + |0/10 − 20/30|) = ½ (2/3 + 2/3) = 2/3
    assert dissimilarity([(10, 20), (0, 20)]) == F(2, 3)
    assert dissimilarity([(10, 10), (0, 10)]) == 1  # complete separation
    assert dissimilarity([(5, 10), (5, 10)]) == 0  # every class has the unit's mix
    assert dissimilarity([(0, 10), (0, 10)]) is None  # n_u = 0
    assert dissimilarity([(10, 10), (5, 5)]) is None  # N_u − n_u = 0


# -- levels of one unit ---------------------------------------------------------------------------------------

def test_classes_against_parallel_classes_of_the_same_level():
    # grade 1: 1A 8/20, 1B 0/20 → parallel p = 8/40 = 0.2; grade 2: 2A 16/20, 2B 16/20 → parallel p = 0.8;
    # 3A 0/20 is alone in its grade → compared with the unit: 40/100 = 0.4
    u = unit(klass("1A", 20, 1, ethnicity__roma=8), klass("1B", 20, 1),
             klass("2A", 20, 2, ethnicity__roma=16), klass("2B", 20, 2, ethnicity__roma=16), klass("3A", 20, 3))
    r = evaluate_unit(u, RS)
    a = item(r, ROMA, "class", "1A")
    # S = 10 · (0.4 − 0.2) / 0.8 = 2.5
    assert (a.reference, a.n_ref, a.N_ref, a.score, a.outcome) == ("parallel", 8, 40, 2.5, "ok")
    assert (item(r, ROMA, "class", "2A").score, item(r, ROMA, "class", "2A").outcome) == (0, "ok")
    a = item(r, ROMA, "class", "3A")
    assert (a.reference, a.n_ref, a.N_ref) == ("unit", 40, 100)
    assert r.summary("ethnicity", "class").outcome == "ok"
    # against the whole unit (p_u = 0.4), 2A (0.8) would be at risk: S = 10 · 0.4 / 0.6 = 6.67, predominant
    a = item(evaluate_unit(u, variant(class_reference__mode="unit")), ROMA, "class", "2A")
    assert (a.reference, a.outcome, a.codes) == ("unit", "risk", ("predominant", "score_threshold"))
    assert a.score == pytest.approx(20 / 3)


def test_buildings_against_the_unit_and_unit_score_is_the_max():
    # building X: 14/20 + 14/20 = 28/40 = 0.7; building Y: 2/20 + 0/20 = 2/40; unit 30/80 = 3/8
    # S_X = 10 · (7/10 − 3/8) / (5/8) = 10 · (13/40) / (25/40) = 5.2 → risk (predominant and score)
    u = unit(klass("A", 20, 1, "X", ethnicity__roma=14), klass("B", 20, 2, "X", ethnicity__roma=14),
             klass("C", 20, 3, "Y", ethnicity__roma=2), klass("D", 20, 4, "Y"))
    r = evaluate_unit(u, RS)
    x, y = item(r, ROMA, "building", "X"), item(r, ROMA, "building", "Y")
    assert (x.n, x.N, x.n_ref, x.N_ref, x.p, x.p_ref) == (28, 40, 30, 80, 0.7, 0.375)
    assert (x.score, x.gap_pp, x.outcome, x.codes) == (pytest.approx(5.2), pytest.approx(32.5), "risk",
                                                       ("predominant", "score_threshold"))
    assert (y.score, y.outcome) == (0, "ok")
    s = r.summary("ethnicity", "building")
    assert (s.score, s.outcome, s.flagged) == (pytest.approx(5.2), "risk", ((ROMA, "X"),))
    # classes A and B (each 0.7 against the unit's 3/8) score 5.2 as well; the unit's class score is the max
    assert r.summary("ethnicity", "class").score == pytest.approx(5.2)
    at_risk = {(i.level, i.item) for i in r.flagged if i.outcome == "risk"}
    assert r.at_risk and at_risk == {("building", "X"), ("class", "A"), ("class", "B")}


def test_last_two_benches_against_the_class():
    # class A: 6 Roma of 24 (p_c = 1/4); its last two benches: 6 of 8 seats (3/4)
    # S = 10 · (3/4 − 1/4) / (3/4) = 20/3 = 6.67 → risk, predominant (3/4 > 0.5 while 1/4 ≤ 0.5)
    u = unit(klass("A", 24, 1, ethnicity__roma=6, last_benches__seats=8, last_benches__ethnicity__roma=6),
             klass("B", 24, 2, ethnicity__roma=6, last_benches__seats=8, last_benches__ethnicity__roma=2))
    r = evaluate_unit(u, RS)
    a = item(r, ROMA, "bench", "A")
    assert (a.reference, a.n, a.N, a.n_ref, a.N_ref) == ("class", 6, 8, 6, 24)
    assert (a.score, a.outcome, a.codes) == (pytest.approx(20 / 3), "risk", ("predominant", "score_threshold"))
    assert item(r, ROMA, "bench", "B").score == 0  # 2/8 = 1/4 = p_c
    assert item(r, ROMA, "class", "A").outcome == "ok"  # the class itself mirrors the unit (12/48)
    assert r.summary("ethnicity", "bench").outcome == "risk"
    # fewer than 5 seats recorded: insufficient
    u = unit(klass("A", 20, ethnicity__roma=5, last_benches__seats=4, last_benches__ethnicity__roma=4))
    assert item(evaluate_unit(u, RS), ROMA, "bench", "A").outcome == "insufficient"
    # bench counts that cannot be true are an input error, not a silent result
    with pytest.raises(IndicatorInputError):
        evaluate_unit(unit(klass("A", 20, ethnicity__roma=5, last_benches__seats=4, last_benches__ethnicity__roma=5)))
    with pytest.raises(IndicatorInputError):
        evaluate_unit(unit(klass("A", 20, ethnicity__roma=2, last_benches__seats=8, last_benches__ethnicity__roma=3)))


def test_minority_language_class_is_exempt_on_its_own_group_only():
    # grade 1: 1A (ro) HU 2 / Roma 2, 1B (hu) HU 12 / Roma 8, 1C (ro) HU 1 / Roma 2, 20 pupils each
    def build(lang_b):
        return unit(klass("1A", 20, ethnicity__hungarian=2, ethnicity__roma=2),
                    klass("1B", 20, lang=lang_b, ethnicity__hungarian=12, ethnicity__roma=8),
                    klass("1C", 20, ethnicity__hungarian=1, ethnicity__roma=2))

    r = evaluate_unit(build("hu"), RS)
    b = item(r, HU, "class", "1B")
    assert (b.outcome, b.codes) == ("exempt", ("minority_language",))
    # 1B is left out of the Hungarian reference: 1A is compared with 1A + 1C = 3/40, not 15/60
    a = item(r, HU, "class", "1A")
    assert (a.reference, a.n_ref, a.N_ref, a.outcome) == ("parallel", 3, 40, "ok")
    assert r.summary("ethnicity", "class").outcome == "ok"
    # the Roma pupils of the Hungarian-language class are assessed as usual: 8/20 against 12/60,
    # S = 10 · (0.4 − 0.2) / 0.8 = 2.5
    roma = item(r, ROMA, "class", "1B")
    assert (roma.outcome, roma.n_ref, roma.N_ref, roma.score) == ("ok", 12, 60, 2.5)
    # bilingual teaching counts too
    assert item(evaluate_unit(build("ro+hu"), RS), HU, "class", "1B").outcome == "exempt"
    # taught in Romanian, the same class is predominantly Hungarian: 12/20 = 0.6 against 15/60 = 0.25,
    # S = 10 · 0.35 / 0.75 = 4.67 < 5, flagged as predominant
    b = item(evaluate_unit(build("ro"), RS), HU, "class", "1B")
    assert (b.outcome, b.codes, b.score) == ("risk", ("predominant",), pytest.approx(14 / 3))


def test_missing_values_score_10_and_are_told_apart_from_risk():
    # 1A has no Roma count; 1B 4/20, 1C 6/20 → reference from the classes with data: 10/40
    u = unit(klass("1A", 20, ethnicity__roma=None), klass("1B", 20, ethnicity__roma=4),
             klass("1C", 20, ethnicity__roma=6))
    r = evaluate_unit(u, RS)
    a = item(r, ROMA, "class", "1A")
    assert (a.outcome, a.score, a.codes) == ("missing_data", 10, ("missing_data",))
    b = item(r, ROMA, "class", "1B")
    assert (b.n_ref, b.N_ref, b.outcome) == (10, 40, "ok")  # 0.2 against 0.25
    assert item(r, ROMA, "building", "b1").outcome == "missing_data"  # its share is unknown
    assert item(r, ROMA, "locality", "u1").outcome == "missing_data"
    s = r.summary("ethnicity", "class")
    assert (s.outcome, s.score, s.flagged) == ("missing_data", 10, ((ROMA, "1A"),))
    assert not r.at_risk and r.aggregate.units_with_missing_data == 1
    assert r.dissimilarity[ROMA].status == "missing_data" and r.dissimilarity[ROMA].missing == 1
    assert r.aggregate.groups[ROMA] == {"n": 10, "N": 40, "missing": 1}
    # other criteria are untouched
    assert r.summary("single_parent", "class").outcome == "insufficient"  # no single-parent pupils: n_u = 0
    # an unknown class size makes every group of the class missing
    r = evaluate_unit(unit(klass("1A", None), klass("1B", 20)), RS)
    assert {i.outcome for i in r.select(level="class", item="1A")} == {"missing_data"}


def test_small_numbers_are_insufficient_never_safe():
    # a 4-pupil class made up entirely of the group: S = 10 but N_c < 5 → insufficient
    u = unit(klass("A", 4, 1, ethnicity__roma=4), klass("B", 20, 2, ethnicity__roma=1), klass("C", 20, 3))
    r = evaluate_unit(u, RS)
    a = item(r, ROMA, "class", "A")
    assert (a.outcome, a.score) == ("insufficient", 10)
    # the other classes are measured (n_u = 5) and ok, but the unit is not declared ok
    assert item(r, ROMA, "class", "C").outcome == "ok"
    s = r.summary("ethnicity", "class")
    assert (s.outcome, s.items["insufficient"] >= 1) == ("insufficient", True)
    assert s.score == 0  # an insufficient item's score is not the unit's score
    # two Roma pupils in the whole unit: n_u = 2 < 3 → every class insufficient
    r = evaluate_unit(unit(klass("A", 20, ethnicity__roma=2), klass("B", 20)), RS)
    assert {i.outcome for i in r.select(group=ROMA, level="class")} == {"insufficient"}


def test_p_u_zero_and_p_u_one():
    # no Roma pupil: p_u = 0, every class S = 0, insufficient (n_u = 0 < 3)
    r = evaluate_unit(unit(klass("A", 20), klass("B", 20)), RS)
    assert {(i.score, i.outcome) for i in r.select(group=ROMA, level="class")} == {(0, "insufficient")}
    assert r.dissimilarity[ROMA].value is None and r.dissimilarity[ROMA].status == "insufficient"
    # every pupil Roma: p_u = 1, p_c = 1 is neither above the unit nor "predominant while the unit is not"
    r = evaluate_unit(unit(klass("A", 10, ethnicity__roma=10), klass("B", 10, ethnicity__roma=10)), RS)
    assert {(i.score, i.outcome) for i in r.select(group=ROMA, level="class")} == {(0, "ok")}
    assert r.dissimilarity[ROMA].value is None  # N_u − n_u = 0


def test_empty_class():
    # an empty class has no share and no score; it changes neither the reference nor D
    u = unit(klass("A", 20, ethnicity__roma=10), klass("B", 20), klass("E", 0))
    r = evaluate_unit(u, RS)
    e = item(r, ROMA, "class", "E")
    assert (e.N, e.p, e.score, e.outcome) == (0, None, None, "insufficient")
    a = item(r, ROMA, "class", "A")
    assert (a.n_ref, a.N_ref) == (10, 40)
    assert r.dissimilarity[ROMA].value == pytest.approx(2 / 3)  # the textbook case plus a zero class
    # and the unit's class score is the max over the measured classes: A at 0.5 vs 0.25, S = 10 · 0.25/0.75
    assert r.summary("ethnicity", "class").score == pytest.approx(10 / 3)
    # an empty class has nothing to measure: it does not make the unit "insufficient" (nor do the absent groups)
    assert r.summary("ethnicity", "class").outcome == "ok"


def test_attended_kindergarten_counts_those_who_did_not():
    # A: 20 pupils, 5 attended → 15 did not; B: 20 pupils, 19 attended → 1 did not; reference 16/40 = 0.4
    # S_A = 10 · (0.75 − 0.4) / 0.6 = 5.83 → risk
    u = unit(klass("A", 20, attended_kindergarten=5), klass("B", 20, attended_kindergarten=19))
    r = evaluate_unit(u, RS)
    a = item(r, "attended_kindergarten.not_attended", "class", "A")
    assert (a.n, a.N, a.n_ref, a.N_ref) == (15, 20, 16, 40)
    assert (a.score, a.outcome) == (pytest.approx(35 / 6), "risk")
    assert r.aggregate.groups["attended_kindergarten.not_attended"] == {"n": 16, "N": 40, "missing": 0}


def test_parents_education_groups():
    # "at most 8 grades" sums two counts: A 3 + 9 = 12 of 20; B 1 + 2 = 3 of 20 → reference 15/40
    u = unit(klass("A", 20, 1, parents_education__below_eight=3, parents_education__eight_grades=9),
             klass("B", 20, 2, parents_education__below_eight=1, parents_education__eight_grades=2))
    r = evaluate_unit(u, RS)
    a = item(r, "parents_education.eight_or_below", "class", "A")
    assert (a.n, a.n_ref, a.N_ref) == (12, 15, 40)
    # 0.6 against 0.375: predominant; S = 10 · 0.225 / 0.625 = 3.6
    assert (a.outcome, a.score) == ("risk", pytest.approx(3.6))
    # "neither parent with 8 grades": 3/20 against 4/40, S = 10 · 0.05 / 0.9 = 0.56
    assert item(r, "parents_education.below_eight", "class", "A").outcome == "ok"


def test_unit_against_the_locality():
    # unit: 15 Roma of 60 = 0.25; locality: 100 of 1000 school-age children = 0.1
    # gap 15 points, S = 10 · 0.15 / 0.9 = 1.67 → ok
    u = unit(klass("A", 20, 1, ethnicity__roma=5), klass("B", 20, 2, ethnicity__roma=5),
             klass("C", 20, 3, ethnicity__roma=5), locality_pupils=1000,
             locality={"locality.ethnicity.roma": 100, "locality.ethnicity.hungarian": 0})
    r = evaluate_unit(u, RS)
    a = item(r, ROMA, "locality", "u1")
    assert (a.p, a.p_ref, a.gap_pp, a.score, a.outcome) == (0.25, 0.1, pytest.approx(15), pytest.approx(5 / 3),
                                                             "ok")
    # the locality reports no Hungarians: n_ref = 0 < 3 → insufficient; a group it does not report: missing
    assert item(r, HU, "locality", "u1").outcome == "insufficient"
    assert item(r, "ethnicity.german", "locality", "u1").outcome == "missing_data"
    # only the ethnic criterion is compared with the locality
    assert ("ethnicity", "locality") in r.summaries and ("single_parent", "locality") not in r.summaries


def test_unit_result_serialises():
    u = unit(klass("A", 20, ethnicity__roma=10), klass("B", 20), locality_pupils=100, locality={"locality." + ROMA: 10})
    data = json.loads(json.dumps(evaluate_unit(u, RS).to_dict()))
    assert data["ruleset"] == {"key": "segregation", "version": 1}
    assert Aggregate.from_dict(data["aggregate"]) == evaluate_unit(u, RS).aggregate


# -- roll-up --------------------------------------------------------------------------------------------------

def test_indicators_from_totals_against_a_reference():
    # school: 10 Roma of 40; county: 30 of 200 → share 0.25 vs 0.15, gap 10 points, S = 10 · 0.1 / 0.85 = 1.18
    school = aggregate_units([unit(klass("A", 20, ethnicity__roma=8), klass("B", 20, ethnicity__roma=2))], RS)
    other = aggregate_units([unit(klass("C", 80, ethnicity__roma=20), klass("D", 80))], RS)
    county = school + other
    out = indicators_from_totals(school, RS, reference=county)
    g = out["groups"][ROMA]
    assert (g["n"], g["N"], g["share"], g["reference_share"]) == (10, 40, 0.25, 0.15)
    assert (g["gap_pp"], g["score"]) == (pytest.approx(10), pytest.approx(10 / 8.5))
    top = indicators_from_totals(county, RS)
    assert top["units"] == 2 and top["groups"][ROMA]["share"] == 30 / 200
    assert sum(top["criteria"]["ethnicity"]["class"]["units"].values()) == 2


def test_aggregates_of_different_rulesets_do_not_add():
    a = Aggregate(ruleset=("segregation", 1), units=1)
    with pytest.raises(RulesetError):
        a + Aggregate(ruleset=("segregation", 2), units=1)
    assert Aggregate() + a == a == a + Aggregate() == sum([a])


ETHNIC = [k for g in RS.criterion("ethnicity").groups for k in g.counts]
SINGLE = ["social_scholarship", "single_parent", "disability_sen", "residence_other_locality",
          "institutionalised", "relatives_care", "repeating"]


@st.composite
def classes(draw, idx):
    def maybe(value):
        return None if draw(st.integers(0, 24)) == 0 else value

    N = None if draw(st.integers(0, 14)) == 0 else draw(st.integers(0, 30))
    cap = 30 if N is None else N
    c, left = {}, cap
    for key in ETHNIC:
        v = draw(st.integers(0, left))
        left -= v
        c[key] = maybe(v)
    below = draw(st.integers(0, cap))
    c["parents_education.below_eight"] = maybe(below)
    c["parents_education.eight_grades"] = maybe(draw(st.integers(0, cap - below)))
    for key in SINGLE + ["attended_kindergarten"]:
        c[key] = maybe(draw(st.integers(0, cap)))
    seats = draw(st.integers(0, 10))
    c[RS.bench_seats] = maybe(seats)
    for g in RS.groups():
        if g.bench:
            n_class = c[g.counts[0]] if N is not None else 0
            c[g.bench] = maybe(draw(st.integers(0, min(seats, n_class or 0))))
    return ClassData(f"c{idx}", N, c, grade_level=draw(st.integers(1, 3)),
                     teaching_language=draw(st.sampled_from(["ro", "hu", "ro+hu", None])),
                     building_id=draw(st.sampled_from(["x", "y", None])))


@st.composite
def units(draw):
    n_classes = draw(st.integers(0, 5))
    total = draw(st.integers(0, 500))
    return UnitData(f"u{draw(st.integers(0, 10 ** 6))}", tuple(draw(classes(i)) for i in range(n_classes)),
                    locality_pupils=total, locality_counts={"locality." + ROMA: draw(st.integers(0, total))})


def raw_group_totals(all_units, group):
    """n and N of a group straight from the class tables (the definition, written independently)."""
    n = N = 0
    for u in all_units:
        for c in u.classes:
            values = [c.counts.get(k) for k in group.counts]
            if c.pupils is None or None in values:
                continue
            n += c.pupils - sum(values) if group.complement else sum(values)
            N += c.pupils
    return n, N


@settings(max_examples=60, deadline=None)
@given(st.lists(units(), max_size=6), st.data())
def test_roll_up_is_a_sum_of_children(all_units, data):
    per_unit = [evaluate_unit(u, RS).aggregate for u in all_units]
    at_once = aggregate_units(all_units, RS)
    # split the units among children (schools), and the children among two parents (counties)
    owner = [data.draw(st.integers(0, 2)) for _ in all_units]
    children = [sum_aggregates(a for a, o in zip(per_unit, owner, strict=True) if o == k) for k in range(3)]
    assert sum_aggregates(children) == at_once
    assert (children[0] + children[1]) + children[2] == children[0] + (children[1] + children[2])
    assert children[2] + children[0] + children[1] == at_once
    assert Aggregate.from_dict(json.loads(json.dumps(at_once.to_dict()))) == at_once
    # shares at the parent are summed n / summed N from the raw class tables
    out = indicators_from_totals(at_once, RS)
    for g in RS.groups():
        n, N = raw_group_totals(all_units, g)
        assert (out["groups"][g.id]["n"], out["groups"][g.id]["N"]) == (n, N)
        assert out["groups"][g.id]["share"] == (None if N == 0 else n / N)
    # every unit appears once in the outcome distribution of every criterion and level
    assert out["units"] == len(all_units)
    for per_level in out["criteria"].values():
        for level in per_level.values():
            assert sum(level["units"].values()) == len(all_units)
            assert sum(level["scores"].values()) == len(all_units)
    assert out["units_at_risk"] == sum(evaluate_unit(u, RS).at_risk for u in all_units)


# -- agreement with the built-in form definitions (read as plain JSON) ---------------------------------------

BUILTIN = Path(__file__).resolve().parents[2] / "forms" / "builtin"


def _builtin(name: str) -> dict:
    path = BUILTIN / name
    if not path.is_file():
        pytest.skip(f"{name} is not there yet")
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_count_the_ruleset_reads_is_a_class_table_field():
    table = _builtin("segregation.class_table.v1.json")
    fields = {f["key"] for s in table["sections"] for f in s["fields"] if f.get("type") == "integer"}
    read = {k for g in RS.groups() for k in g.counts} | {g.bench for g in RS.groups() if g.bench} | {RS.bench_seats}
    assert read <= fields, sorted(read - fields)


def test_every_locality_count_the_ruleset_reads_is_a_unit_form_field():
    form = _builtin("segregation.unit_form.v1.json")
    fields = {f["key"] for s in form["sections"] for f in s["fields"]}
    read = {RS.locality_prefix + k for c in RS.criteria if c.locality for g in c.groups for k in g.counts}
    assert read <= fields, sorted(read - fields)


def test_minority_language_exemptions_cover_the_teaching_language_nomenclature():
    languages = _builtin("nomenclatures/teaching_languages.json")["items"]
    for lang in languages:
        ethnicity = (lang.get("data") or {}).get("ethnicity")
        assert RS.exempt_groups(lang["code"]) == ({f"ethnicity.{ethnicity}"} if ethnicity else set()), lang["code"]
