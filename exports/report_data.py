"""The content of a report, as one JSON-ready dict: what the API returns, what the HTML page shows and what every
file format renders. Built from roll-up snapshots (:mod:`exports.rollup`), never from a template's own queries.

THE CONTRACT (shared by exports.rollup, exports.reports, exports.render, the web page and the API; language-neutral:
codes and numbers, no translated text — renderers translate)::

    {
      "schema": 1,
      "campaign": {"id": int, "name": str, "school_year": "2026-2027"},
      "node": {"id": int, "level": "unit"|"school"|"inspectorate"|"ministry", "code": str|None, "name": str,
               "county": {"id", "name"}|None, "school": {"id", "name"}|None},
      "version": int, "reason": "submitted"|"on_demand"|"reissued"|"extended", "provisional": bool,
      "generated_at": "2026-11-21T08:00:00+00:00",
      "ruleset": {"key": "segregation", "version": 1},
      "completion": {"children_level": "class"|"unit"|"school"|"inspectorate",
                     "total": int, "submitted": int, "excluded": int, "pending": int},
      "totals": indicators_from_totals(aggregate) — units, classes, pupils, classes_missing_pupils, units_at_risk,
                units_with_missing_data, units_at_risk_share, groups{group_id: {criterion, n, N, missing, share,
                reference_share, gap_pp, score}}, bench{group_id: {...}}, criteria{criterion: {level: {units, at_risk,
                scores}}},
      "risk": [  # flagged items: a unit's own items; above the unit, the flagged items of every unit below
        {"unit": {"id", "name"}, "criterion": str, "group": str, "level": "class"|"building"|"bench"|"locality",
         "item": str, "item_name": str, "outcome": "risk"|"missing_data", "score": float|None,
         "share": float|None, "reference_share": float|None, "gap_pp": float|None, "codes": [str, ...]}
      ],
      "children": [  # the breakdown one level down (a unit: its classes)
        {"id": int, "code": str|None, "name": str, "level": str, "state": str, "excluded": bool,
         "exclusion_reason": str|None, "units": int, "classes": int, "pupils": int, "units_at_risk": int,
         "at_risk": bool, "groups": {group_id: {"n", "N", "share", "gap_pp", "score"}}}
      ],
      "exclusions": [{"id": int, "code": str|None, "name": str, "level": str, "reason": str}],
      "dissimilarity": {group_id: float|None},  # units only, else {}
      "aggregate": Aggregate.to_dict(),
    }

Floats are shares 0–1, gaps in percentage points, scores 0–10; None where not computable.
"""
from __future__ import annotations

from typing import Any

SCHEMA = 1


def build(campaign, node, *, version: int = 1, reason: str = "on_demand") -> dict[str, Any]:
    """The report data of ``node`` in ``campaign`` (from snapshots; provisional when the node is not submitted)."""
    raise NotImplementedError("exports.report_data.build is being written (issue 6)")
