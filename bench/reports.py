"""Report measurements on the seeded national campaign (PostgreSQL), each beside a hand-written SQL statement over
the same rows where one exists:

- ``report_national_from_snapshots``: :func:`exports.report_data.build` for the ministry when every inspectorate is
  submitted (it reads the 42 inspectorate snapshots and the nation's) vs one SQL sum of the inspectorates' group
  counts. The seed submits three counties; the other 39 are marked submitted and snapshotted (from their submitted
  schools) inside a transaction that is rolled back afterwards, so the report reads snapshots only. What a
  snapshot holds above the unit is capped (200 risk items, 2,000 units at risk), so the figure does not depend on
  how much of the country was submitted.
- ``recompute``: :func:`exports.rollup.recompute` of the nation (or, with ``--recompute county``, of the county
  closest to 170 schools) from the raw class tables (every unit not excluded, ``only_submitted=False``: the
  provisional report's work) vs one SQL statement summing every integer count of the same class tables
  (``json_to_record``, one parse per row; PostgreSQL runs it as a parallel query on both cores, as the
  recomputation splits its counties between two processes). Both are timed the same way: a warm-up, then the
  median of three runs.
- ``render_*``: a county report (the county closest to 170 schools) to PDF and XLSX and the national report to
  XLSX, each rendered in a fresh process from the report data (built here, not timed): wall and CPU seconds and
  the peak RSS of that process.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
RENDERS = (("county_pdf", "county", "pdf", 5.0), ("county_xlsx", "county", "xlsx", 5.0),
           ("national_xlsx", "national", "xlsx", 10.0))
PEAK_RSS_MB = 300


def available() -> bool:
    """Whether the report modules this needs are in the checkout."""
    try:
        from exports import report_data, rollup
    except ImportError:
        return False
    return all(hasattr(rollup, n) for n in ("recompute", "snapshot_node", "snapshot_nation")) \
        and hasattr(report_data, "build")


def _timed(fn, repeat: int, warmup: bool = True) -> tuple[float, object]:
    result = fn() if warmup else None
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def national_sql(session, campaign_id: int):
    return session.execute(text(
        "SELECT g.key, sum((g.value->>'n')::bigint), sum((g.value->>'N')::bigint), "
        "sum((g.value->>'missing')::bigint) FROM snapshots s CROSS JOIN LATERAL json_each(s.aggregate->'groups') g "
        "WHERE s.campaign_id = :c AND s.level = 'inspectorate' GROUP BY g.key"), {"c": campaign_id}).all()


def recompute_sql(session, campaign, keys: list[str], county_id: int | None = None):
    """Every integer count of the class tables of units (and schools) not excluded (in one county, or all), summed,
    in one statement."""
    cols = ", ".join(f'"{k}" int' for k in keys)
    sums = ", ".join(f'sum(x."{k}")' for k in keys)
    return session.execute(text(
        f"SELECT count(*), {sums} FROM campaign_values v "
        "JOIN campaign_states c ON c.id = v.state_id JOIN campaign_states u ON u.id = c.parent_id "
        "JOIN campaign_states s ON s.id = u.parent_id "
        f"CROSS JOIN LATERAL json_to_record(v.values) AS x({cols}) "
        "WHERE v.campaign_id = :c AND v.section = 'class' AND NOT u.excluded AND NOT s.excluded"
        + (" AND c.county_id = :county" if county_id else "")),
        {"c": campaign.id, "county": county_id}).one()


def _submit_every_county(session, campaign) -> None:
    """Inside the caller's (rolled-back) transaction: every inspectorate submitted, its snapshot and the nation's
    written from what lies below (the submitted schools' snapshots)."""
    from exports import rollup
    from workflows.models import CampaignState
    rows = session.execute(select(CampaignState).where(CampaignState.campaign_id == campaign.id,
                                                       CampaignState.level == "inspectorate")).scalars().all()
    for r in rows:
        r.state = "submitted"
    session.flush()
    for r in rows:
        rollup.snapshot_node(campaign, r)
    rollup.snapshot_nation(campaign)


def measure(emit, session, campaign_id: int, *, repeat: int = 5, render: bool = True,
            recompute_scope: str = "national") -> None:
    from exports import report_data, rollup
    from tenants.models import Node
    from workflows.models import Campaign
    from workflows.values import definition_for

    campaign = session.get(Campaign, campaign_id)
    ministry = session.get(Node, campaign.root_id)
    schools = dict(session.execute(select(Node.county_id, func.count()).where(Node.level == "school")
                                   .group_by(Node.county_id)).all())
    county = session.get(Node, min(schools, key=lambda c: (abs(schools[c] - 170), c)))

    # The full recomputation, of the nation or of the ~170-school county, timed like its SQL reference (a warm-up,
    # then the median of three runs): it takes seconds now, no longer minutes, so it no longer needs the single cold
    # run that favoured neither side.
    keys = [f.key for f in definition_for(campaign, "class").fields if f.is_input and f.type == "integer"]
    target_node = ministry if recompute_scope == "national" else county
    ms, agg = _timed(lambda: rollup.recompute(campaign, target_node, only_submitted=False), 3)
    sql_ms, sql = _timed(lambda: recompute_sql(session, campaign, keys,
                                               None if target_node is ministry else target_node.id), 3)
    emit(f"recompute {recompute_scope if target_node is ministry else 'county ' + county.code} (raw tables)",
         ms=round(ms, 1), sql_ms=round(sql_ms, 1), ratio=round(ms / sql_ms, 2), units=agg.units,
         classes=agg.classes, pupils=agg.pupils, sql_classes=sql[0], sql_pupils=sql[1], target="<= 2x SQL",
         met=ms <= 2 * sql_ms)

    # The national report from snapshots.
    nested = session.begin_nested()
    try:
        _submit_every_county(session, campaign)
        ms, national = _timed(lambda: report_data.build(campaign, ministry), repeat)
        sql_ms, _ = _timed(lambda: national_sql(session, campaign.id), repeat)
        emit("report national (snapshots)", ms=round(ms, 1), sql_ms=round(sql_ms, 1), ratio=round(ms / sql_ms, 2),
             provisional=national["provisional"], sources=national.get("sources"), target="<= 1000 ms",
             met=ms <= 1000 and not national["provisional"])
    finally:
        nested.rollback()
    if not render:
        return
    # The county's report data (provisional: submitted schools from snapshots, the rest recomputed) and the national
    # data above, each rendered in a fresh process.
    data = {"county": report_data.build(campaign, county), "national": national}
    for name, which, fmt, target in RENDERS:
        row = render_in_child(data[which], fmt)
        emit(f"render {name}", **row, schools=schools[county.id] if which == "county" else None,
             target=f"<= {target:g} s, <= {PEAK_RSS_MB} MB",
             met=row["seconds"] <= target and row["peak_rss_mb"] <= PEAK_RSS_MB)


def render_in_child(data: dict, fmt: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
        path = f.name
    try:
        out = subprocess.run([sys.executable, "-m", "bench.reports", path, fmt], cwd=ROOT, capture_output=True,
                             text=True, check=True, env={**os.environ})
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        os.unlink(path)


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM starts afresh at exec; ``ru_maxrss`` would report the parent's
    peak at fork time when that was higher."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(path: str, fmt: str) -> None:
    """In a fresh process: load report data, render it once, print seconds, CPU seconds and peak RSS."""
    from exports import render
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    wall, cpu = time.perf_counter(), time.process_time()
    size = len(render.render(fmt, data, "ro"))
    print(json.dumps({"seconds": round(time.perf_counter() - wall, 2),
                      "cpu_seconds": round(time.process_time() - cpu, 2),
                      "peak_rss_mb": peak_rss_mb(),
                      "bytes": size, "format": fmt, "children": len(data.get("children", [])),
                      "risk_items": len(data.get("risk", []))}), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
