"""Rendering report files at scale: a county report (~170 schools) to PDF and XLSX, the national report (42 counties,
~8,000 units, thousands of risk items) to XLSX and PDF. Targets: county PDF <= 5 s, national XLSX <= 10 s, peak
memory <= 300 MB.

Each measurement runs in a fresh process (so its peak RSS is its own): build the engine-computed sample
(:func:`exports.render.samples.sample_data`, not timed), render it ``--repeat`` times, print one JSON object with the
median wall seconds, the CPU seconds of that run and the process's peak RSS. On a busy machine (see
``load_average``) wall time exceeds CPU time; ``ok`` judges the wall time. The samples keep every flagged item
above the unit (20,000 for the nation), the worst case: report_data caps the list at ``exports.rollup.RISK_CAP``.
Usage: ``.venv/bin/python -m bench.render [--only county_pdf] [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    # name: (sample arguments, format, target seconds)
    "county_pdf": ({"children": 170, "level": "inspectorate"}, "pdf", 5.0),
    "county_xlsx": ({"children": 170, "level": "inspectorate"}, "xlsx", 5.0),
    "national_xlsx": ({"children": 42, "level": "ministry"}, "xlsx", 10.0),
    "national_pdf": ({"children": 42, "level": "ministry"}, "pdf", 5.0),
    "national_csv": ({"children": 42, "level": "ministry"}, "csv", 1.0),
}
PEAK_RSS_MB = 300


def measure(name: str, repeat: int) -> dict:
    from exports import render
    from exports.render.samples import sample_data

    kwargs, fmt, target = CASES[name]
    data = sample_data(**kwargs)
    walls, cpus, size = [], [], 0
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        size = len(render.render(fmt, data, "ro"))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = statistics.median(walls)
    return {"bench": f"render_{name}", "format": fmt, "seconds": round(seconds, 2),
            "cpu_seconds": round(statistics.median(cpus), 2), "peak_rss_mb": round(peak, 1), "bytes": size,
            "children": len(data["children"]), "units": data["totals"]["units"], "risk_items": len(data["risk"]),
            "target_seconds": target, "target_rss_mb": PEAK_RSS_MB, "load_average": round(os.getloadavg()[0], 2),
            "ok": seconds <= target and peak <= PEAK_RSS_MB}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=sorted(CASES), default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.in_process:
        print(json.dumps(measure(args.only, args.repeat), ensure_ascii=False), flush=True)
        return
    failed = False
    for name in ([args.only] if args.only else list(CASES)):
        out = subprocess.run([sys.executable, "-m", "bench.render", "--in-process", "--only", name,
                              "--repeat", str(args.repeat)], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        failed |= not row["ok"]
        print(json.dumps(row, ensure_ascii=False), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
