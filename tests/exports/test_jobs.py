"""Background jobs without Redis: the same task code runs in a joined thread of this process after the commit.

Each test runs in the rolled-back transaction of the ``db`` fixture, where ``session.commit()`` is a SAVEPOINT
release that still fires the after-commit dispatch, exactly as the request wrapper's commit does.
"""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

import tests.exports.sample_tasks  # noqa: F401  (registers the tasks used here)
from core.audit import AuditEntry
from core.db import session, utcnow
from core.errors import Conflict
from exports import jobs
from exports.models import Job
from tenants.models import Node


def schools_with_code(code: str) -> int:
    return session.execute(select(func.count()).select_from(Node).where(Node.code == code)).scalar_one()


@pytest.fixture
def owner(app, tree, make_user):
    """An inspector of county A; ``app`` makes sure the job backend is configured (in-process, app context)."""
    assert jobs.backend.redis is None
    return make_user("inspector", tree.a)


def test_job_runs_in_process_after_the_commit(tree, owner):
    job = jobs.enqueue("tests.add_school", node_id=tree.a.id, user_id=owner.id, county_id=tree.a.id,
                       code="9100000001", name="Școala nouă")
    assert (job.status, job.progress) == ("queued", 0)
    assert schools_with_code("9100000001") == 0  # nothing runs before the commit
    session.commit()
    session.refresh(job)
    st = jobs.status(job)
    assert (st["status"], st["progress"], st["attempts"], st["error"]) == ("done", 100, 1, None)
    assert st["result"] == {"node_id": session.execute(select(Node.id).where(Node.code == "9100000001")).scalar()}
    assert job.started_at is not None and job.finished_at is not None
    assert schools_with_code("9100000001") == 1


def test_nothing_is_dispatched_when_the_transaction_rolls_back(tree, owner, monkeypatch):
    sent = []
    monkeypatch.setattr(jobs.backend, "dispatch", lambda job_id, queue: sent.append(job_id))
    jobs.enqueue("tests.add_school", node_id=tree.a.id, user_id=owner.id, county_id=tree.a.id, code="9100000002",
                 name="X")
    session.rollback()
    session.commit()
    assert sent == []


def test_in_process_jobs_run_in_an_app_context(tree, owner):
    job = jobs.enqueue("tests.app_context", node_id=tree.a.id, user_id=owner.id)
    session.commit()
    session.refresh(job)
    assert (job.status, job.result) == ("done", {"env": "testing"})


def test_a_failed_job_rolls_back_its_writes_and_hides_internals(tree, owner):
    job = jobs.enqueue("tests.add_school", node_id=tree.a.id, user_id=owner.id, county_id=tree.a.id,
                       code="9100000003", name="Școala eșuată", fail=True)
    session.commit()
    session.refresh(job)
    assert job.status == "failed" and job.finished_at is not None
    assert schools_with_code("9100000003") == 0  # the school written before the crash is gone
    assert "RuntimeError" in job.error and "secret detail" not in job.error
    assert not session.execute(select(AuditEntry).where(AuditEntry.action == "node.create",
                                                        AuditEntry.new["code"].as_string() == "9100000003")).first()


def test_a_domain_error_reaches_the_owner_as_written(tree, owner):
    job = jobs.enqueue("tests.invalid", node_id=tree.a.id, user_id=owner.id)
    session.commit()
    session.refresh(job)
    assert (job.status, job.error) == ("failed", "row 3: the SIIIR code is missing")


def test_a_failed_job_succeeds_when_retried(tree, owner):
    job = jobs.enqueue("tests.add_school", node_id=tree.a.id, user_id=owner.id, county_id=tree.a.id,
                       code="9100000004", name="Școala a doua oară", fail_first=True)
    session.commit()
    session.refresh(job)
    assert job.status == "failed" and schools_with_code("9100000004") == 0
    jobs.retry(job, actor=owner)
    assert job.status == "queued"
    session.commit()
    session.refresh(job)
    assert (job.status, job.attempts, job.error, job.progress) == ("done", 2, None, 100)
    assert schools_with_code("9100000004") == 1  # exactly one: the failed attempt left nothing behind
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "job.retry")).scalar_one()
    assert (entry.user_id, entry.object_id, entry.old["status"]) == (owner.id, str(job.id), "failed")


def test_retry_refuses_finished_and_live_jobs_but_takes_lost_ones(tree, owner):
    done = jobs.enqueue("tests.app_context", node_id=tree.a.id, user_id=owner.id)
    session.commit()
    session.refresh(done)
    with pytest.raises(Conflict):
        jobs.retry(done)
    running = Job(kind="tests.add_school", queue="exports", node_id=tree.a.id, user_id=owner.id, status="running",
                  started_at=utcnow(), attempts=1,
                  params={"county_id": tree.a.id, "code": "9100000005", "name": "Pierdută"})
    session.add(running)
    session.flush()
    with pytest.raises(Conflict):
        jobs.retry(running)
    # A worker that died with the whole machine leaves "running" behind; past the timeout it counts as lost.
    running.started_at = utcnow() - jobs.STALE_AFTER - dt.timedelta(minutes=1)
    assert jobs.is_stale(running)
    jobs.retry(running)
    session.commit()
    session.refresh(running)
    assert (running.status, running.attempts) == ("done", 2)
    assert schools_with_code("9100000005") == 1


def test_a_duplicate_delivery_does_not_run_a_job_twice(tree, owner):
    job = jobs.enqueue("tests.add_school", node_id=tree.a.id, user_id=owner.id, county_id=tree.a.id,
                       code="9100000006", name="O dată")
    session.commit()
    session.refresh(job)
    assert jobs.perform(job.id) == job.result  # done: handed back, not redone
    job.status = "running"
    session.commit()
    assert jobs.perform(job.id) is None  # someone else is running it
    session.refresh(job)
    assert (job.status, job.attempts) == ("running", 1)
    assert schools_with_code("9100000006") == 1


def test_jobs_take_ids_never_orm_objects(tree, owner):
    with pytest.raises(TypeError, match="JSON values"):
        jobs.enqueue("tests.add_school", node_id=tree.a.id, user_id=owner.id, county=tree.a)
    with pytest.raises(KeyError):
        jobs.enqueue("no.such.task", node_id=tree.a.id)


def test_a_job_of_a_task_this_process_lacks_fails_cleanly(tree, owner):
    job = Job(kind="gone.with.the.last.release", queue="default", node_id=tree.a.id, user_id=owner.id, params={})
    session.add(job)
    session.commit()
    jobs.perform(job.id)
    session.refresh(job)
    assert job.status == "failed" and "LookupError" in job.error


def test_an_unreachable_queue_marks_the_job_failed_instead_of_queued_for_ever(tree, owner, monkeypatch):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(jobs.backend, "redis", dead)
    job = jobs.enqueue("tests.app_context", node_id=tree.a.id, user_id=owner.id)
    session.commit()  # the caller's commit stands; the dispatch failure lands on the job
    session.refresh(job)
    assert job.status == "failed" and "could not reach the job queue" in job.error
    monkeypatch.setattr(jobs.backend, "redis", None)
    jobs.retry(job)
    session.commit()
    session.refresh(job)
    assert job.status == "done"


def test_rq_failure_hooks_mark_lost_jobs_failed(tree, owner):
    lost = Job(kind="tests.app_context", queue="default", node_id=tree.a.id, user_id=owner.id, status="running",
               attempts=1, started_at=utcnow(), params={})
    finished = Job(kind="tests.app_context", queue="default", node_id=tree.a.id, user_id=owner.id, status="done",
                   attempts=1, params={})
    session.add_all([lost, finished])
    session.commit()
    jobs.on_work_horse_killed(SimpleNamespace(id=jobs.rq_job_id(lost.id)), 4242, 9, None)  # waitpid: SIGKILL
    jobs.on_rq_failure(SimpleNamespace(id=jobs.rq_job_id(finished.id)), None, TimeoutError, TimeoutError(), None)
    jobs.on_rq_failure(SimpleNamespace(id="not-ours"), None, TimeoutError, TimeoutError(), None)
    session.refresh(lost)
    session.refresh(finished)
    assert lost.status == "failed" and "signal 9" in lost.error
    assert finished.status == "done"  # a finished job is never overwritten
