"""Background jobs on real Redis with a real ``flask worker --burst`` process.

The worker is another process, so it must see committed data: these tests build their own database (a fresh
PostgreSQL database when the suite runs on PostgreSQL, else a SQLite file), commit to it, and skip the per-test
rollback. Redis is ``ARBOR_TEST_REDIS_URL`` (DB 15, flushed before and after each test).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from flask import jsonify, request
from sqlalchemy import func, select, text

import tests.exports.sample_tasks  # noqa: F401  (the worker process imports them through run_worker)
from app.access import access, actor
from app.config import ROOT
from core import db as core_db
from core.db import session
from exports import jobs
from tenants import operations
from tenants.models import Node
from tests import support

pytestmark = [pytest.mark.redis, pytest.mark.no_rollback]
TIMEOUT = 30


@pytest.fixture
def live(redis_url, tmp_path):
    """An app on a committed database with REDIS_URL set; restores the process-wide bindings afterwards."""
    import redis
    conn = redis.Redis.from_url(redis_url)
    if conn.connection_pool.connection_kwargs.get("db") != 15:
        pytest.skip("the Redis tests flush their database: point ARBOR_TEST_REDIS_URL at DB 15")
    conn.flushdb()
    live = None
    # PostgreSQL, the production engine, when the suite has one; the embedded SQLite file otherwise.
    base = next((u for u in (os.environ.get("ARBOR_TEST_PG_URL"), os.environ.get("ARBOR_TEST_DATABASE_URL"))
                 if u and u.startswith("postgresql")), None)
    url = support.fresh_pg_database(base, "arbor_jobs") if base else f"sqlite:///{tmp_path / 'jobs.db'}"
    support.migrate(url)
    engine = core_db.make_engine(url)
    saved = (core_db._engine, core_db.session_factory.kw.get("bind"), jobs.backend.redis, jobs.backend.app_context)
    from app import create_app
    app = create_app({**support.test_config(engine, tmp_path / "instance"), "REDIS_URL": redis_url})
    _add_enqueue_route(app)
    try:
        with app.app_context():
            t = support.build_tree()
            owner = support.make_user("inspector", t.a, "owner@jobs.test")
            colleague = support.make_user("inspector", t.a, "colleague@jobs.test")
            _tok, raw = operations.issue_token(owner, "jobs")
            _tok, raw2 = operations.issue_token(colleague, "jobs")
            session.commit()
            env = {**os.environ, "FLASK_APP": "wsgi", "ARBOR_ENV": "testing", "DATABASE_URL": url,
                   "REDIS_URL": redis_url, "SECRET_KEY": "test-secret", "ARBOR_INSTANCE": str(tmp_path / "instance"),
                   "ARBOR_ARGON2_TIME_COST": "1", "ARBOR_ARGON2_MEMORY_KIB": "8", "PYTHONPATH": str(ROOT)}
            live = SimpleNamespace(app=app, client=app.test_client(), redis=conn, engine=engine, env=env,
                                   tmp=tmp_path, county_id=t.a.id, owner=_auth(raw), colleague=_auth(raw2), procs=[])
            yield live
    finally:
        for proc in getattr(live, "procs", []):  # a failed test must not leave a worker eating the next queue
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        session.remove()
        engine.dispose()
        core_db._engine = saved[0]
        core_db.session_factory.configure(bind=saved[1])
        jobs.backend.redis, jobs.backend.app_context = saved[2], saved[3]
        conn.flushdb()
        if url.startswith("postgresql"):
            support.drop_pg_database(url)


def _auth(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def _add_enqueue_route(app) -> None:
    """A write endpoint of the API blueprint (token auth, commit after the response, dispatch after the commit),
    enqueuing a test task: the path every view that starts a job takes."""
    @access()
    def enqueue_test_job():
        body = request.get_json()
        job = jobs.enqueue(body["task"], node_id=body["node_id"], user_id=actor().id, **body["params"])
        return jsonify({"id": job.id}), 202

    app.add_url_rule("/api/v1/test-jobs", endpoint="api.test_jobs", view_func=enqueue_test_job, methods=["POST"])


def _start_job(live, **params) -> int:
    r = live.client.post("/api/v1/test-jobs", headers=live.owner, json={
        "task": "tests.gated", "node_id": live.county_id,
        "params": {"county_id": live.county_id, "gate": str(live.tmp / "gate"), **params}})
    assert r.status_code == 202, r.json
    return r.json["id"]


def _worker(live) -> subprocess.Popen:
    with open(live.tmp / "worker.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.exports.run_worker", "worker", "--burst", "exports"],
                                cwd=ROOT, env=live.env, stdout=log, stderr=subprocess.STDOUT)
    live.procs.append(proc)
    return proc


def _finish(live, proc: subprocess.Popen) -> None:
    try:
        proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the worker did not finish:\n" + (live.tmp / "worker.log").read_text())
    assert proc.returncode == 0, (live.tmp / "worker.log").read_text()


def _wait_for(what: str, check, live, proc):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"the worker exited before {what}:\n" + (live.tmp / "worker.log").read_text())
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}:\n" + (live.tmp / "worker.log").read_text())


def _meta(live, job_id: int) -> dict:
    """The RQ job's meta, read from Redis alone (the database may be locked by the job mid-way on SQLite)."""
    from rq.job import Job as RQJob
    return RQJob.fetch(jobs.rq_job_id(job_id), connection=live.redis).get_meta()


def _row(live, job_id: int):
    with live.engine.connect() as c:
        return c.execute(text("SELECT status, progress, attempts, error FROM jobs WHERE id = :id"),
                         {"id": job_id}).one()


def _schools(live, code: str) -> int:
    with live.engine.connect() as c:
        return c.execute(select(func.count()).select_from(Node).where(Node.code == code)).scalar_one()


def test_a_worker_runs_the_job_and_its_owner_watches_live_progress(live):
    from rq import Queue
    job_id = _start_job(live, code="9200000001", name="Școala din coadă")
    assert Queue("exports", connection=live.redis).job_ids == [jobs.rq_job_id(job_id)]
    assert live.client.get(f"/api/v1/jobs/{job_id}", headers=live.owner).json["status"] == "queued"

    proc = _worker(live)
    _wait_for("progress 50", lambda: _meta(live, job_id).get("progress") == 50, live, proc)
    # The job now waits at its gate, holding no transaction: the owner asks the API.
    st = live.client.get(f"/api/v1/jobs/{job_id}", headers=live.owner).json
    assert (st["status"], st["progress"], st["message"]) == ("running", 50, "halfway")
    assert _row(live, job_id).progress == 0  # the 50 % came from the RQ job's meta, not the uncommitted row
    assert live.client.get(f"/api/v1/jobs/{job_id}", headers=live.colleague).status_code == 404

    (live.tmp / "gate").touch()
    _finish(live, proc)
    st = live.client.get(f"/api/v1/jobs/{job_id}", headers=live.owner).json
    assert (st["status"], st["progress"], st["attempts"], st["error"]) == ("done", 100, 1, None)
    with live.engine.connect() as c:
        node_id = c.execute(select(Node.id).where(Node.code == "9200000001")).scalar_one()
    assert st["result"] == {"node_id": node_id}


def test_a_killed_worker_leaves_no_half_result_and_the_retry_succeeds(live):
    pidfile = live.tmp / "horse.pid"
    job_id = _start_job(live, code="9200000002", name="Școala întreruptă", write_first=True, pidfile=str(pidfile))
    proc = _worker(live)
    _wait_for("the school to be written", lambda: pidfile.exists() and _meta(live, job_id).get("progress") == 50,
              live, proc)

    os.kill(int(pidfile.read_text()), signal.SIGKILL)  # the work horse dies mid-job, its school flushed
    _finish(live, proc)
    row = _row(live, job_id)
    assert row.status == "failed" and "signal 9" in row.error
    assert _schools(live, "9200000002") == 0  # no half result

    r = live.client.post(f"/api/v1/jobs/{job_id}/retry", headers=live.owner)
    assert r.status_code == 202 and r.json["status"] == "queued"
    (live.tmp / "gate").touch()
    _finish(live, _worker(live))
    row = _row(live, job_id)
    assert (row.status, row.attempts, row.progress) == ("done", 2, 100)
    assert _schools(live, "9200000002") == 1
