"""A report job on real Redis with a real ``flask worker --burst``: killed mid-way (the report row and its PDF
flushed, not committed) it leaves no half report; retried, it writes the whole version.

The worker runs this module as ``python -m tests.exports.test_report_worker worker --burst exports``: the ``__main__``
block wraps the renderer so the job stops at a gate after the PDF (and records the work horse's pid), then starts
``flask``. The database is committed for real (see tests/exports/test_jobs_redis.py for the ``live`` fixture).
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from app.config import ROOT
from core.db import session
from exports import jobs
from exports.models import Report, ReportFile
from tests import support
from tests.exports.test_jobs_redis import live  # noqa: F401  (the committed database + Redis fixture)

pytestmark = [pytest.mark.redis, pytest.mark.no_rollback]
TIMEOUT = 60


def _gated_render(render_module, gate: str, pidfile: str):
    """render(), but before the second format: note the pid, then wait for the gate (the PDF is flushed by then)."""
    plain = render_module.render

    def render(fmt, data, lang="ro"):
        if fmt == render_module.FORMATS[1]:
            Path(pidfile).write_text(str(os.getpid()))
            deadline = time.monotonic() + TIMEOUT
            while not os.path.exists(gate):
                if time.monotonic() > deadline:
                    raise TimeoutError("the gate never opened")
                time.sleep(0.05)
        return plain(fmt, data, lang)
    return render


def _worker(live_) -> subprocess.Popen:
    env = {**live_.env, "REPORT_TEST_GATE": str(live_.tmp / "gate"), "REPORT_TEST_PIDFILE": str(live_.tmp / "pid")}
    with open(live_.tmp / "worker.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.exports.test_report_worker", "worker", "--burst",
                                 "exports"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    live_.procs.append(proc)
    return proc


def _finish(live_, proc) -> None:
    try:
        proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the worker did not finish:\n" + (live_.tmp / "worker.log").read_text())
    assert proc.returncode == 0, (live_.tmp / "worker.log").read_text()


def _wait_for(what, check, live_, proc):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            pytest.fail(f"the worker exited before {what}:\n" + (live_.tmp / "worker.log").read_text())
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}:\n" + (live_.tmp / "worker.log").read_text())


def _progress(live_, job_id: int) -> int:
    from rq.job import Job as RQJob
    return RQJob.fetch(jobs.rq_job_id(job_id), connection=live_.redis).get_meta().get("progress", 0)


def _count(live_, model) -> int:
    with live_.engine.connect() as c:
        return c.execute(select(func.count()).select_from(model)).scalar_one()


def _job_row(live_, job_id: int):
    with live_.engine.connect() as c:
        return c.execute(text("SELECT status, attempts, error, result FROM jobs WHERE id = :id"),
                         {"id": job_id}).one()


def _launch(live_):
    """A launched campaign on the committed tree (a commission member made here launches it)."""
    from tenants.models import Node, SchoolYear
    from tests.workflows.conftest import launch
    county = session.get(Node, live_.county_id)
    year = session.execute(select(SchoolYear)).scalars().first()
    commission = support.make_user("commission", session.get(Node, county.parent_id), "commission@reports.test")
    campaign = launch(SimpleNamespace(commission=commission), SimpleNamespace(year=year))
    session.commit()
    return campaign, county


def test_a_killed_report_job_leaves_no_half_report_and_the_retry_writes_it_whole(live):  # noqa: F811
    campaign, county = _launch(live)
    pidfile = live.tmp / "pid"

    r = live.client.post(f"/api/v1/campaigns/{campaign.id}/nodes/{county.id}/reports", headers=live.owner)
    assert r.status_code == 202, r.get_data(as_text=True)
    job_id = r.json["job_id"]
    proc = _worker(live)
    _wait_for("the PDF to be written", lambda: pidfile.exists() and _progress(live, job_id) >= 45, live, proc)
    if live.engine.dialect.name == "postgresql":  # SQLite: the job holds the database's write lock meanwhile
        assert _count(live, Report) == 0  # flushed inside the job's transaction, not committed

    os.kill(int(pidfile.read_text()), signal.SIGKILL)  # the work horse dies mid-job
    _finish(live, proc)
    row = _job_row(live, job_id)
    assert row.status == "failed" and "signal 9" in row.error
    assert (_count(live, Report), _count(live, ReportFile)) == (0, 0)  # no half report

    r = live.client.post(f"/api/v1/jobs/{job_id}/retry", headers=live.owner)
    assert r.status_code == 202 and r.json["status"] == "queued"
    (live.tmp / "gate").touch()
    pidfile.unlink()
    _finish(live, _worker(live))
    row = _job_row(live, job_id)
    assert (row.status, row.attempts) == ("done", 2), row.error
    assert (_count(live, Report), _count(live, ReportFile)) == (1, 3)

    st = live.client.get(f"/api/v1/jobs/{job_id}", headers=live.owner).json
    assert st["status"] == "done" and st["progress"] == 100
    rid = st["report_id"]
    rep = live.client.get(f"/api/v1/reports/{rid}", headers=live.owner).json
    assert rep["version"] == 1 and rep["node_id"] == county.id
    for f in rep["files"]:
        got = live.client.get(f"/api/v1/reports/{rid}/download?format={f['format']}", headers=live.owner)
        assert got.status_code == 200 and hashlib.sha256(got.data).hexdigest() == f["sha256"]


if __name__ == "__main__":
    from flask.cli import main

    import exports.render as render_module

    render_module.render = _gated_render(render_module, os.environ["REPORT_TEST_GATE"],
                                         os.environ["REPORT_TEST_PIDFILE"])
    sys.argv[0] = "flask"
    main()
