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


# --- the recomputation's vectors: a unit's aggregate from plain tuples of integers ------------------------------
#
# The full recomputation reads, per class, only the integers the rules need (:meth:`Plan.class_row`, or the same
# columns extracted by PostgreSQL, see :func:`exports.rollup_data.class_rows_sql`):
#
#     (unit state id, grade level, teaching language, building id, odd, pupils, seats, n of every group, pupils of
#      every bench group on the last benches)
#
# where a group's n is None when the class's size or one of its counts is missing, and ``odd`` marks a class the
# rules must see in full (a negative number, counts contradicting each other, a never-saved table counted with the
# form's defaults): a unit with an odd class is evaluated by :func:`unit_aggregate` instead. A unit's aggregate is
# then a dense list of integers (counters, group and bench totals) and the slots of its one outcome and one score
# bucket per criterion and level (:meth:`Plan.unit_vector`); parents add those into flat lists
# (:meth:`Plan.add_unit`, :meth:`Plan.add`), turned back into an :class:`Aggregate` only where one is asked for
# (:meth:`Plan.aggregate`). ``tests/exports/test_rollup_sql.py`` holds it equal to :func:`unit_aggregate`.

_OUTCOMES = ("risk", "missing_data", "insufficient", "ok", "exempt")
_RISK, _MISSING, _INSUFFICIENT, _OK, _EXEMPT, _NOTHING = range(6)  # _NOTHING: insufficient, nothing to measure
ROW_HEAD = 5  # unit state id, grade level, teaching language, building id, odd


class Plan:
    """The ruleset compiled for the vectors: the class-row layout, the slots, integer thresholds."""

    def __init__(self, rs: Ruleset, rules: Rules | None = None):
        self.rs = rs
        self.rules = rules or Rules(rs)
        groups = [g for c in rs.criteria for g in c.groups]
        self.groups = groups
        self.bench_groups = [g for g in groups if g.bench]
        keys = {rs.bench_seats}
        for g in groups:
            keys.update(g.counts)
            if g.bench:
                keys.add(g.bench)
        self.keys = tuple(sorted(keys))
        self.width = ROW_HEAD + 2 + len(groups) + len(self.bench_groups)
        # dense slots: 6 counters, (n, N, missing) per group, (n, N, class_n, class_N, missing) per bench group
        self.group_slot = {g.id: 6 + 3 * j for j, g in enumerate(groups)}
        base = 6 + 3 * len(groups)
        self.bench_slot = {g.id: base + 5 * b for b, g in enumerate(self.bench_groups)}
        self.dense = base + 5 * len(self.bench_groups)
        self.top = int(self.rules.m // 1)
        self.buckets = [str(i) for i in range(self.top + 1)] + ["none"]
        # sparse slots: per criterion and level, one per outcome, then one per score bucket
        self.levels: list[tuple[str, str, int]] = []  # (criterion, level, first slot)
        slot = self.dense
        for c in rs.criteria:
            for level in rs.levels:
                if rs.level_applies(c, level):
                    self.levels.append((c.key, level, slot))
                    slot += len(_OUTCOMES) + len(self.buckets)
        self.size = slot
        rank = [_OUTCOMES.index(o) for o in rs.unit_outcome_precedence]
        self.summary = [next((o for o in rank if mask >> o & 1), _INSUFFICIENT) for mask in range(64)]
        m, t, pred = self.rules.m, self.rules.t, self.rules.pred
        self.ints = (rs.min_pupils, rs.min_group, m.numerator, m.denominator, t.numerator, t.denominator,
                     pred.numerator, pred.denominator, self.top, t <= 0, m >= t, self.rules.missing_bucket)
        self._exempt: dict[str | None, tuple[bool, ...]] = {}
        self.parallel = rs.class_reference == "parallel"
        # per criterion: (group indexes, [levels applied], first slot of each applied level)
        self.criteria = []
        k = 0
        for c in rs.criteria:
            idx = list(range(k, k + len(c.groups)))
            k += len(c.groups)
            slots = {lv: s for ck, lv, s in self.levels if ck == c.key}
            self.criteria.append((c, idx, slots))
        self.locality_groups = [j for c, idx, slots in self.criteria if "locality" in slots for j in idx]
        self.bench_of = {j: b for b, g in enumerate(self.bench_groups) for j, g2 in enumerate(groups) if g2 is g}

    def exempt(self, language: str | None) -> tuple[bool, ...]:
        out = self._exempt.get(language)
        if out is None:
            ex = self.rules.exempt_groups(language)
            out = self._exempt[language] = tuple(g.id in ex for g in self.groups)
        return out

    # -- the class row ---------------------------------------------------------------------------------------
    def class_row(self, unit_state_id, cls, odd: bool = False) -> tuple:
        """The row of a :class:`~forms.indicators.ClassData` (what the SQL extraction returns for its values)."""
        P, counts = cls.pupils, cls.counts
        values = [P, *(counts.get(k) for k in self.keys)]
        odd = odd or any(v is not None and v < 0 for v in values)
        ns = []
        for g in self.groups:
            vs = [counts.get(k) for k in g.counts]
            if P is None or None in vs:
                ns.append(None)
                continue
            n = P - sum(vs) if g.complement else sum(vs)
            odd = odd or not 0 <= n <= P
            ns.append(n)
        seats = counts.get(self.rs.bench_seats)
        seated = [counts.get(g.bench) for g in self.bench_groups]
        for j, b in self.bench_of.items():
            s = seated[b]
            if s is not None and ((seats is not None and s > seats) or (ns[j] is not None and s > ns[j])):
                odd = True
        return (unit_state_id, cls.grade_level, cls.teaching_language, cls.building_id, odd, P, seats, *ns,
                *seated)

    def locality(self, pupils, counts) -> dict | None:
        """(n, N) against the locality of every group of a criterion measured there (None when the counts are
        negative or contradict each other: the unit is then evaluated by :func:`unit_aggregate`)."""
        if pupils is not None and pupils < 0:
            return None
        out: dict[int, tuple] = {}
        prefix = self.rs.locality_prefix
        for j in self.locality_groups:
            g = self.groups[j]
            vs = [counts.get(prefix + k) for k in g.counts]
            if any(v is not None and v < 0 for v in vs):
                return None
            if pupils is None or None in vs:
                out[j] = (None, pupils)
                continue
            n = pupils - sum(vs) if g.complement else sum(vs)
            if not 0 <= n <= pupils:
                return None
            out[j] = (n, pupils)
        return out

    # -- a unit ----------------------------------------------------------------------------------------------
    def unit_vector(self, rows: list[tuple], loc: dict) -> tuple[list[int], list[int]]:
        """The dense part and the sparse slots of the aggregate of a unit whose class rows are none of them odd
        (``loc``: :meth:`locality`). Same rules as :func:`unit_aggregate`, step by step."""
        minp, ming, mn, md, tn, td, pn, pd, top, t0, cap_at, mb = self.ints

        def assess(n, N, r, R):
            if n is None or N is None or r is None or R is None:
                return _MISSING, mb
            if N < minp or r < ming or N == 0 or R == 0:
                return (_NOTHING if N == 0 or r < ming or R == 0 else _INSUFFICIENT), -1
            num = n * R - r * N
            if num <= 0:
                floor, at = 0, t0
            else:
                a, b = mn * num, md * N * (R - r)
                if a * md >= mn * b:
                    floor, at = top, cap_at
                else:
                    floor, at = a // b, a * td >= tn * b
            return (_RISK if at or (n * pd > pn * N and r * pd <= pn * R) else _OK), floor

        nc = len(rows)
        rng = range(nc)
        columns = list(zip(*rows, strict=True)) if rows else [()] * self.width
        P = columns[5]
        ex = [self.exempt(lang) for lang in columns[2]]
        seats = columns[6]
        members_of: dict = {}
        for i, r in enumerate(rows):
            members_of.setdefault(r[3], []).append(i)
        grades = columns[1]
        parallel, minpar = self.parallel, self.rs.min_parallel_classes
        # what every complete group without exempt classes shares: pupils in all, per building, per grade
        exempt_somewhere = {j for e in set(ex) for j, v in enumerate(e) if v}
        all_p = None if None in P else sum(P)
        building_p = {b: sum(P[i] for i in m) for b, m in members_of.items()} if all_p is not None else {}
        by_grade_all: dict = {}
        for i, g in enumerate(grades):
            by_grade_all.setdefault(g, []).append(i)
        ungraded = by_grade_all.pop(None, [])
        grade_p = {g: sum(P[i] for i in m) for g, m in by_grade_all.items()} if all_p is not None else {}
        dense = [0] * self.dense
        known_p = [p for p in P if p is not None]
        dense[0], dense[1], dense[2], dense[3] = 1, nc, sum(known_p), nc - len(known_p)
        hits = []
        any_risk = any_missing = False
        summary, none_bucket = self.summary, len(self.buckets) - 1
        zero_bit = 1 << (_RISK if t0 else _OK)
        g0 = ROW_HEAD + 2
        b0 = g0 + len(self.groups)
        for _c, idx, slots in self.criteria:
            state: dict[str, list[int]] = {lv: [0, -1] for lv in slots}  # level -> [outcome mask, max floor]
            for j in idx:
                col = g0 + j
                ns = columns[col]
                clean = all_p is not None and j not in exempt_somewhere and None not in ns
                if clean:  # complete, nobody exempt: the unit's sums are every class's
                    exj = [False] * nc
                    n_u = tn_ = sum(ns)
                    N_u = tN_ = all_p
                    pop = known = tk = nc
                else:
                    exj = [e[j] for e in ex]
                    n_u = N_u = pop = known = 0
                    tn_ = tN_ = tk = 0
                    for i in rng:
                        n = ns[i]
                        if n is not None:
                            tn_ += n
                            tN_ += P[i]
                            tk += 1
                            if not exj[i]:
                                pop += 1
                                known += 1
                                n_u += n
                                N_u += P[i]
                        elif not exj[i]:
                            pop += 1
                few = n_u < ming  # every reference inside the unit has fewer of the group than min_group
                st = state.get("building")
                if st is not None:
                    for bid, members in members_of.items():
                        if clean:
                            if bid is None:
                                code, floor = _MISSING, mb
                            elif few:
                                code, floor = _NOTHING, -1
                            else:
                                code, floor = assess(sum(ns[i] for i in members), building_p[bid], n_u, N_u)
                            st[0] |= 1 << code
                            if floor > st[1]:
                                st[1] = floor
                            continue
                        compared = [i for i in members if not exj[i]]
                        if not compared:
                            code, floor = _EXEMPT, -1
                        elif bid is None or any(ns[i] is None for i in compared):
                            code, floor = _MISSING, mb
                        elif few:
                            code, floor = _NOTHING, -1
                        else:
                            code, floor = assess(sum(ns[i] for i in compared), sum(P[i] for i in compared),
                                                 n_u, N_u)
                        st[0] |= 1 << code
                        if floor > st[1]:
                            st[1] = floor
                st = state.get("class")
                if st is not None:
                    mask, mx = st
                    if clean:
                        if not few:  # (few: every class item has nothing to measure)
                            for g, members in by_grade_all.items():
                                if parallel and len(members) >= minpar:
                                    r, R = sum(ns[i] for i in members), grade_p[g]
                                else:
                                    r, R = n_u, N_u
                                if r < ming or R == 0:  # nothing to measure in any of them
                                    continue
                                for i in members:
                                    n, N = ns[i], P[i]
                                    if N == 0:  # nothing to measure
                                        continue
                                    if N < minp:
                                        mask |= 1 << _INSUFFICIENT
                                    elif n == 0:  # no excess: score 0, never predominant
                                        mask |= zero_bit
                                        if mx < 0:
                                            mx = 0
                                    else:
                                        code, floor = assess(n, N, r, R)
                                        mask |= 1 << code
                                        if floor > mx:
                                            mx = floor
                            for i in ungraded:
                                code, floor = assess(ns[i], P[i], n_u, N_u)
                                mask |= 1 << code
                                if floor > mx:
                                    mx = floor
                    elif few:
                        for i in rng:
                            if exj[i]:
                                mask |= 1 << _EXEMPT
                            elif ns[i] is None:
                                mask |= 1 << _MISSING
                                if mb > mx:
                                    mx = mb
                    else:
                        by_grade: dict = {}
                        if parallel:
                            for i in rng:
                                if ns[i] is not None and not exj[i]:
                                    s = by_grade.get(grades[i])
                                    if s is None:
                                        by_grade[grades[i]] = [ns[i], P[i], 1]
                                    else:
                                        s[0] += ns[i]
                                        s[1] += P[i]
                                        s[2] += 1
                        for i in rng:
                            if exj[i]:
                                mask |= 1 << _EXEMPT
                                continue
                            r, R = n_u, N_u
                            n = ns[i]
                            if parallel and grades[i] is not None:
                                s = by_grade.get(grades[i])
                                size = (s[2] if s else 0) + (0 if n is not None else 1)
                                if size >= minpar:
                                    r, R = (s[0], s[1]) if s else (0, 0)
                            code, floor = assess(n, P[i], r, R)
                            mask |= 1 << code
                            if floor > mx:
                                mx = floor
                    st[0], st[1] = mask, mx
                b = self.bench_of.get(j)
                if b is not None:
                    col_b = b0 + b
                    seated = columns[col_b]
                    st = state.get("bench")
                    if st is not None:
                        mask, mx = st
                        for i in rng:
                            n = ns[i]
                            if n is not None and n < ming and seated[i] is not None and seats[i] is not None:
                                continue  # few of the group in the class: nothing to measure on its benches
                            code, floor = assess(seated[i], seats[i], n, P[i])
                            mask |= 1 << code
                            if floor > mx:
                                mx = floor
                        st[0], st[1] = mask, mx
                    bt = self.bench_slot[self.groups[j].id]
                    for i in rng:
                        if seats[i] is None or seated[i] is None or ns[i] is None:
                            dense[bt + 4] += 1
                        else:
                            dense[bt] += seated[i]
                            dense[bt + 1] += seats[i]
                            dense[bt + 2] += ns[i]
                            dense[bt + 3] += P[i]
                st = state.get("locality")
                if st is not None:
                    if pop == 0 and nc:
                        code, floor = _EXEMPT, -1
                    else:
                        r, R = loc[j]
                        code, floor = assess(None, None, r, R) if known < pop else assess(n_u, N_u, r, R)
                    st[0] |= 1 << code
                    if floor > st[1]:
                        st[1] = floor
                gs = self.group_slot[self.groups[j].id]
                dense[gs], dense[gs + 1], dense[gs + 2] = tn_, tN_, nc - tk
            for lv, (mask, mx) in state.items():
                outcome = summary[mask]
                any_risk = any_risk or outcome == _RISK
                any_missing = any_missing or bool(mask & (1 << _MISSING))
                slot = slots[lv]
                hits.append(slot + outcome)
                hits.append(slot + 5 + (mx if mx >= 0 else none_bucket))
        dense[4], dense[5] = int(any_risk), int(any_missing)
        return dense, hits

    def vector_of(self, agg: Aggregate) -> tuple[list[int], list[int]]:
        """The dense part and the sparse slots of a unit's :class:`Aggregate` (one outcome and one bucket per
        criterion and level)."""
        dense = [0] * self.dense
        for i, name in enumerate(_COUNTERS):
            dense[i] = getattr(agg, name)
        for gid, s in self.group_slot.items():
            t = agg.groups.get(gid, {})
            dense[s], dense[s + 1], dense[s + 2] = t.get("n", 0), t.get("N", 0), t.get("missing", 0)
        for gid, s in self.bench_slot.items():
            t = agg.bench.get(gid, {})
            for k, name in enumerate(("n", "N", "class_n", "class_N", "missing")):
                dense[s + k] = t.get(name, 0)
        hits = []
        for criterion, level, slot in self.levels:
            for outcome, count in agg.outcomes[criterion][level].items():
                hits.extend([slot + _OUTCOMES.index(outcome)] * count)
            for bucket, count in agg.scores[criterion][level].items():
                hits.extend([slot + 5 + self.buckets.index(bucket)] * count)
        return dense, hits

    # -- sums ------------------------------------------------------------------------------------------------
    def zero(self) -> list[int]:
        return [0] * self.size

    @staticmethod
    def add_unit(acc: list[int], unit: tuple[list[int], list[int]]) -> None:
        dense, hits = unit
        for i, v in enumerate(dense):
            if v:
                acc[i] += v
        for h in hits:
            acc[h] += 1

    @staticmethod
    def add(acc: list[int], other: list[int]) -> None:
        acc[:] = map(int.__add__, acc, other)

    def aggregate(self, acc: list[int]) -> Aggregate:
        """The :class:`Aggregate` of a sum (equal to the one :func:`sum_into` gives for the same units)."""
        rs = self.rs
        counters = dict(zip(_COUNTERS, acc[:6], strict=True))
        tables: dict[str, dict] = {name: {} for name in _TABLES}
        if counters["units"]:
            for gid, s in self.group_slot.items():
                tables["groups"][gid] = {"n": acc[s], "N": acc[s + 1], "missing": acc[s + 2]}
            for gid, s in self.bench_slot.items():
                tables["bench"][gid] = dict(zip(("n", "N", "class_n", "class_N", "missing"), acc[s:s + 5],
                                                strict=True))
            for criterion, level, slot in self.levels:
                tables["outcomes"].setdefault(criterion, {})[level] = {
                    o: acc[slot + k] for k, o in enumerate(_OUTCOMES) if acc[slot + k]}
                tables["scores"].setdefault(criterion, {})[level] = {
                    b: acc[slot + 5 + k] for k, b in enumerate(self.buckets) if acc[slot + 5 + k]}
        return Aggregate(ruleset=(rs.key, rs.version), **counters, **tables)
