"""The job queue glue: a registry of tasks, RQ queues when Redis is configured, in-process otherwise.

A task is a plain function ``fn(job, progress, **params)`` registered with :func:`task`. It works in the global
session and never commits: :func:`perform` commits its writes together with the job's ``done`` state, or rolls
them back and marks the job failed, so a job that fails or is killed part-way leaves nothing half-written and
can simply be retried (:func:`retry`). Parameters are JSON values (ids, never ORM objects).

Life of a job: :func:`enqueue` adds a ``queued`` row; once the caller's transaction commits, the job id goes to
its RQ queue (``flask worker`` runs it) or, without Redis, to a thread of this process that is joined at once.
:func:`perform` claims the row (``queued`` → ``running``) in one conditional UPDATE, so a duplicate delivery never
runs a job twice. Progress goes to the RQ job's ``meta`` while it runs (:func:`status` reads it from there).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from sqlalchemy import update

from core import audit, db
from core.db import session, utcnow
from core.errors import Conflict, DomainError
from exports.models import Job

log = logging.getLogger(__name__)
QUEUES = ("default", "exports", "emails")
JOB_TIMEOUT = 3600  # seconds RQ lets one attempt run before it kills the work horse
# A job queued or running for longer than this is lost (its worker or dispatch died) and may be retried.
STALE_AFTER = dt.timedelta(seconds=JOB_TIMEOUT + 300)
_ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class Task:
    name: str
    fn: Callable
    queue: str


TASKS: dict[str, Task] = {}


def task(name: str, queue: str = "default"):
    """Register a task under a unique name (a duplicate name is an error at import time)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def deco(fn):
        if name in TASKS and TASKS[name].fn is not fn:
            raise RuntimeError(f"task {name!r} registered twice")
        TASKS[name] = Task(name, fn, queue)
        return fn

    return deco


def rq_job_id(job_id: int) -> str:
    return f"arbor-{job_id}"


def _job_id_of(rq_id: str) -> int | None:
    prefix = rq_job_id(0)[:-1]
    return int(rq_id[len(prefix):]) if rq_id.startswith(prefix) and rq_id[len(prefix):].isdigit() else None


class _Backend:
    """Where jobs go: RQ on Redis, or a thread in this process joined at once."""

    def __init__(self):
        self.redis = None
        self.app_context: Callable | None = None

    def configure(self, redis_url: str | None, app_context: Callable | None = None) -> None:
        """``app_context()`` makes the context that wraps an in-process job, as ``flask worker`` does."""
        self.app_context = app_context
        if redis_url:
            import redis
            self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
        else:
            self.redis = None

    def dispatch(self, job_id: int, queue: str) -> None:
        """Hand a committed job to its queue. Runs after the commit, so a failure here cannot undo the caller's
        work: the job is marked failed (and may be retried) instead of staying queued for ever."""
        if self.redis is None:
            # The context is made here, in the caller's thread, so it can follow the caller's own app.
            context = self.app_context() if self.app_context is not None else None
            t = threading.Thread(target=_perform_in_thread, args=(job_id, context), name=f"job-{job_id}")
            t.start()
            t.join()
            return
        try:
            self._to_rq(job_id, queue)
        except Exception as exc:
            log.exception("job %s could not be queued", job_id)
            mark_lost(job_id, f"could not reach the job queue ({type(exc).__name__}); retry later")

    def _to_rq(self, job_id: int, queue: str) -> None:
        from rq import Callback, Queue
        from rq.exceptions import NoSuchJobError
        from rq.job import Job as RQJob

        try:  # a retried job starts clean: no stale meta, status or registry entries from the last attempt
            RQJob.fetch(rq_job_id(job_id), connection=self.redis).delete()
        except NoSuchJobError:
            pass
        Queue(queue, connection=self.redis).enqueue(
            run_from_queue, job_id, job_id=rq_job_id(job_id), job_timeout=JOB_TIMEOUT, result_ttl=3600,
            failure_ttl=7 * 24 * 3600, on_failure=Callback(on_rq_failure))


backend = _Backend()


def _perform_in_thread(job_id: int, context) -> None:
    # A thread of its own gives the job its own scoped session: the caller's is still inside its commit.
    try:
        with context if context is not None else nullcontext():
            perform(job_id)
    except Exception:
        log.exception("job %s could not run in-process", job_id)
    finally:
        session.remove()


def run_from_queue(job_id: int) -> dict | None:
    """What RQ runs (in the app context ``flask worker`` made): one job, then a fresh session for the next."""
    try:
        return perform(job_id)
    finally:
        session.remove()


def _check_params(params: dict) -> None:
    try:
        json.dumps(params)
    except (TypeError, ValueError):
        raise TypeError(f"job parameters must be JSON values (ids, not ORM objects): {sorted(params)}") from None


def enqueue(name: str, /, *, node_id: int, user_id: int | None = None, **params) -> Job:
    """Create the job row now; hand it to the queue once the caller's transaction commits.

    ``node_id`` scopes the job (who may see it), ``user_id`` is its owner; every other keyword goes to the task."""
    if name not in TASKS:
        raise KeyError(f"no task named {name!r}")
    _check_params(params)
    t = TASKS[name]
    job = Job(kind=name, queue=t.queue, node_id=node_id, user_id=user_id, params=params)
    session.add(job)
    session.flush()
    job_id = job.id
    db.on_commit(lambda: backend.dispatch(job_id, t.queue))
    return job


def set_progress(job: Job, percent: int, message: str | None = None) -> None:
    """Record progress on the row (committed with the result) and, under RQ, in the RQ job's meta at once."""
    job.progress = max(0, min(100, int(percent)))
    job.message = message[:255] if message else None
    if backend.redis is None:
        return
    from rq import get_current_job
    rq_job = get_current_job()
    if rq_job is not None and rq_job.id == rq_job_id(job.id):
        rq_job.meta.update({"progress": job.progress, "message": job.message})
        rq_job.save_meta()


def _user_error(exc: Exception) -> str:
    """What the job's owner reads: a domain error's own message, otherwise no internals (they go to the log)."""
    if isinstance(exc, DomainError):
        return exc.message[:2000]
    return f"unexpected error ({type(exc).__name__}); the details are in the server log"


def perform(job_id: int) -> dict | None:
    """Run one queued job: its writes and its ``done`` state commit together, or it is marked failed."""
    claimed = session.execute(
        update(Job).where(Job.id == job_id, Job.status == "queued")
        .values(status="running", started_at=utcnow(), attempts=Job.attempts + 1, progress=0, message=None,
                error=None, finished_at=None)
        .execution_options(synchronize_session=False)).rowcount
    job = session.get(Job, job_id, populate_existing=True)
    # Commit the claim and end this read: the task starts a fresh transaction (SQLite would refuse a later
    # write from a read snapshot older than another process's commit).
    session.commit()
    if job is None:
        log.warning("job %s vanished", job_id)
        return None
    if claimed != 1:  # a duplicate delivery, or a job that was never re-queued: leave it alone
        log.info("job %s is %s, not queued: not run again", job_id, job.status)
        return job.result if job.status == "done" else None
    try:
        t = TASKS.get(job.kind)
        if t is None:
            raise LookupError(f"no task named {job.kind!r} in this process")
        result = t.fn(job, lambda p, m=None: set_progress(job, p, m), **(job.params or {}))
        job.status, job.progress, job.result, job.finished_at = "done", 100, result, utcnow()
        session.commit()
        return result
    except Exception as exc:
        session.rollback()
        log.exception("job %s (%s) failed", job_id, job.kind)
        job = session.get(Job, job_id, populate_existing=True)
        job.status, job.finished_at, job.error = "failed", utcnow(), _user_error(exc)
        session.commit()
        return None


def mark_lost(job_id: int, error: str) -> None:
    """Mark a queued or running job failed from outside it (its worker died, it never reached the queue).

    Uses a session of its own: it is called from RQ callbacks and from inside another session's commit."""
    with db.session_factory() as s:
        s.execute(update(Job).where(Job.id == job_id, Job.status.in_(_ACTIVE))
                  .values(status="failed", error=error[:2000], finished_at=utcnow())
                  .execution_options(synchronize_session=False))
        s.commit()


def on_rq_failure(rq_job, _connection, exc_type, exc_value, _traceback) -> None:
    """RQ's failure callback: covers jobs RQ gave up on without :func:`perform` finishing (abandoned, timed out)."""
    job_id = _job_id_of(rq_job.id)
    if job_id is not None:
        mark_lost(job_id, f"the worker gave up on the job ({getattr(exc_type, '__name__', exc_type)})")


def on_work_horse_killed(rq_job, _pid, status, _rusage) -> None:
    """``flask worker``'s hook for a work horse that died mid-job (killed, out of memory)."""
    job_id = _job_id_of(rq_job.id)
    if job_id is None:
        return
    how = f"signal {os.WTERMSIG(status)}" if status and os.WIFSIGNALED(status) else f"status {status}"
    mark_lost(job_id, f"the worker process died during the job ({how}); nothing was saved, retry it")


def _forget_inherited_connections() -> None:
    # A forked work horse must not reuse the parent's pooled connections (or its session's).
    session.registry.clear()
    try:
        db.engine().dispose(close=False)
    except RuntimeError:
        pass


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def is_stale(job: Job) -> bool:
    """Queued or running for longer than any attempt may take: its worker or its dispatch was lost."""
    since = job.started_at if job.status == "running" and job.started_at else job.created_at
    return job.status in _ACTIVE and utcnow() - _aware(since) > STALE_AFTER


def retry(job: Job, actor=None, actor_label: str = "system") -> Job:
    """Queue a failed (or lost) job again with the same parameters; it runs once the caller commits."""
    if job.status == "done":
        raise Conflict("the job has already finished")
    if job.status in _ACTIVE and not is_stale(job):
        raise Conflict("the job is still queued or running")
    old = {"status": job.status, "error": job.error}
    job.status, job.progress, job.message, job.error, job.finished_at = "queued", 0, None, None, None
    session.flush()
    audit.record("job.retry", user=actor, actor=None if actor else actor_label, obj=job, node_id=job.node_id, old=old,
                 new={"status": "queued"})
    job_id, queue = job.id, job.queue
    db.on_commit(lambda: backend.dispatch(job_id, queue))
    return job


def live_progress(job: Job) -> tuple[int, str | None]:
    """Progress of a running RQ job from Redis (fresher than the row), else the row's own."""
    if job.status == "running" and backend.redis is not None:
        try:
            from rq.job import Job as RQJob
            meta = RQJob.fetch(rq_job_id(job.id), connection=backend.redis).get_meta(refresh=False)
            return int(meta.get("progress", job.progress)), meta.get("message", job.message)
        except Exception:  # Redis away or the RQ job expired: the row is still a true, if older, answer
            log.debug("no live progress for job %s", job.id, exc_info=True)
    return job.progress, job.message


def _iso(t: dt.datetime | None) -> str | None:
    return _aware(t).isoformat() if t else None


def jobs_of(user_id: int):
    """The jobs a user started, newest first (a select, for pagination)."""
    from sqlalchemy import select
    return select(Job).where(Job.user_id == user_id).order_by(Job.created_at.desc(), Job.id.desc())


def status(job: Job) -> dict:
    progress, message = live_progress(job)
    return {"id": job.id, "kind": job.kind, "queue": job.queue, "node_id": job.node_id, "status": job.status,
            "progress": progress, "message": message, "result": job.result, "error": job.error,
            "attempts": job.attempts, "created_at": _iso(job.created_at), "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at)}
