"""HTTP load: class-table GET and PUT through ``/api/v1`` on gunicorn (2 sync workers, production configuration)
against PostgreSQL, beside ``bench/minimal_app.py`` (one row read / one row UPDATE per request) under the same
gunicorn settings and the same clients.

Each of ``clients`` threads plays one unit responsible with a bearer token and the class tables of a few units that
are still being filled; it loops GET a random class table of its own → PUT one changed count with the version it
read (a 50/50 mix, never a conflict by design). Every request opens its own connection (gunicorn's sync workers
close them, as behind a proxy). Figures: requests per second, p50/p95/p99 latency in ms, errors (anything but 2xx,
or no answer), per operation and overall."""
from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync", "--timeout", "60",
            "--log-level", "warning"]


@dataclass
class Plan:
    campaign_id: int
    tokens: list[str]
    classes: list[list[tuple[int, int]]]  # per client: (class id, campaign_values id)
    minimal_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))


def prepare(campaign_id: int, clients: int = 32, units_per_client: int = 8, seed: int = 1) -> Plan:
    """One unit responsible (with an API token) per client, each over ``units_per_client`` units that are neither
    submitted nor excluded nor under a submitted school or county. Commits."""
    from sqlalchemy import select
    from sqlalchemy.orm import aliased

    from core.db import session
    from tenants import operations
    from tenants.models import Node
    from workflows.models import CampaignState, CampaignValues

    unit, school, county = (aliased(CampaignState) for _ in range(3))
    q = (select(unit.id, unit.node_id).join(school, school.id == unit.parent_id)
         .join(county, county.id == school.parent_id)
         .where(unit.campaign_id == campaign_id, unit.level == "unit", unit.state != "submitted",
                unit.excluded.is_(False), school.state != "submitted", school.excluded.is_(False),
                county.state != "submitted").order_by(unit.node_id))
    candidates = session.execute(q).all()
    rng = random.Random(seed)
    picked = rng.sample(candidates, min(len(candidates), clients * units_per_client))
    tokens, classes = [], []
    for i in range(clients):
        mine = picked[i::clients]
        user = operations.create_user(email=f"bench.load.{i}@arbor.invalid", name=f"Bench client {i}")
        for _state_id, node_id in mine:
            operations.add_membership(user, session.get(Node, node_id), "unit_responsible")
        _tok, raw = operations.issue_token(user, "bench load")
        tokens.append(raw)
        rows = session.execute(select(CampaignState.class_id, CampaignValues.id)
                               .join(CampaignValues, (CampaignValues.state_id == CampaignState.id)
                                     & (CampaignValues.section == "class"))
                               .where(CampaignState.parent_id.in_([s for s, _n in mine]),
                                      CampaignState.state != "submitted")
                               .order_by(CampaignState.class_id)).all()
        classes.append([tuple(r) for r in rows])
    session.commit()
    if not all(classes):
        raise RuntimeError("not enough open class tables for every client: seed a larger country")
    return Plan(campaign_id, tokens, classes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(target: str, env: dict, log: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen([*GUNICORN, "--bind", f"127.0.0.1:{port}", target], cwd=ROOT,
                            env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn {target} exited ({proc.returncode}); see {log}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/")
            c.getresponse().read()
            c.close()
            return proc, port
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"gunicorn {target} did not answer within 60 s; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _request(port: int, method: str, path: str, headers: dict, body: bytes | None = None) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def _percentile(sorted_ms: list[float], p: float) -> float | None:
    if not sorted_ms:
        return None
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms)) - 1))]


def drive(port: int, one_round, clients: int, seconds: float, warmup: float = 2.0) -> dict:
    """Run ``one_round(port, client_index, rng, record)`` in ``clients`` threads for ``warmup`` + ``seconds``;
    only the measured window counts. ``record(op, ms, ok)`` collects a request."""
    samples: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    lock = threading.Lock()
    t_start = time.monotonic() + warmup
    t_end = t_start + seconds

    def record(op: str, started: float, ok: bool) -> None:
        if started < t_start or started > t_end:
            return
        ms = (time.monotonic() - started) * 1000
        with lock:
            samples.setdefault(op, []).append(ms)
            if not ok:
                errors[op] = errors.get(op, 0) + 1

    def worker(i: int) -> None:
        rng = random.Random(i)
        while time.monotonic() < t_end:
            one_round(port, i, rng, record)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = {}
    every = sorted(ms for v in samples.values() for ms in v)
    for op, ms in [*sorted(samples.items()), ("all", every)]:
        ms = sorted(ms)
        out[op] = {"requests": len(ms), "rps": round(len(ms) / seconds, 1), "p50_ms": _r(_percentile(ms, 50)),
                   "p95_ms": _r(_percentile(ms, 95)), "p99_ms": _r(_percentile(ms, 99)),
                   "errors": errors.get(op, 0) if op != "all" else sum(errors.values())}
    return out


def _r(v):
    return None if v is None else round(v, 1)


def arbor_round(plan: Plan):
    """GET a random class table of the client's units, then PUT one changed count with the version read."""
    def one_round(port, i, rng, record):
        headers = {"Authorization": f"Bearer {plan.tokens[i]}", "X-Forwarded-Proto": "https",
                   "Accept": "application/json"}
        class_id, _row = rng.choice(plan.classes[i])
        path = f"/api/v1/campaigns/{plan.campaign_id}/classes/{class_id}/table"
        started = time.monotonic()
        try:
            status, body = _request(port, "GET", path, headers)
        except OSError:
            record("get", started, False)
            return
        record("get", started, status == 200)
        if status != 200:
            return
        current = json.loads(body)
        pupils = current["values"].get("pupils") or 0
        change = {"values": {"single_parent": rng.randint(0, pupils)}, "version": current["version"]}
        started = time.monotonic()
        try:
            status, _ = _request(port, "PUT", path, {**headers, "Content-Type": "application/json"},
                                 json.dumps(change).encode())
        except OSError:
            status = 0
        record("put", started, status == 200)
    return one_round


def minimal_round(plan: Plan):
    """The same pattern on the minimal app: read the row, write it back with one count changed."""
    def one_round(port, i, rng, record):
        headers = {"Authorization": f"Bearer {plan.minimal_token}"}
        _class_id, row = rng.choice(plan.classes[i])
        started = time.monotonic()
        try:
            status, body = _request(port, "GET", f"/values/{row}", headers)
        except OSError:
            record("get", started, False)
            return
        record("get", started, status == 200)
        if status != 200:
            return
        current = json.loads(body)
        values = dict(current["values"])
        values["single_parent"] = rng.randint(0, values.get("pupils") or 0)
        started = time.monotonic()
        try:
            status, _ = _request(port, "PUT", f"/values/{row}", {**headers, "Content-Type": "application/json"},
                                 json.dumps({"values": values, "version": current["version"]}).encode())
        except OSError:
            status = 0
        record("put", started, status == 200)
    return one_round


def run(db_url: str, plan: Plan, *, clients: int = 32, seconds: float = 20.0, warmup: float = 2.0,
        redis_url: str | None = None, log_dir: Path | None = None) -> dict:
    """Both servers, one after the other; returns {"arbor": figures, "minimal": figures}."""
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="arbor-bench-"))
    instance = log_dir / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    arbor_env = {"ARBOR_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(32), "DATABASE_URL": db_url,
                 "ARBOR_INSTANCE": str(instance), "ARBOR_MAIL_OUTBOX": str(instance / "outbox")}
    if redis_url:
        arbor_env["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    results = {}
    for name, target, env, one_round in (
            ("arbor", "wsgi:app", arbor_env, arbor_round(plan)),
            ("minimal", "bench.minimal_app:app", {"BENCH_DATABASE_URL": db_url, "BENCH_TOKEN": plan.minimal_token},
             minimal_round(plan))):
        proc, port = start_server(target, env, log_dir / f"gunicorn-{name}.log")
        try:
            results[name] = drive(port, one_round, clients, seconds, warmup)
        finally:
            stop_server(proc)
    return results
