"""The reminder as cron runs it in production: ``flask links remind`` (a real process) queues the job on Redis, and a
real ``flask worker --burst`` runs it and then the mail it queued. The processes see only committed data, so this
test builds its own database (PostgreSQL when the suite has one, else a SQLite file) and skips the rollback."""
from __future__ import annotations

import os
import subprocess
import sys
from email import message_from_bytes, policy as email_policy

import pytest
from sqlalchemy import text

from app.config import ROOT
from core import db as core_db
from core.db import session
from exports import jobs
from tests import support
from tests.workflows.conftest import launch, people
from workflows import links

pytestmark = [pytest.mark.redis, pytest.mark.no_rollback]
TIMEOUT = 60
BASE = "https://arbor.example.ro"


@pytest.fixture
def world(redis_url, tmp_path):
    import redis
    conn = redis.Redis.from_url(redis_url)
    if conn.connection_pool.connection_kwargs.get("db") != 15:
        pytest.skip("the Redis tests flush their database: point ARBOR_TEST_REDIS_URL at DB 15")
    conn.flushdb()
    base = next((u for u in (os.environ.get("ARBOR_TEST_PG_URL"), os.environ.get("ARBOR_TEST_DATABASE_URL"))
                 if u and u.startswith("postgresql")), None)
    url = support.fresh_pg_database(base, "arbor_reminders") if base else f"sqlite:///{tmp_path / 'rem.db'}"
    support.migrate(url)
    engine = core_db.make_engine(url)
    saved = (core_db._engine, core_db.session_factory.kw.get("bind"), jobs.backend.redis, jobs.backend.app_context)
    from app import create_app
    instance = tmp_path / "instance"
    app = create_app({**support.test_config(engine, instance), "REDIS_URL": redis_url})
    try:
        with app.app_context():
            t = support.build_tree()
            who = people(t, lambda role, node: support.make_user(role, node, f"{role}-{node.id}@rem.test"))
            campaign = launch(who, t)
            due = links.issue(who.responsible, campaign, t.classes["A1.1.0"], teacher_email="ana@scoala.ro", days=2)
            links.issue(who.responsible, campaign, t.classes["A1.1.1"], teacher_email="dan@scoala.ro", days=9)
            session.commit()
            token, due_id = links.token_for(due, ["test-secret"]), due.id
            env = {**os.environ, "FLASK_APP": "wsgi", "ARBOR_ENV": "testing", "DATABASE_URL": url,
                   "REDIS_URL": redis_url, "SECRET_KEY": "test-secret", "ARBOR_INSTANCE": str(instance),
                   "ARBOR_MAIL_OUTBOX": str(instance / "outbox"), "ARBOR_BASE_URL": BASE,
                   "ARBOR_ARGON2_TIME_COST": "1", "ARBOR_ARGON2_MEMORY_KIB": "8", "PYTHONPATH": str(ROOT)}
            yield {"env": env, "engine": engine, "token": token, "due_id": due_id, "outbox": instance / "outbox"}
    finally:
        session.remove()
        engine.dispose()
        core_db._engine = saved[0]
        core_db.session_factory.configure(bind=saved[1])
        jobs.backend.redis, jobs.backend.app_context = saved[2], saved[3]
        conn.flushdb()
        if url.startswith("postgresql"):
            support.drop_pg_database(url)


def _flask(world, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=world["env"], capture_output=True,
                          text=True, timeout=TIMEOUT)


def _teacher_mails(outbox):
    files = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    mails = [message_from_bytes(f.read_bytes(), policy=email_policy.default) for f in files]
    return [m for m in mails if m["To"].endswith("@scoala.ro")]


def test_cron_command_and_worker_remind_once(world):
    queued = _flask(world, "links", "remind")
    assert queued.returncode == 0, queued.stderr
    assert "(links.remind) is queued" in queued.stdout
    worker = _flask(world, "worker", "--burst", "default", "emails")
    assert worker.returncode == 0, worker.stderr
    [msg] = _teacher_mails(world["outbox"])
    assert msg["To"] == "ana@scoala.ro" and f"{BASE}/l/{world['token']}" in msg.get_content()
    with world["engine"].connect() as c:
        assert c.execute(text("SELECT status FROM jobs WHERE kind = 'links.remind'")).scalar_one() == "done"
        assert c.execute(text("SELECT reminded_at IS NOT NULL FROM class_links WHERE id = :i"),
                         {"i": world["due_id"]}).scalar_one()
    # the next day's run finds nothing new
    assert _flask(world, "links", "remind").returncode == 0
    assert _flask(world, "worker", "--burst", "default", "emails").returncode == 0
    assert len(_teacher_mails(world["outbox"])) == 1
