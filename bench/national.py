"""National-scale measurements on PostgreSQL: seeding the synthetic country, and the tree queries the pages use,
each beside a hand-written SQL statement over the same rows (the ratio is the figure to watch).

Prints one JSON object per measurement, then a readable table. Figures are wall-clock on this machine; run it
on an otherwise idle machine and compare ratios rather than absolute times across machines."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()

    from core import db
    from tests import support

    base = os.environ.get("ARBOR_BENCH_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres")
    url = support.fresh_pg_database(base, "arbor_bench")
    try:
        support.migrate(url)
        engine = db.configure(url)
        run(args, engine)
    finally:
        db.session.remove()
        db.engine().dispose()
        support.drop_pg_database(url)
    print()
    print(f"machine: {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}")
    print(f"{'benchmark':<34} {'figure':>12}  {'reference':>12}  {'ratio':>6}")
    for r in RESULTS:
        fig = r.get("ms", r.get("seconds"))
        unit = "ms" if "ms" in r else "s"
        ref = r.get("sql_ms")
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        print(f"{r['bench']:<34} {fig:>10.1f}{unit:>2}  {'' if ref is None else f'{ref:>10.1f}ms':>12}  {ratio:>6}")


def run(args, engine) -> None:
    from core.db import session
    from tenants import national, queries
    from tenants.models import Node, SchoolYear

    started = time.perf_counter()
    stats = national.seed_national(scale=args.scale)
    session.commit()
    emit("seed_national", seconds=round(time.perf_counter() - started, 2), scale=args.scale,
         schools=stats.schools, units=stats.units, classes=stats.classes, pupils=stats.pupils,
         peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
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


if __name__ == "__main__":
    main()
