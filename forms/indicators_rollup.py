"""Roll-up of indicator data above the unit (school, county, nation): summed counts, never averaged percentages.

An :class:`Aggregate` is a monoid: ``Aggregate()`` is the zero and ``+`` is associative and commutative, so a
parent's aggregate is the sum of its children's and equals the aggregate of all its units at once. It holds only
integers (counts of pupils, classes and units), so it serialises to JSON and back exactly (``to_dict`` /
``from_dict``). :func:`indicators_from_totals` recomputes shares, gaps and scores from those sums.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import reduce
from typing import Any

from forms.indicators_formulas import alert_score, as_float, gap_pp, share
from forms.indicators_ruleset import Ruleset, RulesetError, load_ruleset

Nested = dict[str, Any]  # str -> int, or str -> Nested

_COUNTERS = ("units", "classes", "pupils", "classes_missing_pupils", "units_at_risk", "units_with_missing_data")
_TABLES = ("groups", "bench", "outcomes", "scores")


@dataclass(frozen=True)
class Aggregate:
    """Summable indicator totals of one or more units, all plain integers.

    - ``groups[group_id] = {"n", "N", "missing"}``: pupils of the group and all pupils, summed over classes whose
      counts for the group are known (so n/N is an honest share); ``missing`` = classes with a gap. Exempt
      (minority-language) classes are included: totals are totals.
    - ``bench[group_id] = {"n", "N", "class_n", "class_N", "missing"}``: pupils of the group seated in the last two
      benches and the seats there, with the group and all pupils of the same classes (the bench's reference).
    - ``outcomes[criterion][level][outcome]`` and ``scores[criterion][level][bucket]``: how many units had that
      outcome / a score in that bucket (``"0"`` … ``"10"`` = floor of the score, ``"none"`` when not computable).
    - ``units_at_risk`` / ``units_with_missing_data``: units with at least one risk / missing_data outcome.

    Locality populations are not summed: units of one locality each report the same population.
    """

    ruleset: tuple[str, int] | None = None
    units: int = 0
    classes: int = 0
    pupils: int = 0  # summed over classes whose size is known
    classes_missing_pupils: int = 0
    units_at_risk: int = 0
    units_with_missing_data: int = 0
    groups: Nested = field(default_factory=dict)
    bench: Nested = field(default_factory=dict)
    outcomes: Nested = field(default_factory=dict)
    scores: Nested = field(default_factory=dict)

    def __add__(self, other: Aggregate) -> Aggregate:
        if not isinstance(other, Aggregate):
            return NotImplemented
        if self.ruleset and other.ruleset and self.ruleset != other.ruleset:
            raise RulesetError(f"cannot add aggregates of rulesets {self.ruleset} and {other.ruleset}")
        values: dict[str, Any] = {"ruleset": self.ruleset or other.ruleset}
        for name in _COUNTERS:
            values[name] = getattr(self, name) + getattr(other, name)
        for name in _TABLES:
            values[name] = _add_nested(getattr(self, name), getattr(other, name))
        return Aggregate(**values)

    def __radd__(self, other: Any) -> Aggregate:
        # sum(aggregates) starts from 0
        if other == 0:
            return self
        return NotImplemented

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what a roll-up snapshot stores)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["ruleset"] = None if self.ruleset is None else {"key": self.ruleset[0], "version": self.ruleset[1]}
        for name in _TABLES:
            out[name] = _add_nested(out[name], {})  # a copy
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Aggregate:
        rs = data.get("ruleset")
        values: dict[str, Any] = {"ruleset": None if rs is None else (rs["key"], int(rs["version"]))}
        for name in _COUNTERS:
            values[name] = int(data.get(name, 0))
        for name in _TABLES:
            values[name] = _add_nested(data.get(name, {}), {})
        return cls(**values)


def _add_nested(a: Mapping[str, Any], b: Mapping[str, Any]) -> Nested:
    """Key-wise sum of two nested str→int dicts (a new dict; neither input is modified)."""
    out: Nested = {}
    for key in a.keys() | b.keys():
        x, y = a.get(key), b.get(key)
        if isinstance(x, Mapping) or isinstance(y, Mapping):
            out[key] = _add_nested(x or {}, y or {})
        else:
            out[key] = int(x or 0) + int(y or 0)
    return out


def sum_aggregates(aggregates: Iterable[Aggregate]) -> Aggregate:
    """The sum of aggregates (the zero aggregate when there are none)."""
    return reduce(lambda a, b: a + b, aggregates, Aggregate())


def score_bucket(score: Any) -> str:
    """The distribution bucket of a unit score: its floor as a string, ``"none"`` when there is no score."""
    if score is None:
        return "none"
    return str(int(score // 1))


def indicators_from_totals(aggregate: Aggregate, ruleset: Ruleset | None = None, *,
                           reference: Aggregate | None = None) -> dict[str, Any]:
    """Shares, gaps and scores at a parent level, recomputed from the summed counts of ``aggregate``.

    Every share is summed n / summed N. With ``reference`` (typically the parent of the node, e.g. the county for
    a school), each group share is also compared with the reference's share: gap in points and the alert score.
    Bench shares are compared with the share of the group in the same classes. Outcome counts per criterion and
    level are passed through with ``at_risk`` (units whose outcome was risk). Floats, ready for display.
    """
    rs = ruleset or load_ruleset()
    for agg in (aggregate, reference):
        if agg is not None and agg.ruleset is not None and agg.ruleset != (rs.key, rs.version):
            raise RulesetError(f"aggregate of ruleset {agg.ruleset} read with {rs.key} v{rs.version}")
    groups: dict[str, Any] = {}
    bench: dict[str, Any] = {}
    for g in rs.groups():
        t = aggregate.groups.get(g.id, {})
        n, N = t.get("n", 0), t.get("N", 0)
        p = share(n, N)
        p_ref = None
        if reference is not None:
            r = reference.groups.get(g.id, {})
            p_ref = share(r.get("n", 0), r.get("N", 0))
        groups[g.id] = {
            "criterion": g.criterion, "n": n, "N": N, "missing": t.get("missing", 0), "share": as_float(p),
            "reference_share": as_float(p_ref), "gap_pp": as_float(gap_pp(p, p_ref)),
            "score": as_float(alert_score(p, p_ref, rs)),
        }
        if g.bench:
            b = aggregate.bench.get(g.id, {})
            p_b, p_c = share(b.get("n", 0), b.get("N", 0)), share(b.get("class_n", 0), b.get("class_N", 0))
            bench[g.id] = {
                "criterion": g.criterion, **{k: b.get(k, 0) for k in ("n", "N", "class_n", "class_N", "missing")},
                "share": as_float(p_b), "class_share": as_float(p_c), "gap_pp": as_float(gap_pp(p_b, p_c)),
                "score": as_float(alert_score(p_b, p_c, rs)),
            }
    criteria: dict[str, Any] = {}
    for c in rs.criteria:
        per_level = {}
        for level in rs.levels:
            if not rs.level_applies(c, level):
                continue
            units = dict(aggregate.outcomes.get(c.key, {}).get(level, {}))
            per_level[level] = {
                "units": units, "at_risk": units.get("risk", 0),
                "scores": dict(aggregate.scores.get(c.key, {}).get(level, {})),
            }
        criteria[c.key] = per_level
    return {
        "ruleset": {"key": rs.key, "version": rs.version},
        **{name: getattr(aggregate, name) for name in _COUNTERS},
        "units_at_risk_share": as_float(share(aggregate.units_at_risk, aggregate.units)),
        "groups": groups, "bench": bench, "criteria": criteria,
    }
