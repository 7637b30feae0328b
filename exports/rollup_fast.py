"""A unit's summable :class:`~forms.indicators_rollup.Aggregate` without the item results: what the full
recomputation (:func:`exports.rollup.recompute`, :func:`exports.rollup.check`) needs for 17,000 units.

:func:`forms.indicators.evaluate_unit` builds every item (shares, gaps and scores as exact fractions, explanation
codes) for the reports; the aggregate only needs, per criterion and level, the outcome by precedence and the floor
of the maximum score. This module computes exactly those with integer cross-multiplication (``n/N > a/b`` as
``n*b > a*N``), following the engine's rules step by step, so it is exact too and several times faster. It is a
second implementation on purpose: :func:`exports.rollup.check` compares snapshots written with the engine against
recomputations made with this, and ``tests/exports/test_rollup_fast.py`` holds the two equal on random units
(including the contradictions the engine refuses with :class:`~forms.indicators.IndicatorInputError`, raised here
under the same conditions).
"""
from __future__ import annotations

from fractions import Fraction

from forms.indicators import IndicatorInputError, UnitData
from forms.indicators_rollup import Aggregate
from forms.indicators_ruleset import Ruleset

_SCORED = ("risk", "ok", "missing_data")


class Rules:
    """The ruleset's thresholds as integer ratios (numerator, denominator)."""

    def __init__(self, rs: Ruleset):
        self.rs = rs
        self._exempt: dict[str | None, frozenset[str]] = {}
        self.m = Fraction(rs.score_max)
        self.t = Fraction(rs.risk_score_threshold)
        self.pred = Fraction(rs.predominance_threshold)
        self.missing_bucket = int(Fraction(rs.missing_data_score) // 1)

    def exempt_groups(self, language: str | None) -> frozenset[str]:
        out = self._exempt.get(language)
        if out is None:
            out = self._exempt[language] = self.rs.exempt_groups(language)
        return out

    def assess(self, n, N, r, R, exempt: bool = False) -> tuple[str, int | None, bool]:
        """(outcome, floor of the score or None, "nothing to measure") of one item, as forms.indicators_formulas.
        assess decides it."""
        rs = self.rs
        for x, y in ((n, N), (r, R)):
            if x is not None and y is not None and y != 0 and (x < 0 or y < 0 or x > y):
                raise ValueError(f"share: need 0 <= n <= N, got n={x}, N={y}")
        if exempt:
            return "exempt", None, False
        if n is None or N is None or r is None or R is None:
            return "missing_data", self.missing_bucket, False
        if N < rs.min_pupils or r < rs.min_group or N == 0 or R == 0:
            nothing = N == 0 or r < rs.min_group or R == 0
            return "insufficient", None, nothing
        # excess = n/N - r/R = (n*R - r*N) / (N*R); score = min(M, M * excess / (1 - r/R))
        num, den = n * R - r * N, N * (R - r)
        m, t, pred = self.m, self.t, self.pred
        if num <= 0:
            floor, at_threshold = 0, t <= 0
        else:
            # M * num / den as a fraction of integers: m.numerator * num / (m.denominator * den)
            a, b = m.numerator * num, m.denominator * den
            capped = a * m.denominator >= m.numerator * b  # M * ratio >= M
            floor = int(m // 1) if capped else a // b
            at_threshold = (m >= t) if capped else a * t.denominator >= t.numerator * b
        predominant = n * pred.denominator > pred.numerator * N and r * pred.denominator <= pred.numerator * R
        return ("risk" if predominant or at_threshold else "ok"), floor, False


def _count(cls, group) -> tuple[int, int] | None:
    if cls.pupils is None:
        return None
    values = [cls.counts.get(k) for k in group.counts]
    if any(v is None for v in values):
        return None
    total = sum(values)
    n = cls.pupils - total if group.complement else total
    if cls.pupils < 0 or not 0 <= n <= cls.pupils:
        raise IndicatorInputError(f"class {cls.id!r}: {group.id} = {n} does not fit a class of {cls.pupils}")
    return n, cls.pupils


def unit_aggregate(unit: UnitData, rs: Ruleset, rules: Rules | None = None) -> Aggregate:
    """``evaluate_unit(unit, rs).aggregate``, computed without the item results (same value, same errors)."""
    rules = rules or Rules(rs)
    classes = unit.classes
    idx = range(len(classes))
    outcomes: dict[str, dict[str, dict[str, int]]] = {}
    scores: dict[str, dict[str, dict[str, int]]] = {}
    groups_total: dict[str, dict[str, int]] = {}
    bench_total: dict[str, dict[str, int]] = {}
    any_missing = any_risk = False
    exempt_of = [rules.exempt_groups(c.teaching_language) for c in classes]
    for criterion in rs.criteria:
        per_level: dict[str, list[tuple[str, int | None, bool]]] = {}
        for group in criterion.groups:
            pair = [_count(c, group) for c in classes]
            exempt = {i for i in idx if group.id in exempt_of[i]}
            population = [i for i in idx if i not in exempt]
            known = [i for i in population if pair[i] is not None]
            n_u = sum(pair[i][0] for i in known)
            N_u = sum(pair[i][1] for i in known)
            if rs.level_applies(criterion, "building"):
                items = per_level.setdefault("building", [])
                members_of: dict = {}
                for i, c in enumerate(classes):
                    members_of.setdefault(c.building_id, []).append(i)
                for building_id, members in members_of.items():
                    compared = [i for i in members if i not in exempt]
                    pairs = [pair[i] for i in compared or members]
                    if building_id is None or None in pairs:
                        n = N = None
                    else:
                        n, N = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
                    items.append(rules.assess(n, N, n_u, N_u, exempt=not compared))
            if rs.level_applies(criterion, "class"):
                items = per_level.setdefault("class", [])
                by_grade: dict = {}
                for k in known:
                    g = classes[k].grade_level
                    s = by_grade.setdefault(g, [0, 0, set()])
                    s[0] += pair[k][0]
                    s[1] += pair[k][1]
                    s[2].add(k)
                for i, c in enumerate(classes):
                    r, R = n_u, N_u
                    if rs.class_reference == "parallel" and c.grade_level is not None:
                        s = by_grade.get(c.grade_level, [0, 0, set()])
                        if len(s[2] | {i}) >= rs.min_parallel_classes:
                            r, R = s[0], s[1]
                    n, N = pair[i] or (None, c.pupils)
                    items.append(rules.assess(n, N, r, R, exempt=i in exempt))
            if rs.level_applies(criterion, "bench") and group.bench:
                items = per_level.setdefault("bench", [])
                for i, c in enumerate(classes):
                    seats, seated = c.counts.get(rs.bench_seats), c.counts.get(group.bench)
                    r, R = pair[i] or (None, c.pupils)
                    if seats is not None and seated is not None and not 0 <= seated <= seats:
                        raise IndicatorInputError(f"class {c.id!r}: {seated} of {group.id} on {seats} seats")
                    if seated is not None and r is not None and seated > r:
                        raise IndicatorInputError(f"class {c.id!r}: {seated} of {group.id} on the benches")
                    items.append(rules.assess(seated, seats, r, R))
            if rs.level_applies(criterion, "locality"):
                loc_exempt = not population and bool(classes)
                if loc_exempt:
                    known_pairs = [p for p in pair if p is not None]
                    n, N = sum(p[0] for p in known_pairs), sum(p[1] for p in known_pairs)
                elif len(known) < len(population):
                    n = N = None
                else:
                    n, N = n_u, N_u
                r, R = _locality(unit, group, rs)
                per_level.setdefault("locality", []).append(rules.assess(n, N, r, R, exempt=loc_exempt))
            gp = [p for p in pair if p is not None]
            groups_total[group.id] = {"n": sum(p[0] for p in gp), "N": sum(p[1] for p in gp),
                                      "missing": len(pair) - len(gp)}
            if group.bench:
                bt = {"n": 0, "N": 0, "class_n": 0, "class_N": 0, "missing": 0}
                for c, p in zip(classes, pair, strict=True):
                    seats, seated = c.counts.get(rs.bench_seats), c.counts.get(group.bench)
                    if seats is None or seated is None or p is None:
                        bt["missing"] += 1
                        continue
                    bt["n"] += seated
                    bt["N"] += seats
                    bt["class_n"] += p[0]
                    bt["class_N"] += p[1]
                bench_total[group.id] = bt
        for level in rs.levels:
            if not rs.level_applies(criterion, level):
                continue
            items = per_level.get(level, [])
            outcome, bucket = _summary(items, rs)
            any_risk = any_risk or outcome == "risk"
            any_missing = any_missing or any(o == "missing_data" for o, _, _ in items)
            outcomes.setdefault(criterion.key, {})[level] = {outcome: 1}
            scores.setdefault(criterion.key, {})[level] = {bucket: 1}
    known_pupils = [c.pupils for c in classes if c.pupils is not None]
    return Aggregate(ruleset=(rs.key, rs.version), units=1, classes=len(classes), pupils=sum(known_pupils),
                     classes_missing_pupils=len(classes) - len(known_pupils), units_at_risk=int(any_risk),
                     units_with_missing_data=int(any_missing), groups=groups_total, bench=bench_total,
                     outcomes=outcomes, scores=scores)


def _summary(items: list[tuple[str, int | None, bool]], rs: Ruleset) -> tuple[str, str]:
    if not items:
        return "insufficient", "none"
    considered = {o for o, _, nothing in items if o != "insufficient" or not nothing}
    outcome = next((o for o in rs.unit_outcome_precedence if o in considered), "insufficient")
    floors = [f for o, f, _ in items if o in _SCORED and f is not None]
    return outcome, str(max(floors)) if floors else "none"


def _locality(unit: UnitData, group, rs: Ruleset) -> tuple[int | None, int | None]:
    N = unit.locality_pupils
    values = [unit.locality_counts.get(rs.locality_prefix + k) for k in group.counts]
    if N is None or None in values:
        return None, N
    n = N - sum(values) if group.complement else sum(values)
    if not 0 <= n <= N:
        raise IndicatorInputError(f"unit {unit.id!r}: locality {group.id} = {n} of {N}")
    return n, N


_COUNTERS = ("units", "classes", "pupils", "classes_missing_pupils", "units_at_risk", "units_with_missing_data")
_TABLES = ("groups", "bench", "outcomes", "scores")


def _add_into(target: dict, source: dict) -> None:
    for key, value in source.items():
        if type(value) is dict:
            _add_into(target.setdefault(key, {}), value)
        else:
            target[key] = target.get(key, 0) + value


def sum_into(aggregates, zero: Aggregate) -> Aggregate:
    """``sum_aggregates([zero, *aggregates])`` accumulated in place (one pass, no intermediate aggregates)."""
    counters = dict.fromkeys(_COUNTERS, 0)
    tables: dict[str, dict] = {name: {} for name in _TABLES}
    ruleset = zero.ruleset
    for agg in aggregates:
        if agg.ruleset is not None and ruleset is not None and agg.ruleset != ruleset:
            raise ValueError(f"cannot add aggregates of rulesets {ruleset} and {agg.ruleset}")
        ruleset = ruleset or agg.ruleset
        for name in _COUNTERS:
            counters[name] += getattr(agg, name)
        for name in _TABLES:
            _add_into(tables[name], getattr(agg, name))
    return Aggregate(ruleset=ruleset, **counters, **tables)
