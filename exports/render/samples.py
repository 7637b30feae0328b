"""Synthetic report data shaped like :mod:`exports.report_data`'s contract, computed by the real indicator engine.

:func:`sample_data` builds a report of one node (a unit, a school, a county or the nation) over synthetic units:
each unit is evaluated with :func:`forms.indicators.evaluate_unit`, totals come from
:func:`forms.indicators.indicators_from_totals` over the summed aggregates, and the risk list holds the flagged
items of every unit below the node. Names carry Romanian diacritics. Used by the renderer tests and the
benchmarks (``bench/render.py``); nothing here touches the database.

Evaluating a unit costs milliseconds, so a national sample evaluates a pool of distinct units and reuses their
results for the thousands of units below the counties (ids and names stay distinct).
"""
from __future__ import annotations

import random
from typing import Any

from forms.indicators import (
    Aggregate, ClassData, UnitData, evaluate_unit, indicators_from_totals, load_ruleset, sum_aggregates,
)

LOCALITIES = ("Târgu Mureș", "Pitești", "Brașov", "Iași", "Constanța", "Timișoara", "Câmpulung", "Râmnicu Vâlcea",
              "Sfântu Gheorghe", "Bistrița", "Botoșani", "Focșani", "Suceava", "Ploiești", "Călărași", "Reșița")
COUNTIES = ("Alba", "Arad", "Argeș", "Bacău", "Bihor", "Bistrița-Năsăud", "Botoșani", "Brașov", "Brăila",
            "București", "Buzău", "Caraș-Severin", "Călărași", "Cluj", "Constanța", "Covasna", "Dâmbovița", "Dolj",
            "Galați", "Giurgiu", "Gorj", "Harghita", "Hunedoara", "Ialomița", "Iași", "Ilfov", "Maramureș",
            "Mehedinți", "Mureș", "Neamț", "Olt", "Prahova", "Satu Mare", "Sălaj", "Sibiu", "Suceava", "Teleorman",
            "Timiș", "Tulcea", "Vaslui", "Vâlcea", "Vrancea")
CHILD_LEVEL = {"unit": "class", "school": "unit", "inspectorate": "school", "ministry": "inspectorate"}
_ETHNIC = ("romanian", "roma", "hungarian", "german", "ukrainian", "turkish_tatar", "other", "undeclared")


def county_name(index: int) -> str:
    name = COUNTIES[index % len(COUNTIES)]
    return "Inspectoratul Școlar al Municipiului București" if name == "București" \
        else f"Inspectoratul Școlar Județean {name}"


def school_name(index: int) -> str:
    return f"Școala Gimnazială Nr. {index} {LOCALITIES[index % len(LOCALITIES)]}"


class _Names:
    """Display names of the items a risk entry points at (class, building, unit), by id."""

    def __init__(self) -> None:
        self.items: dict[Any, str] = {}


def synthetic_unit(rng: random.Random, uid: int, n_classes: int, names: _Names,
                   segregated: bool | None = None) -> UnitData:
    """A unit with ``n_classes`` classes, consistent counts, and (at random) concentrated Roma pupils, a Hungarian
    section, a second building or a gap in the data — so the engine finds risk, exemptions and missing data."""
    segregated = rng.random() < 0.3 if segregated is None else segregated
    roma_u = rng.choice((0.08, 0.15, 0.3) if segregated else (0.0, 0.02, 0.08, 0.15, 0.3))
    hungarian = rng.random() < 0.12
    two_buildings = n_classes >= 6 and rng.random() < 0.3
    gap_class = rng.randrange(n_classes) if n_classes and rng.random() < 0.1 else None
    buildings = [uid * 10 + 1, uid * 10 + 2] if two_buildings else [uid * 10 + 1]
    for k, b in enumerate(buildings):
        names.items[b] = f"Corp {'AB'[k]}"
    classes = []
    for i in range(n_classes):
        grade = (i // 2) % 9
        letter = "ABCDEFGH"[((i % 2) + 2 * (i // 18)) % 8]
        cid = uid * 100 + i
        names.items[cid] = f"{'P' if grade == 0 else grade}{letter}"
        N = rng.randint(14, 29)
        share = roma_u * (2.6 if segregated and letter == "B" else 0.4 if segregated else 1.0)
        roma = min(N, max(0, round(N * min(1.0, share) + rng.uniform(-1.5, 1.5))))
        hu = N - roma if hungarian and letter == "B" else rng.randint(0, 1) if hungarian else 0
        hu = min(hu, N - roma)
        rest = N - roma - hu
        undeclared = rng.randint(0, min(2, rest))
        counts: dict[str, int | None] = {f"ethnicity.{e}": 0 for e in _ETHNIC}
        counts.update({"ethnicity.roma": roma, "ethnicity.hungarian": hu, "ethnicity.undeclared": undeclared,
                       "ethnicity.romanian": rest - undeclared})
        below = min(N, round(roma * 0.6))
        eight = min(N - below, round(roma * 0.3) + rng.randint(0, 2))
        higher = rng.randint(0, N - below - eight)
        counts.update({"parents_education.below_eight": below, "parents_education.eight_grades": eight,
                       "parents_education.higher": higher, "parents_education.unknown": 0,
                       "parents_education.upper_secondary": N - below - eight - higher})
        scholarship = min(N, round(roma * 0.7) + rng.randint(0, 2))
        counts.update({
            "social_scholarship": scholarship, "single_parent": rng.randint(0, 4), "disability_sen": rng.randint(0, 2),
            "residence_other_locality": rng.randint(0, 5), "institutionalised": rng.randint(0, 1),
            "relatives_care": rng.randint(0, 3), "attended_kindergarten": N - min(N, round(roma * 0.5)),
            "repeating": rng.randint(0, 1),
        })
        seats = min(N, rng.randint(6, 10))
        counts["last_benches.seats"] = seats
        counts["last_benches.ethnicity.roma"] = min(roma, seats, rng.randint(0, 4) if segregated else roma // 3)
        counts["last_benches.social_scholarship"] = min(scholarship, seats, rng.randint(0, 3))
        counts["last_benches.disability_sen"] = min(counts["disability_sen"], seats)
        if i == gap_class:
            counts["social_scholarship"] = None
            counts["last_benches.social_scholarship"] = None
        classes.append(ClassData(id=cid, pupils=N, counts=counts, grade_level=grade,
                                 teaching_language="hu" if hungarian and letter == "B" else "ro",
                                 building_id=buildings[i % len(buildings)]))
    locality_pupils = rng.randint(300, 3000)
    roma_loc = round(locality_pupils * roma_u * rng.uniform(0.8, 1.3))
    locality = {"locality.ethnicity.roma": roma_loc,
                "locality.ethnicity.hungarian": round(locality_pupils * 0.1) if hungarian else 0,
                "locality.ethnicity.german": 0, "locality.ethnicity.ukrainian": 0,
                "locality.ethnicity.turkish_tatar": 0}
    return UnitData(id=uid, classes=tuple(classes), locality_pupils=locality_pupils, locality_counts=locality)


def _risk_entries(result, unit_ref: dict, names: _Names) -> list[dict[str, Any]]:
    out = []
    for i in result.flagged:
        item_name = unit_ref["name"] if i.level == "locality" else names.items.get(i.item, str(i.item))
        out.append({"unit": dict(unit_ref), "criterion": i.criterion, "group": i.group, "level": i.level,
                    "item": str(i.item), "item_name": item_name, "outcome": i.outcome, "score": i.score,
                    "share": i.p, "reference_share": i.p_ref, "gap_pp": i.gap_pp, "codes": list(i.codes)})
    return out


def _child_groups(agg: Aggregate, reference: Aggregate, rs) -> dict[str, dict[str, Any]]:
    groups = indicators_from_totals(agg, rs, reference=reference)["groups"]
    return {g: {k: v[k] for k in ("n", "N", "share", "gap_pp", "score")} for g, v in groups.items()}


def sample_data(children: int = 170, *, level: str = "inspectorate", units_per_child: int | None = None,
                classes_per_unit: int | None = None, seed: int = 20261121, pool: int = 120,
                submitted_share: float = 0.9, excluded: int = 2, version: int = 1,
                risk_cap: int | None = None) -> dict[str, Any]:
    """A report data dict of a ``level`` node with ``children`` children (classes, units, schools or counties).

    ``units_per_child`` fixes the number of units below each school / county (default: 1–3 per school, 200 per
    county); ``pool`` bounds the distinct units evaluated. ``children=0`` gives an empty report (nothing
    submitted). The first ``excluded`` children above a unit are excluded with a reason.
    """
    if level not in CHILD_LEVEL:
        raise ValueError(f"level must be one of {tuple(CHILD_LEVEL)}")
    rng = random.Random(seed)
    rs = load_ruleset()
    names = _Names()
    county = {"id": 2, "name": county_name(28)}  # Mureș
    node: dict[str, Any] = {"id": 1, "level": level, "code": None, "name": "", "county": county, "school": None}
    if level == "ministry":
        node.update(name="Ministerul Educației — Comisia națională pentru desegregare", county=None)
    elif level == "inspectorate":
        node.update(id=2, code="MS", name=county["name"])
    elif level == "school":
        node.update(id=3, code="2661100001", name=school_name(1))
        node["school"] = {"id": 3, "name": node["name"]}
    else:
        node.update(id=4, code="2661100002", name=school_name(1), school={"id": 3, "name": school_name(1)})

    rows: list[dict[str, Any]] = []
    child_aggs: list[Aggregate] = []
    risk: list[dict[str, Any]] = []
    exclusions: list[dict[str, Any]] = []
    dissimilarity: dict[str, float | None] = {}
    units_at_risk: list[dict[str, Any]] = []
    if level == "unit":
        unit = synthetic_unit(rng, 4, children, names, segregated=True)
        result = evaluate_unit(unit, rs)
        unit_ref = {"id": node["id"], "name": node["name"]}
        risk = _risk_entries(result, unit_ref, names)
        dissimilarity = {g: d.value for g, d in result.dissimilarity.items()}
        total = result.aggregate if children else Aggregate()
        for c in unit.classes:
            groups = {}
            for item in result.select(level="class", item=c.id):
                groups[item.group] = {"n": item.n, "N": item.N, "share": item.p, "gap_pp": item.gap_pp,
                                      "score": item.score}
            at_risk = any(i.outcome == "risk" for i in result.select(level="class", item=c.id))
            rows.append({"id": c.id, "code": None, "name": names.items[c.id], "level": "class",
                         "state": "submitted", "excluded": False, "exclusion_reason": None, "units": 0,
                         "classes": 1, "pupils": c.pupils or 0, "units_at_risk": 0, "at_risk": at_risk,
                         "groups": groups})
    else:
        evaluated: list[tuple[Any, Any]] = []  # (result, names) of the pool
        per_child = units_per_child or (200 if level == "ministry" else None)
        uid = 1000
        for k in range(children):
            cid = 100 + k
            state = "submitted" if rng.random() < submitted_share else rng.choice(("in_progress", "not_started"))
            is_excluded = k < excluded and level in ("inspectorate", "school")
            if level == "ministry":
                cname, ccode = county_name(k), f"{k + 1:02d}"
            elif level == "inspectorate":
                cname, ccode = school_name(k + 1), f"26{k + 1:05d}001"
            else:
                cname = school_name(1) if k == 0 else f"{school_name(1)} — structura {k + 1}"
                ccode = f"2600001{k + 2:03d}"
            n_units = 1 if level == "school" else per_child or rng.choice((1, 1, 1, 2, 2, 3))
            aggs: list[Aggregate] = []
            propensity = rng.uniform(0.02, 0.4)  # how often this child's reused units are ones at risk
            if not is_excluded and state != "not_started":
                for u in range(n_units):
                    uid += 1
                    if len(evaluated) < pool:
                        pool_names = _Names()
                        unit = synthetic_unit(rng, uid, classes_per_unit or rng.randint(4, 18), pool_names)
                        evaluated.append((evaluate_unit(unit, rs), pool_names))
                        result, pool_names = evaluated[-1]
                    else:
                        wanted = rng.random() < propensity
                        matching = [e for e in evaluated if e[0].at_risk == wanted] or evaluated
                        result, pool_names = matching[rng.randrange(len(matching))]
                    uname = cname if level == "school" or u == 0 else f"{cname} — structura {u + 1}"
                    risk.extend(_risk_entries(result, {"id": uid, "name": uname}, pool_names))
                    if result.at_risk:
                        units_at_risk.append({"id": uid, "name": uname, "risk_codes": sorted(
                            f"{c}.{lvl}" for (c, lvl), summary in result.summaries.items()
                            if summary.outcome == "risk")})
                    aggs.append(result.aggregate)
            agg = sum_aggregates(aggs)
            child_aggs.append(agg)
            rows.append({"id": cid, "code": ccode, "name": cname, "level": CHILD_LEVEL[level], "state": state,
                         "excluded": is_excluded, "exclusion_reason": None, "units": agg.units,
                         "classes": agg.classes, "pupils": agg.pupils, "units_at_risk": agg.units_at_risk,
                         "at_risk": agg.units_at_risk > 0, "groups": {}})
            if is_excluded:
                reason = "Unitate închisă temporar pentru reabilitare; elevii învață în școala din satul vecin."
                rows[-1].update(exclusion_reason=reason, state="not_started")
                exclusions.append({"id": cid, "code": ccode, "name": cname, "level": CHILD_LEVEL[level],
                                   "reason": reason})
        total = sum_aggregates(child_aggs)
        for row, agg in zip(rows, child_aggs, strict=True):
            if agg.units:
                row["groups"] = _child_groups(agg, total, rs)
    for row in rows:
        row["included"] = not row["excluded"]
    risk_total = len(risk)
    risk.sort(key=lambda r: (r["outcome"] != "risk", -(r["score"] or 0), r["unit"]["id"], r["criterion"], r["item"]))
    if risk_cap is not None and level != "unit":
        risk = risk[:risk_cap]
    submitted = sum(1 for r in rows if r["state"] == "submitted" and not r["excluded"])
    n_excluded = sum(1 for r in rows if r["excluded"])
    return {
        "schema": 1,
        "campaign": {"id": 7, "name": "Monitorizarea segregării școlare 2026–2027", "school_year": "2026-2027"},
        "node": node, "version": version, "reason": "submitted" if submitted == len(rows) - n_excluded and rows
        else "on_demand", "provisional": submitted < len(rows) - n_excluded or not rows,
        "generated_at": "2026-11-21T08:00:00+00:00",
        "ruleset": {"key": rs.key, "version": rs.version},
        "completion": {"children_level": CHILD_LEVEL[level], "total": len(rows), "submitted": submitted,
                       "excluded": n_excluded, "pending": len(rows) - submitted - n_excluded},
        "totals": indicators_from_totals(total, rs),
        "risk": risk,
        "children": rows,
        "exclusions": exclusions,
        "dissimilarity": dissimilarity,
        "aggregate": total.to_dict(),
        # keys report_data adds beyond the contract (see its docstring)
        "risk_total": risk_total,
        "units_at_risk": units_at_risk,
        "units_at_risk_total": len(units_at_risk),
    }
