"""Profile the class-table API hot path in process: GET and PUT of ``/api/v1/campaigns/{cid}/classes/{id}/table``
with a bearer token through the Flask test client, on PostgreSQL.

Seeds a small synthetic country and its campaign (:mod:`tenants.national`) in a fresh database (dropped at the
end unless ``--keep``; ``--db URL`` reuses a database a previous ``--keep`` run left), then:

1. prints the SQL statements of one GET and one PUT (``--sql``) and the statement count per request;
2. times ``--rounds`` GET+PUT rounds (ms per request, median and mean);
3. runs them again under cProfile and prints the top functions by cumulative time (``--top``).

``.venv/bin/python -m bench.profile_api [--scale 0.02] [--rounds 300] [--sql] [--keep | --db URL]``"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import secrets
import statistics
import time

from sqlalchemy import event


def seed(url: str, scale: float) -> None:
    from bench import load
    from core import db
    from core.db import session
    from tenants import national

    db.configure(url)
    national.seed_national(scale=scale)
    session.commit()
    cstats = national.seed_national_campaign()
    session.commit()
    plan = load.prepare(cstats.campaign_id, clients=4)
    session.commit()
    with db.engine().connect() as c:  # as bench/national.py does: plans from current statistics
        c.exec_driver_sql("ANALYZE")
        c.commit()
    with open(_plan_file(url), "w") as f:
        json.dump({"campaign_id": plan.campaign_id, "tokens": plan.tokens, "classes": plan.classes}, f)
    session.remove()


def _plan_file(url: str) -> str:
    return f"/tmp/arbor_profile_api_{url.rsplit('/', 1)[-1]}.json"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--sql", action="store_true", help="print the statements of one GET and one PUT")
    ap.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    ap.add_argument("--db", help="reuse a database seeded by an earlier --keep run")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--dump", help="also write the cProfile data to this file (pstats)")
    args = ap.parse_args(argv)

    from tests import support
    base = os.environ.get("ARBOR_BENCH_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres")
    if args.db:
        url = args.db
    else:
        url = support.fresh_pg_database(base, "arbor_profile")
        support.migrate(url)
        t = time.perf_counter()
        seed(url, args.scale)
        print(f"seeded scale {args.scale} in {time.perf_counter() - t:.1f} s")
    try:
        run(url, args)
    finally:
        if args.keep or args.db:
            print(f"database kept: --db {url}")
        else:
            from core import db
            db.session.remove()
            db.engine().dispose()
            support.drop_pg_database(url)


def run(url: str, args) -> None:
    from app import create_app
    from core import db

    with open(_plan_file(url)) as f:
        plan = json.load(f)
    app = create_app({"ENV": "production", "SECRET_KEY": secrets.token_urlsafe(32), "DATABASE_URL": url,
                      "REDIS_URL": None, "INSTANCE_DIR": "/tmp/arbor_profile_instance",
                      "MAIL_OUTBOX": "/tmp/arbor_profile_instance/outbox"})
    client = app.test_client()
    statements: list[str] = []
    timing: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    started: list[float] = []

    def before(conn, cursor, stmt, params, context, many):
        statements.append(stmt)
        started.append(time.perf_counter())

    def after(conn, cursor, stmt, params, context, many):
        key = " ".join(stmt.split())[:70]
        timing.setdefault(key, []).append(time.perf_counter() - started.pop())
    event.listen(db.engine(), "before_cursor_execute", before)
    event.listen(db.engine(), "after_cursor_execute", after)
    rng = random.Random(1)

    def one_round(i: int) -> tuple[float, float, int, int]:
        token = plan["tokens"][i % len(plan["tokens"])]
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https", "Accept": "application/json"}
        class_id, _row = rng.choice(plan["classes"][i % len(plan["classes"])])
        path = f"/api/v1/campaigns/{plan['campaign_id']}/classes/{class_id}/table"
        statements.clear()
        t, c = time.perf_counter(), time.process_time()
        r = client.get(path, headers=headers)
        t_get = time.perf_counter() - t
        cpu.setdefault("GET", []).append(time.process_time() - c)
        n_get = len(statements)
        assert r.status_code == 200, r.get_data(as_text=True)
        cur = r.get_json()
        change = {"values": {"single_parent": rng.randint(0, cur["values"].get("pupils") or 0)},
                  "version": cur["version"]}
        statements.clear()
        t, c = time.perf_counter(), time.process_time()
        r = client.put(path, headers=headers, json=change)
        t_put = time.perf_counter() - t
        cpu.setdefault("PUT", []).append(time.process_time() - c)
        assert r.status_code == 200, r.get_data(as_text=True)
        return t_get * 1000, t_put * 1000, n_get, len(statements)

    for i in range(20):  # warm-up
        one_round(i)
    if args.sql:
        token = plan["tokens"][0]
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"}
        class_id, _row = plan["classes"][0][0]
        path = f"/api/v1/campaigns/{plan['campaign_id']}/classes/{class_id}/table"
        statements.clear()
        cur = client.get(path, headers=headers).get_json()
        print(f"--- GET: {len(statements)} statements")
        for s in statements:
            print("  ", " ".join(s.split())[:200])
        statements.clear()
        r = client.put(path, headers=headers, json={"values": {"single_parent": 0}, "version": cur["version"]})
        assert r.status_code == 200, r.get_data(as_text=True)
        print(f"--- PUT: {len(statements)} statements")
        for s in statements:
            print("  ", " ".join(s.split())[:200])

    gets, puts, ng, np_ = [], [], set(), set()
    timing.clear()
    cpu.clear()
    for i in range(args.rounds):
        g, p, a, b = one_round(i)
        gets.append(g)
        puts.append(p)
        ng.add(a)
        np_.add(b)
    for name, ms, counts in (("GET", gets, ng), ("PUT", puts, np_)):
        print(f"{name}: {sorted(counts)} statements, median {statistics.median(ms):.2f} ms, "
              f"mean {statistics.mean(ms):.2f} ms, CPU of this process {statistics.mean(cpu[name]) * 1000:.2f} ms")
    print("statement wall time (driver round trip), mean ms:")
    for key, ts in sorted(timing.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {statistics.mean(ts) * 1000:6.2f} x{len(ts):<5} {key}")
    if not args.no_profile:
        prof = cProfile.Profile()
        prof.enable()
        for i in range(args.rounds):
            one_round(i)
        prof.disable()
        if args.dump:
            prof.dump_stats(args.dump)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(r"/work/main/(app|workflows|forms|tenants|core)/",
                                                                 args.top)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(r"site-packages/(flask|werkzeug|flask_\w+)/",
                                                                 args.top)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
