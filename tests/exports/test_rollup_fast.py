"""The aggregate-only evaluator of the full recomputation (exports.rollup_fast) equals the indicator engine's
aggregate on random units — gaps, contradictions, minority languages, parallel classes, buildings, locality
counts — under the shipped ruleset and under a variant with other thresholds and fractional parameters. Pure
Python: no database."""
from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.rollup_fast import Rules, unit_aggregate
from forms.indicators import ClassData, IndicatorInputError, UnitData, evaluate_unit
from forms.indicators_ruleset import Ruleset, load_ruleset, ruleset_document

SHIPPED = load_ruleset("segregation", 1)


def variant() -> Ruleset:
    params = ruleset_document("segregation", 1)["params"]
    params = {**params, "score_max": 7.5, "risk_score_threshold": 2.5, "predominance_threshold": 0.4,
              "missing_data_score": 6.5, "small_numbers": {"min_pupils": 3, "min_group": 1},
              "class_reference": {"mode": "parallel", "min_parallel_classes": 3}}
    return Ruleset.from_params(params, key="segregation-test", version=9)


RULESETS = (SHIPPED, variant())
KEYS = sorted({k for g in SHIPPED.groups() for k in (*g.counts, *((g.bench,) if g.bench else ()))}
              | {SHIPPED.bench_seats})
LOCALITY = sorted({SHIPPED.locality_prefix + k for c in SHIPPED.criteria if c.locality for g in c.groups
                   for k in g.counts})

small = st.one_of(st.none(), st.integers(0, 12), st.integers(0, 3))


@st.composite
def classes(draw, i):
    pupils = draw(st.one_of(st.none(), st.integers(0, 30), st.integers(0, 8)))
    counts = {k: draw(small) for k in KEYS}
    if draw(st.booleans()):  # fitting counts: every group at most half the class, so sums of two still fit
        half = (pupils or 0) // 2
        counts = {k: (None if v is None else draw(st.integers(0, half))) for k, v in counts.items()}
        if draw(st.booleans()) and pupils:  # a class concentrating the Roma pupils
            counts["ethnicity.roma"] = draw(st.integers(half, pupils))
    return ClassData(id=i, pupils=pupils, counts=counts, grade_level=draw(st.sampled_from([None, 1, 1, 2, 5])),
                     teaching_language=draw(st.sampled_from([None, "ro", "hu", "rom", "ro+hu", "de"])),
                     building_id=draw(st.sampled_from([None, "A", "A", "B"])))


@st.composite
def units(draw):
    n = draw(st.integers(0, 7))
    cls = tuple(draw(classes(i)) for i in range(n))
    locality_pupils = draw(st.one_of(st.none(), st.integers(0, 400)))
    locality = {k: draw(st.one_of(st.none(), st.integers(0, 60))) for k in LOCALITY}
    return UnitData(id="u", classes=cls, locality_pupils=locality_pupils, locality_counts=locality)


def engine_or_error(unit, rs):
    try:
        return evaluate_unit(unit, rs).aggregate
    except (IndicatorInputError, ValueError) as e:
        return type(e)


def fast_or_error(unit, rs):
    try:
        return unit_aggregate(unit, rs, Rules(rs))
    except (IndicatorInputError, ValueError) as e:
        return type(e)


@settings(max_examples=800, deadline=None)
@given(unit=units(), which=st.sampled_from([0, 1]))
def test_the_fast_aggregate_equals_the_engine(unit, which):
    rs = RULESETS[which]
    assert fast_or_error(unit, rs) == engine_or_error(unit, rs)


def test_hand_picked_edges_agree():
    """Scores exactly on the threshold, at the cap, a class that is the whole group, an empty unit."""
    def cls(i, pupils, roma, grade=1, lang="ro", seats=6, bench=0):
        counts = {k: 0 for k in KEYS}
        counts.update({"ethnicity.roma": roma, SHIPPED.bench_seats: seats, "last_benches.ethnicity.roma": bench,
                       "attended_kindergarten": pupils})
        return ClassData(i, pupils, counts, grade, lang, "A")
    cases = [
        UnitData("empty"),
        UnitData("half", (cls(1, 20, 10), cls(2, 20, 0))),  # p_c = 0.5, p_u = 0.25: score 3.33, not predominant
        UnitData("cap", (cls(1, 10, 10), cls(2, 10, 0, bench=0))),  # a class made only of the group: 10
        UnitData("threshold", (cls(1, 12, 9, grade=2), cls(2, 12, 3, grade=2))),  # S = 10 * (0.75-0.5)/0.5 = 5
        UnitData("exempt", (cls(1, 10, 10, lang="rom"), cls(2, 10, 0))),
        UnitData("below", (cls(1, 10, 5), cls(2, 40, 0))),  # p_c = 0.5, p_u = 0.1: S = 4.44, ok
    ]
    for unit in cases:
        for rs in RULESETS:
            fast = fast_or_error(unit, rs)
            assert fast == engine_or_error(unit, rs), unit.id
    threshold = unit_aggregate(cases[3], SHIPPED)
    assert threshold.outcomes["ethnicity"]["class"] == {"risk": 1}
    assert threshold.scores["ethnicity"]["class"] == {"5": 1}
    assert Fraction(SHIPPED.risk_score_threshold) == 5
    below = unit_aggregate(cases[5], SHIPPED)
    assert below.outcomes["ethnicity"]["class"] == {"ok": 1} and below.scores["ethnicity"]["class"] == {"4": 1}


def test_contradictions_raise_like_the_engine():
    bad = UnitData("bad", (ClassData(1, 10, {"ethnicity.roma": 11}),))
    with pytest.raises(IndicatorInputError):
        unit_aggregate(bad, SHIPPED)
    with pytest.raises(IndicatorInputError):
        evaluate_unit(bad, SHIPPED)


@settings(max_examples=60, deadline=None)
@given(many=st.lists(units(), max_size=6))
def test_summing_in_place_equals_the_monoid(many):
    from exports.rollup_fast import sum_into
    from forms.indicators_rollup import Aggregate, sum_aggregates
    aggs = [a for a in (engine_or_error(u, SHIPPED) for u in many) if isinstance(a, Aggregate)]
    zero = Aggregate(ruleset=(SHIPPED.key, SHIPPED.version))
    assert sum_into(aggs, zero) == sum_aggregates([zero, *aggs])
