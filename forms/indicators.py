"""The segregation-indicators engine (shared/INDICATORS.md): a ruleset applied to the summed counts of a unit.

Input is plain data — a :class:`UnitData` with its :class:`ClassData` rows, counts keyed as in the class table
(``"ethnicity.roma"``, ``"parents_education.below_eight"``, ``"social_scholarship"``, ``"last_benches.seats"``, …),
any count possibly ``None`` (missing). :func:`evaluate_unit` compares, for every vulnerable group of the ruleset,

- each **class** with the unit's parallel classes of the same grade level (or the whole unit),
- each **building** with the unit,
- the **last two benches** of each class with the class,
- the **unit** with the locality's school-age population (ethnic criterion),

and returns per-item outcomes, per criterion × level summaries (score = max over items), the dissimilarity index
per group and the unit's summable :class:`~forms.indicators_rollup.Aggregate`. Higher levels add aggregates and
call :func:`indicators_from_totals`. Pure Python: no Flask, no database.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from forms.indicators_formulas import (
    FEW_IN_GROUP, MISSING_DATA, NO_PUPILS, SMALL_NUMBERS, Assessment, alert_score, as_float, assess, dissimilarity,
    gap_pp, share,
)
from forms.indicators_rollup import Aggregate, indicators_from_totals, score_bucket, sum_aggregates
from forms.indicators_ruleset import Criterion, Group, Ruleset, RulesetError, load_ruleset

__all__ = [
    "Aggregate", "Assessment", "ClassData", "DissimilarityResult", "IndicatorInputError", "ItemResult",
    "LevelSummary", "Ruleset", "RulesetError", "UnitData", "UnitResult", "aggregate_units", "alert_score", "assess",
    "dissimilarity", "evaluate_unit", "gap_pp", "indicators_from_totals", "load_ruleset", "share", "sum_aggregates",
]

# Item outcomes that carry a score into the unit's maximum; insufficient and exempt items keep theirs to themselves.
_SCORED = ("risk", "ok", "missing_data")
_FLAGGED = ("risk", "missing_data")
# Insufficient items with nothing to measure — no pupils, or a group (nearly) absent from the reference — do not
# make a criterion insufficient when other items of it were measured (e.g. no German pupils beside measured Roma).
_NOTHING_TO_MEASURE = frozenset({NO_PUPILS, FEW_IN_GROUP})


class IndicatorInputError(ValueError):
    """Counts that contradict each other (a group larger than its class, more pupils on a bench than seats)."""


@dataclass(frozen=True)
class ClassData:
    """One class of a unit. ``pupils`` is N; ``counts`` holds every class-table count (``None`` = missing)."""

    id: Hashable
    pupils: int | None
    counts: Mapping[str, int | None] = field(default_factory=dict)
    grade_level: Hashable | None = None
    teaching_language: str | None = None  # a code ("ro", "hu"), bilingual as "ro+hu"
    building_id: Hashable | None = None


@dataclass(frozen=True)
class UnitData:
    """A structural unit: its classes and the locality's school-age population, as in the unit form: the total and
    the counts keyed with the ruleset's locality prefix (``"locality.ethnicity.roma"``)."""

    id: Hashable
    classes: tuple[ClassData, ...] = ()
    locality_pupils: int | None = None
    locality_counts: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemResult:
    """One comparison: ``item`` (class id, building id, or unit id) at ``level`` against ``reference``.

    ``reference`` is ``"parallel"`` or ``"unit"`` (classes), ``"unit"`` (buildings), ``"class"`` (benches),
    ``"locality"`` (the unit). Shares are 0–1, ``gap_pp`` in percentage points, ``score`` 0–score_max.
    """

    criterion: str
    group: str
    level: str
    item: Hashable
    reference: str
    n: int | None
    N: int | None
    n_ref: int | None
    N_ref: int | None
    p: float | None
    p_ref: float | None
    gap_pp: float | None
    score: float | None
    outcome: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class LevelSummary:
    """A unit's result for one criterion at one level: max score over its items, outcome by ruleset precedence."""

    criterion: str
    level: str
    score: float | None  # max over risk / ok / missing_data items; None when none of them has a score
    outcome: str  # the first of the ruleset's unit_outcome_precedence among the items (see _summarise)
    codes: tuple[str, ...]  # every code of its items, sorted
    items: dict[str, int]  # outcome -> number of items
    flagged: tuple[tuple[str, Hashable], ...]  # (group, item) of risk and missing_data items


@dataclass(frozen=True)
class DissimilarityResult:
    """D per group over the unit's classes with data (exempt classes left out). Descriptive: never a flag."""

    group: str
    value: float | None
    status: str  # ok | insufficient (n_u < min_group, or D undefined) | missing_data (some class has a gap)
    classes: int  # classes used
    missing: int  # classes left out for missing counts


@dataclass(frozen=True)
class UnitResult:
    unit_id: Hashable
    ruleset: tuple[str, int]
    items: tuple[ItemResult, ...]
    summaries: dict[tuple[str, str], LevelSummary]  # (criterion, level) -> summary
    dissimilarity: dict[str, DissimilarityResult]  # group id -> D
    aggregate: Aggregate

    @property
    def at_risk(self) -> bool:
        """A risk outcome on any criterion and level: what lets the inspectorate request extended monitoring."""
        return any(s.outcome == "risk" for s in self.summaries.values())

    @property
    def flagged(self) -> tuple[ItemResult, ...]:
        """Items at risk or with missing data, each with its explanation codes."""
        return tuple(i for i in self.items if i.outcome in _FLAGGED)

    def summary(self, criterion: str, level: str) -> LevelSummary:
        return self.summaries[(criterion, level)]

    def select(self, *, group: str | None = None, level: str | None = None, item: Hashable = None) -> list[ItemResult]:
        return [i for i in self.items if (group is None or i.group == group) and (level is None or i.level == level)
                and (item is None or i.item == item)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (ids are kept as given; use JSON-friendly ids)."""
        return {
            "unit_id": self.unit_id, "ruleset": {"key": self.ruleset[0], "version": self.ruleset[1]},
            "at_risk": self.at_risk,
            "items": [_plain(i) for i in self.items],
            "summaries": [_plain(s) for s in self.summaries.values()],
            "dissimilarity": {k: _plain(v) for k, v in self.dissimilarity.items()},
            "aggregate": self.aggregate.to_dict(),
        }


def _plain(obj: Any) -> dict[str, Any]:
    out = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        out[name] = [list(v) for v in value] if name == "flagged" else list(value) if name == "codes" else value
    return out


# -- evaluation ------------------------------------------------------------------------------------------------

def evaluate_unit(unit: UnitData, ruleset: Ruleset | None = None) -> UnitResult:
    """Every indicator of one unit under ``ruleset`` (the shipped default when omitted)."""
    rs = ruleset or load_ruleset()
    items: list[ItemResult] = []
    dissim: dict[str, DissimilarityResult] = {}
    groups_total: dict[str, dict[str, int]] = {}
    bench_total: dict[str, dict[str, int]] = {}
    for criterion in rs.criteria:
        for group in criterion.groups:
            ctx = _GroupContext(unit, criterion, group, rs)
            items.extend(ctx.items())
            dissim[group.id] = ctx.dissimilarity()
            groups_total[group.id] = ctx.totals()
            if group.bench:
                bench_total[group.id] = ctx.bench_totals()
    summaries = {}
    for criterion in rs.criteria:
        for level in rs.levels:
            if rs.level_applies(criterion, level):
                mine = [i for i in items if i.criterion == criterion.key and i.level == level]
                summaries[(criterion.key, level)] = _summarise(criterion.key, level, mine, rs)
    known = [c.pupils for c in unit.classes if c.pupils is not None]
    any_risk = any(s.outcome == "risk" for s in summaries.values())
    aggregate = Aggregate(
        ruleset=(rs.key, rs.version), units=1, classes=len(unit.classes), pupils=sum(known),
        classes_missing_pupils=len(unit.classes) - len(known), units_at_risk=int(any_risk),
        units_with_missing_data=int(any(i.outcome == "missing_data" for i in items)),
        groups=groups_total, bench=bench_total,
        outcomes=_per_summary(summaries, lambda s: s.outcome),
        scores=_per_summary(summaries, lambda s: score_bucket(s.score)),
    )
    return UnitResult(unit.id, (rs.key, rs.version), tuple(items), summaries, dissim, aggregate)


def aggregate_units(units: Iterable[UnitData], ruleset: Ruleset | None = None) -> Aggregate:
    """The aggregate of many units (a school, a county): the sum of their unit aggregates."""
    rs = ruleset or load_ruleset()
    return sum_aggregates(evaluate_unit(u, rs).aggregate for u in units)


def _per_summary(summaries: Mapping[tuple[str, str], LevelSummary], key) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (criterion, level), s in summaries.items():
        out.setdefault(criterion, {})[level] = {key(s): 1}
    return out


def _summarise(criterion: str, level: str, items: list[ItemResult], rs: Ruleset) -> LevelSummary:
    counts: dict[str, int] = {}
    for i in items:
        counts[i.outcome] = counts.get(i.outcome, 0) + 1
    if not items:  # a unit without classes: nothing could be measured
        return LevelSummary(criterion, level, None, "insufficient", (NO_PUPILS, SMALL_NUMBERS), {}, ())
    considered = {i.outcome for i in items if i.outcome != "insufficient" or not _NOTHING_TO_MEASURE & set(i.codes)}
    outcome = next((o for o in rs.unit_outcome_precedence if o in considered), "insufficient")
    scores = [i.score for i in items if i.outcome in _SCORED and i.score is not None]
    return LevelSummary(
        criterion, level, max(scores) if scores else None, outcome,
        tuple(sorted({c for i in items for c in i.codes})), counts,
        tuple((i.group, i.item) for i in items if i.outcome in _FLAGGED),
    )


def group_count(cls: ClassData, group: Group) -> tuple[int, int] | None:
    """(n, N) of ``group`` in a class, or None when the class size or one of the group's counts is missing."""
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


def _sums(pairs: Iterable[tuple[int, int]]) -> tuple[int, int]:
    pairs = list(pairs)
    return sum(n for n, _ in pairs), sum(N for _, N in pairs)


class _GroupContext:
    """The comparisons of one vulnerable group inside one unit.

    The comparison population is the unit's classes that are not exempt for the group (minority-language
    classes); references are summed over those with known counts, and a class with a gap is itself reported
    missing_data (and makes its building and the unit-vs-locality item missing_data).
    """

    def __init__(self, unit: UnitData, criterion: Criterion, group: Group, rs: Ruleset):
        self.unit, self.criterion, self.group, self.rs = unit, criterion, group, rs
        classes = unit.classes
        # Classes are addressed by position: ids are the caller's and need not be unique or hashable twice.
        self.pair = [group_count(c, group) for c in classes]
        self.exempt = {i for i, c in enumerate(classes) if group.id in rs.exempt_groups(c.teaching_language)}
        self.population = [i for i in range(len(classes)) if i not in self.exempt]
        self.known = [i for i in self.population if self.pair[i] is not None]
        self.n_u, self.N_u = _sums(self.pair[i] for i in self.known)

    def items(self) -> list[ItemResult]:
        out: list[ItemResult] = []
        indices = range(len(self.unit.classes))
        if self.rs.level_applies(self.criterion, "building"):
            out.extend(self._buildings())
        if self.rs.level_applies(self.criterion, "class"):
            out.extend(self._class(i) for i in indices)
        if self.rs.level_applies(self.criterion, "bench") and self.group.bench:
            out.extend(self._bench(i) for i in indices)
        if self.rs.level_applies(self.criterion, "locality"):
            out.append(self._locality())
        return out

    def _item(self, level: str, item: Hashable, reference: str, a: Assessment, n, N, n_ref, N_ref) -> ItemResult:
        return ItemResult(
            criterion=self.criterion.key, group=self.group.id, level=level, item=item, reference=reference,
            n=n, N=N, n_ref=n_ref, N_ref=N_ref, p=as_float(a.p), p_ref=as_float(a.p_ref),
            gap_pp=as_float(a.gap_pp), score=as_float(a.score), outcome=a.outcome, codes=a.codes,
        )

    def _class(self, i: int) -> ItemResult:
        c = self.unit.classes[i]
        reference, ref = "unit", self.known
        if self.rs.class_reference == "parallel" and c.grade_level is not None:
            same = [k for k in self.known if self.unit.classes[k].grade_level == c.grade_level]
            if len(set(same) | {i}) >= self.rs.min_parallel_classes:
                reference, ref = "parallel", same
        n_ref, N_ref = _sums(self.pair[k] for k in ref)
        n, N = self.pair[i] or (None, c.pupils)
        a = assess(n, N, n_ref, N_ref, self.rs, exempt=i in self.exempt)
        return self._item("class", c.id, reference, a, n, N, n_ref, N_ref)

    def _buildings(self) -> list[ItemResult]:
        by_building: dict[Hashable, list[int]] = {}
        for i, c in enumerate(self.unit.classes):
            by_building.setdefault(c.building_id, []).append(i)
        out = []
        for building_id, members in by_building.items():
            compared = [i for i in members if i not in self.exempt]
            exempt = not compared  # only minority-language classes: reported, not flagged
            pairs = [self.pair[i] for i in compared or members]
            if building_id is None or None in pairs:  # a class without a building, or a gap in the counts
                n = N = None
            else:
                n, N = _sums(pairs)
            a = assess(n, N, self.n_u, self.N_u, self.rs, exempt=exempt)
            out.append(self._item("building", building_id, "unit", a, n, N, self.n_u, self.N_u))
        return out

    def _bench(self, i: int) -> ItemResult:
        c = self.unit.classes[i]
        seats, seated = c.counts.get(self.rs.bench_seats), c.counts.get(self.group.bench)
        n_ref, N_ref = self.pair[i] or (None, c.pupils)
        if seats is not None and seated is not None and not 0 <= seated <= seats:
            raise IndicatorInputError(f"class {c.id!r}: {seated} pupils of {self.group.id} on {seats} bench seats")
        if seated is not None and n_ref is not None and seated > n_ref:
            raise IndicatorInputError(f"class {c.id!r}: {seated} of {self.group.id} on the benches, {n_ref} in class")
        a = assess(seated, seats, n_ref, N_ref, self.rs)
        return self._item("bench", c.id, "class", a, seated, seats, n_ref, N_ref)

    def _locality(self) -> ItemResult:
        exempt = not self.population and bool(self.unit.classes)
        if exempt:
            n, N = _sums(p for p in self.pair if p is not None)
        elif len(self.known) < len(self.population):
            n = N = None
        else:
            n, N = self.n_u, self.N_u
        n_loc, N_loc = self._locality_count()
        a = assess(n, N, n_loc, N_loc, self.rs, exempt=exempt)
        return self._item("locality", self.unit.id, "locality", a, n, N, n_loc, N_loc)

    def _locality_count(self) -> tuple[int | None, int | None]:
        N = self.unit.locality_pupils
        values = [self.unit.locality_counts.get(self.rs.locality_prefix + k) for k in self.group.counts]
        if N is None or None in values:
            return None, N
        n = N - sum(values) if self.group.complement else sum(values)
        if not 0 <= n <= N:
            raise IndicatorInputError(f"unit {self.unit.id!r}: locality {self.group.id} = {n} of {N}")
        return n, N

    def dissimilarity(self) -> DissimilarityResult:
        pairs = [self.pair[i] for i in self.known]
        value = dissimilarity(pairs)
        missing = len(self.population) - len(self.known)
        if missing:
            status = MISSING_DATA
        elif value is None or self.n_u < self.rs.min_group:
            status = "insufficient"
        else:
            status = "ok"
        return DissimilarityResult(self.group.id, as_float(value), status, len(pairs), missing)

    def totals(self) -> dict[str, int]:
        pairs = [p for p in self.pair if p is not None]
        n, N = _sums(pairs)
        return {"n": n, "N": N, "missing": len(self.pair) - len(pairs)}

    def bench_totals(self) -> dict[str, int]:
        out = {"n": 0, "N": 0, "class_n": 0, "class_N": 0, "missing": 0}
        for c, pair in zip(self.unit.classes, self.pair, strict=True):
            seats, seated = c.counts.get(self.rs.bench_seats), c.counts.get(self.group.bench)
            if seats is None or seated is None or pair is None:
                out["missing"] += 1
                continue
            out["n"] += seated
            out["N"] += seats
            out["class_n"] += pair[0]
            out["class_N"] += pair[1]
        return out
