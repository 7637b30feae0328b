"""The benchmark command at a tiny scale, so it cannot rot: it seeds a fresh PostgreSQL database, prints one JSON
object per measurement (every figure the README quotes) and the table, and the HTTP load runs both gunicorn
servers without errors. Figures are not checked: wall-clock times say nothing on a shared test machine."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.config import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.no_rollback]


def test_bench_runs_end_to_end_at_a_tiny_scale(pg_url):
    env = {**os.environ, "ARBOR_BENCH_PG_URL": pg_url}
    if os.environ.get("ARBOR_TEST_REDIS_URL"):
        env["ARBOR_BENCH_REDIS_URL"] = os.environ["ARBOR_TEST_REDIS_URL"]
    r = subprocess.run([sys.executable, "-m", "bench.national", "--scale", "0.003", "--clients", "2",
                        "--seconds", "1", "--warmup", "0.5"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = {}
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            rows[row["bench"]] = row
    assert {"seed_national tree", "seed_national campaign", "seed_national total"} <= set(rows)
    assert rows["seed_national campaign"]["classes_filled"] > 0
    assert rows["seed_national total"]["seconds"] > 0
    for op in ("get", "put"):
        row = rows[f"http {op} (gunicorn -w 2, vs minimal)"]
        assert row["requests"] > 0 and row["errors"] == 0, row
        assert row["ref_rps"] > 0 and row["ref_errors"] == 0, row
        assert row["p95_ms"] is not None and row["ratio"] is not None
    from bench import reports
    if reports.available():
        assert rows["recompute national (raw tables)"]["classes"] == rows["recompute national (raw tables)"][
            "sql_classes"] > 0
        assert rows["report national (snapshots)"]["provisional"] is False
        for name in ("county_pdf", "county_xlsx", "national_xlsx"):
            row = rows[f"render {name}"]
            assert row["bytes"] > 0 and row["peak_rss_mb"] > 0, row
    assert "benchmark" in r.stdout and "http put" in r.stdout.split("benchmark", 1)[1], "the readable table"
