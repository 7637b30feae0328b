"""The daily reminder of form-teacher links: ``flask links remind`` queues ``links.remind``, which mails exactly the
teachers of unopened links expiring within three days, once (a second run sends nothing)."""
from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy as email_policy

import pytest
from sqlalchemy import select

from core import mail
from core.db import session, utcnow
from exports import jobs
from exports.models import Job
from tests.workflows.conftest import launch, people
from workflows import links

BASE = "https://arbor.example.ro"


@pytest.fixture(autouse=True)
def in_app(app):
    """Jobs run in the app they are enqueued from (other tests create apps with other keys in this process)."""
    with app.app_context():
        yield


@pytest.fixture
def who(tree, make_user):
    return people(tree, make_user)


@pytest.fixture
def campaign(app, who, tree):
    assert jobs.backend.redis is None  # in-process jobs, in this test's transaction
    return launch(who, tree)


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    monkeypatch.setattr(mail.settings, "outbox", str(tmp_path / "outbox"))
    monkeypatch.setattr(mail.settings, "smtp_url", None)
    return tmp_path / "outbox"


def _teacher_mails(outbox):
    files = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    mails = [message_from_bytes(f.read_bytes(), policy=email_policy.default) for f in files]
    return [m for m in mails if m["To"].endswith("@scoala.ro")]


@pytest.fixture
def due_links(campaign, tree, who):
    """Two links of unit A1.1: one unopened and expiring in two days (due), one opened (not due); and one of unit
    A1.2 expiring in ten days (not due)."""
    now = utcnow()
    due = links.issue(who.responsible, campaign, tree.classes["A1.1.0"], teacher_name="Ana Pop",
                      teacher_email="ana@scoala.ro", days=2)
    opened = links.issue(who.responsible, campaign, tree.classes["A1.1.1"], teacher_email="dan@scoala.ro", days=2)
    opened.opened_at = now
    later = links.issue(who.responsible_12, campaign, tree.classes["A1.2.0"], teacher_email="ion@scoala.ro", days=10)
    session.commit()
    return due, opened, later


def test_the_job_reminds_due_links_once(app, campaign, due_links, outbox):
    due, _opened, _later = due_links
    job = jobs.enqueue("links.remind", node_id=campaign.root_id, base_url=BASE)
    session.commit()
    session.refresh(job)
    assert job.status == "done", job.error
    assert job.result == {"due": 1, "reminded": 1, "link_ids": [due.id]}
    [msg] = _teacher_mails(outbox)
    token = links.token_for(due, [app.config["SECRET_KEY"]])
    assert msg["To"] == "ana@scoala.ro" and f"{BASE}/l/{token}" in msg.get_content()
    assert "Ana Pop" in msg.get_content()
    session.refresh(due)
    assert due.reminded_at is not None
    # idempotent: the next run finds nothing to remind
    again = jobs.enqueue("links.remind", node_id=campaign.root_id, base_url=BASE)
    session.commit()
    session.refresh(again)
    assert again.status == "done" and again.result["reminded"] == 0 and len(_teacher_mails(outbox)) == 1


def test_a_later_clock_reaches_the_other_links(app, campaign, due_links, outbox):
    due, _opened, later = due_links
    at = (links.aware(later.expires_at) - dt.timedelta(days=2)).isoformat()
    job = jobs.enqueue("links.remind", node_id=campaign.root_id, base_url=BASE, now=at)
    session.commit()
    session.refresh(job)
    # by then the first link has expired, the opened one is never reminded
    assert job.status == "done" and job.result["link_ids"] == [later.id]
    assert [m["To"] for m in _teacher_mails(outbox)] == ["ion@scoala.ro"]


def test_flask_links_remind_queues_the_job(app, campaign, due_links, outbox):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["links", "remind", "--base-url", BASE + "/"])
    assert result.exit_code == 0, result.output
    assert "(links.remind) is done: 1 reminded" in result.output
    session.expire_all()
    job = session.execute(select(Job).where(Job.kind == "links.remind")).scalar_one()
    assert job.params == {"base_url": BASE} and job.node_id == campaign.root_id
    assert [m["To"] for m in _teacher_mails(outbox)] == ["ana@scoala.ro"]
    result = runner.invoke(args=["links", "remind"], env={"ARBOR_BASE_URL": BASE})
    assert result.exit_code == 0 and "done: 0 reminded" in result.output
    bad = runner.invoke(args=["links", "remind", "--base-url", "arbor.example.ro"])
    assert bad.exit_code != 0 and "http" in bad.output
