"""The job queue glue: a registry of tasks, RQ queues when Redis is configured, in-process otherwise.

A task is a plain function ``fn(job, progress, **params)`` that works in the global session; :func:`perform`
commits once when it returns, or rolls back and marks the job failed. Tasks take ids, never ORM objects.
"""
from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass
from collections.abc import Callable

from core import db
from core.db import session, utcnow
from exports.models import Job

log = logging.getLogger(__name__)
QUEUES = ("default", "exports", "emails")


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


class _Backend:
    """Where jobs go: RQ on Redis, or a thread in this process joined at once."""

    def __init__(self):
        self.redis = None

    def configure(self, redis_url: str | None) -> None:
        if redis_url:
            import redis
            self.redis = redis.Redis.from_url(redis_url)
        else:
            self.redis = None

    def dispatch(self, job_id: int, queue: str) -> None:
        if self.redis is not None:
            from rq import Queue
            Queue(queue, connection=self.redis).enqueue(perform, job_id, job_id=f"arbor-{job_id}",
                                                        job_timeout=3600, result_ttl=3600)
        else:
            t = threading.Thread(target=_perform_in_thread, args=(job_id,), name=f"job-{job_id}")
            t.start()
            t.join()


backend = _Backend()


def _perform_in_thread(job_id: int) -> None:
    try:
        perform(job_id)
    finally:
        session.remove()


def enqueue(name: str, *, node_id: int, user_id: int | None = None, **params) -> Job:
    """Create the job row now; hand it to the queue once the caller's transaction commits."""
    t = TASKS[name]
    job = Job(kind=name, queue=t.queue, node_id=node_id, user_id=user_id, params=params)
    session.add(job)
    session.flush()
    job_id = job.id
    db.on_commit(lambda: backend.dispatch(job_id, t.queue))
    return job


def set_progress(job: Job, percent: int, message: str | None = None) -> None:
    """Record progress. With RQ it is also published in the RQ job's meta, visible before the commit."""
    job.progress = max(0, min(100, int(percent)))
    job.message = message
    try:
        from rq import get_current_job
        rq_job = get_current_job()
    except Exception:  # pragma: no cover - rq missing context
        rq_job = None
    if rq_job is not None:
        rq_job.meta.update({"progress": job.progress, "message": message})
        rq_job.save_meta()


def perform(job_id: int) -> dict | None:
    """Run one job to completion: the task's writes and the job's 'done' commit together."""
    job = session.get(Job, job_id)
    if job is None:
        log.warning("job %s vanished", job_id)
        return None
    if job.status == "done":
        return job.result
    job.status, job.started_at, job.attempts, job.error = "running", utcnow(), job.attempts + 1, None
    session.commit()
    t = TASKS[job.kind]
    try:
        result = t.fn(job, lambda p, m=None: set_progress(job, p, m), **(job.params or {}))
        job.status, job.progress, job.result, job.finished_at = "done", 100, result, utcnow()
        session.commit()
        return result
    except Exception as exc:
        session.rollback()
        job = session.get(Job, job_id)
        job.status, job.finished_at = "failed", utcnow()
        job.error = f"{type(exc).__name__}: {exc}"[:2000]
        log.error("job %s (%s) failed: %s", job_id, job.kind, traceback.format_exc(limit=5))
        session.commit()
        return None


def live_progress(job: Job) -> tuple[int, str | None]:
    """Progress of a running RQ job from Redis (fresher than the row), else the row's own."""
    if job.status == "running" and backend.redis is not None:
        try:
            from rq.job import Job as RQJob
            meta = RQJob.fetch(f"arbor-{job.id}", connection=backend.redis).get_meta(refresh=True)
            return int(meta.get("progress", job.progress)), meta.get("message", job.message)
        except Exception:
            pass
    return job.progress, job.message


def status(job: Job) -> dict:
    progress, message = live_progress(job)
    return {"id": job.id, "kind": job.kind, "status": job.status, "progress": progress, "message": message,
            "result": job.result, "error": job.error, "created_at": job.created_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}
