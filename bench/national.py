"""National-scale measurements on PostgreSQL (and Redis for the app's jobs), in a fresh database per run:

- seeding the synthetic country and its launched, mostly filled campaign (:mod:`tenants.national`; target 3 min);
- the tree queries the pages use, each beside a hand-written SQL statement over the same rows;
- report data (:mod:`bench.reports`): the national report from snapshots and the full recomputation from the raw
  class tables, each beside one hand-written SQL aggregate; county PDF/XLSX and national XLSX rendering in fresh
  processes (seconds, peak RSS);
- HTTP load (:mod:`bench.load`): class-table GET/PUT through the API on gunicorn with 2 workers at 32 clients,
  beside the minimal app of ``bench/minimal_app.py`` under the same settings.

Prints one JSON object per measurement, then a readable table with the targets (``--save FILE`` writes both as
Markdown). Figures are wall-clock on this machine; run it on an otherwise idle machine and compare ratios rather
than absolute times across machines. ``bench/run`` is the command."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

from sqlalchemy import select, text

RESULTS: list[dict] = []


def emit(name: str, **figures) -> None:
    row = {"bench": name, **figures}
    RESULTS.append(row)
    print(json.dumps(row, ensure_ascii=False), flush=True)


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    """Median wall time in milliseconds of ``repeat`` runs (after one warm-up), and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", default=None, help="run only this measurement (besides the seed)")
    ap.add_argument("--clients", type=int, default=32, help="HTTP load: concurrent clients")
    ap.add_argument("--seconds", type=float, default=20.0, help="HTTP load: measured seconds per server")
    ap.add_argument("--warmup", type=float, default=2.0, help="HTTP load: seconds before measuring")
    ap.add_argument("--no-load", action="store_true", help="skip the HTTP load test")
    ap.add_argument("--no-render", action="store_true", help="skip rendering the report files")
    ap.add_argument("--recompute", choices=("national", "county"), default="national",
                    help="recompute from the raw tables the nation, or the county closest to 170 schools")
    ap.add_argument("--save", metavar="FILE", help="also write the table and the JSON lines to FILE (Markdown)")
    args = ap.parse_args(argv)

    from core import db
    from tests import support

    base = os.environ.get("ARBOR_BENCH_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres")
    url = support.fresh_pg_database(base, "arbor_bench")
    try:
        support.migrate(url)
        engine = db.configure(url)
        run(args, engine, url)
    finally:
        db.session.remove()
        db.engine().dispose()
        support.drop_pg_database(url)
    machine = (f"machine: {platform.node()} · {os.cpu_count()} cores · load average "
               f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end · Python {platform.python_version()}")
    print()
    print(machine)
    print(table())
    if args.save:
        with open(args.save, "w", encoding="utf-8") as f:
            f.write(f"# Last benchmark run\n\n`bench/run {' '.join(argv if argv is not None else sys.argv[1:])}` "
                    f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine}.\n\n"
                    f"```\n{table()}\n```\n\nOne JSON object per measurement:\n\n```\n"
                    + "\n".join(json.dumps(r, ensure_ascii=False) for r in RESULTS) + "\n```\n")


def _figure(r: dict) -> tuple[str, str]:
    """The main figure of a row and its reference, as text."""
    if "rps" in r:
        return (f"{r['rps']:.0f} rps p95 {r['p95_ms']:.0f}ms",
                "" if r.get("ref_rps") is None else f"{r['ref_rps']:.0f} rps p95 {r['ref_p95_ms']:.0f}ms")
    if "ms" in r:
        fig = f"{r['ms']:.1f} ms"
    elif "seconds" in r:
        fig = f"{r['seconds']:.2f} s"
    else:
        fig = ""
    if r.get("peak_rss_mb") is not None and "rss" not in r["bench"]:
        fig += f" {r['peak_rss_mb']:.0f}MB"
    return fig, "" if r.get("sql_ms") is None else f"{r['sql_ms']:.1f} ms"


def table() -> str:
    lines = [f"{'benchmark':<40} {'figure':>26}  {'reference':>22}  {'ratio':>6}  {'target':<22}"]
    for r in RESULTS:
        fig, ref = _figure(r)
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else ""
        target = r.get("target", "")
        if target and r.get("met") is not None:
            target += " ok" if r["met"] else " MISSED"
        lines.append(f"{r['bench']:<40} {fig:>26}  {ref:>22}  {ratio:>6}  {target:<22}")
    return "\n".join(lines)


def run(args, engine, url: str) -> None:
    from core.db import session
    from tenants import national, queries
    from tenants.models import Node, SchoolYear

    started = time.perf_counter()
    stats = national.seed_national(scale=args.scale)
    session.commit()
    tree_s = time.perf_counter() - started
    emit("seed_national tree", seconds=round(tree_s, 2), scale=args.scale,
         schools=stats.schools, units=stats.units, classes=stats.classes, pupils=stats.pupils,
         peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    started = time.perf_counter()
    cstats = national.seed_national_campaign()
    session.commit()
    campaign_s = time.perf_counter() - started
    emit("seed_national campaign", seconds=round(campaign_s, 2), states=cstats.states,
         classes_filled=cstats.classes_filled, classes_missing=cstats.classes_missing,
         units_excluded=cstats.units_excluded, counties_submitted=cstats.counties_submitted,
         snapshots=cstats.snapshots, phases=cstats.timings,
         peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    emit("seed_national total", seconds=round(tree_s + campaign_s, 2), target="<= 180 s",
         met=tree_s + campaign_s <= 180)
    with engine.connect() as c:
        c.execute(text("ANALYZE"))
        c.commit()

    year = session.execute(select(SchoolYear)).scalar()
    counties = session.execute(select(Node).where(Node.level == "inspectorate").order_by(Node.id)).scalars().all()
    ministry = session.execute(select(Node).where(Node.level == "ministry")).scalar()

    def want(name):
        return args.only in (None, name)

    if want("county_counts"):
        ms, _ = timed(lambda: queries.subtree_counts(counties, year))
        sql = text("SELECT n.county_id, count(*) AS classes, sum(c.pupils) AS pupils FROM classes c "
                   "JOIN nodes n ON n.id = c.unit_id WHERE c.school_year_id = :y AND n.active "
                   "GROUP BY n.county_id")
        sql_ms, _ = timed(lambda: session.execute(sql, {"y": year.id}).all())
        emit("county_counts (42 counties)", ms=round(ms, 1), sql_ms=round(sql_ms, 1), ratio=round(ms / sql_ms, 2))

    if want("ministry_counts"):
        ms, _ = timed(lambda: queries.subtree_counts([ministry], year))
        sql = text("SELECT count(*), sum(c.pupils) FROM classes c JOIN nodes n ON n.id = c.unit_id "
                   "WHERE c.school_year_id = :y AND n.active")
        sql_ms, _ = timed(lambda: session.execute(sql, {"y": year.id}).all())
        emit("ministry_counts (nation)", ms=round(ms, 1), sql_ms=round(sql_ms, 1), ratio=round(ms / sql_ms, 2))

    if want("county_children_page"):
        biggest = max(counties, key=lambda n: queries.count(queries.children(n)))
        ms, _ = timed(lambda: session.execute(queries.children(biggest).limit(50)).scalars().all())
        emit("county_children_page (50 schools)", ms=round(ms, 2), county=biggest.code)

    if want("search"):
        from types import SimpleNamespace
        grant_user = SimpleNamespace(is_authenticated=True, active=True,
                                     memberships=[SimpleNamespace(role="commission", node_id=ministry.id,
                                                                  node=ministry)])
        ms, found = timed(lambda: session.execute(
            queries.search_nodes(grant_user, "scoala gimnaziala nr. 12").limit(50)).scalars().all())
        emit("search nation-wide (commission)", ms=round(ms, 1), hits=len(found))

    if want("reports"):
        from bench import reports
        if reports.available():
            reports.measure(emit, session, cstats.campaign_id, render=not args.no_render,
                            recompute_scope=args.recompute)
            session.commit()
        else:
            emit("reports (exports.rollup / report_data not in this checkout: skipped)")

    if want("load") and not args.no_load:
        from bench import load
        from workflows.models import Campaign
        campaign = session.get(Campaign, cstats.campaign_id)
        plan = load.prepare(campaign.id, clients=args.clients)
        session.remove()
        res = load.run(url, plan, clients=args.clients, seconds=args.seconds, warmup=args.warmup,
                       redis_url=os.environ.get("ARBOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
        for op in ("get", "put", "all"):
            a, m = res["arbor"].get(op), res["minimal"].get(op)
            if a is None or m is None:
                continue
            row = {**a, "ref_rps": m["rps"], "ref_p95_ms": m["p95_ms"], "ref_p99_ms": m["p99_ms"],
                   "ref_errors": m["errors"], "ratio": round(a["rps"] / m["rps"], 2) if m["rps"] else None,
                   "clients": args.clients, "seconds": args.seconds}
            if op == "put":
                row["target"] = ">= 0.5x, p95 <= 100ms, 0 err"
                row["met"] = bool(row["ratio"] and row["ratio"] >= 0.5 and a["p95_ms"] is not None
                                  and a["p95_ms"] <= 100 and a["errors"] == 0)
            emit(f"http {op} (gunicorn -w 2, vs minimal)", **row)


if __name__ == "__main__":
    main()
