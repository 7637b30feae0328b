"""The issuing side of form-teacher links: bulk issue, per-class status, teacher data, reminders (selection and
claiming once), and the campaign's link counts."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import session, utcnow
from core.errors import Conflict, Forbidden, Invalid
from tests.workflows.conftest import fill_class
from workflows import links, queries, state
from workflows.models import ClassLink


def _audit(action: str, link: ClassLink) -> list[AuditEntry]:
    return list(session.execute(select(AuditEntry).where(AuditEntry.action == action,
                                                         AuditEntry.object_type == "class_links",
                                                         AuditEntry.object_id == str(link.id))
                                .order_by(AuditEntry.id)).scalars())


def test_issue_all_issues_every_class_with_the_default_validity(campaign, tree, who):
    now = utcnow()
    done = links.issue_all(who.responsible, campaign, tree.units["A1.1"], now=now)
    assert sorted(x.class_id for x in done.issued) == sorted(tree.classes[f"A1.1.{k}"].id for k in (0, 1))
    assert done.kept == [] and done.skipped == []
    for link in done.issued:
        assert link.version == 1 and links.aware(link.expires_at) == now + dt.timedelta(days=links.DEFAULT_DAYS)
        assert [e.new["version"] for e in _audit("link.issue", link)] == [1]
        assert links.status_of(link, now) == "issued"


def test_issue_all_keeps_working_links_reissues_dead_ones_and_skips_closed_classes(campaign, tree, who):
    unit = tree.units["A1.1"]
    c0, c1 = tree.classes["A1.1.0"], tree.classes["A1.1.1"]
    working = links.issue(who.responsible, campaign, c0)
    token = links.token_for(working, ["k"])
    dead = links.revoke(who.responsible, links.issue(who.responsible, campaign, c1))
    assert dead.version == 2
    done = links.issue_all(who.responsible, campaign, unit)
    assert done.kept == [working] and [x.id for x in done.issued] == [dead.id] and done.skipped == []
    assert dead.version == 3 and dead.revoked_at is None
    assert links.open_token(token, ["k"]) == (working, None)  # a link already handed out keeps working
    # a locked and a submitted class take no link; an expired link is replaced
    state.transition(who.responsible, campaign, c1, "lock")
    working.expires_at = utcnow() - dt.timedelta(minutes=1)
    done = links.issue_all(who.responsible, campaign, unit, days=3)
    assert [x.id for x in done.issued] == [working.id] and working.version == 2
    assert [s.class_id for s in done.skipped] == [c1.id]
    state.transition(who.responsible, campaign, c1, "unlock")
    fill_class(campaign, c1, who.responsible)
    state.transition(who.responsible, campaign, c1, "submit")
    assert [s.class_id for s in links.issue_all(who.responsible, campaign, unit).skipped] == [c1.id]


def test_issue_all_is_refused_outside_the_rules(campaign, tree, who):
    unit = tree.units["A1.1"]
    for user in (who.helper, who.responsible_12, who.director):
        with pytest.raises(Forbidden):
            links.issue_all(user, campaign, unit)
    with pytest.raises(Invalid):
        links.issue_all(who.responsible, campaign, unit, days=0)
    end = dt.datetime.combine(campaign.deadline + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    with pytest.raises(Conflict):
        links.issue_all(who.responsible, campaign, unit, now=end + dt.timedelta(hours=1))
    capped = links.issue_all(who.responsible, campaign, unit, now=end - dt.timedelta(days=2))
    assert {links.aware(x.expires_at) for x in capped.issued} == {end}  # never past the deadline
    campaign.status = "closed"
    with pytest.raises(Conflict):
        links.issue_all(who.responsible, campaign, unit)
    assert session.execute(select(ClassLink).where(ClassLink.unit_id == unit.id)).scalars().all() != []


def test_status_follows_the_link_and_only_the_current_issue(campaign, tree, who):
    link = links.issue(who.responsible, campaign, tree.classes["A1.1.0"])
    assert links.status_of(None) == "not_issued"
    link.opened_at = utcnow()
    assert links.status_of(link) == "opened"
    link.saved_at = utcnow()
    assert links.status_of(link) == "saved"
    link.submitted_at = utcnow()
    assert links.status_of(link) == "submitted"
    assert links.status_of(link, now=links.aware(link.expires_at) + dt.timedelta(days=1)) == "submitted"
    link.submitted_at = None
    assert links.status_of(link, now=links.aware(link.expires_at)) == "expired"
    links.issue(who.responsible, campaign, tree.classes["A1.1.0"], now=utcnow() + dt.timedelta(minutes=1))
    assert links.status_of(link) == "issued"  # the save belonged to the previous version
    links.revoke(who.responsible, link)
    assert links.status_of(link) == "revoked"


@pytest.mark.parametrize("name,email,field", [
    ("x" * 121, None, "teacher_name"), (None, "not-an-address", "teacher_email"), (None, "a@b", "teacher_email"),
    (None, "a b@c.ro", "teacher_email"), (None, "ana@scoala.ro,ion@x.ro", "teacher_email"),
    (None, "Ana <ana@scoala.ro>", "teacher_email")])
def test_teacher_data_is_checked(name, email, field):
    with pytest.raises(Invalid) as e:
        links.clean_teacher(name, email)
    assert field in e.value.details


def test_teacher_data_is_trimmed_and_kept_on_reissue(campaign, tree, who):
    assert links.clean_teacher("  Ana Pop ", " Ana.Pop@Scoala.RO ") == ("Ana Pop", "ana.pop@scoala.ro")
    assert links.clean_teacher(" ", "") == (None, None)
    cls = tree.classes["A1.1.0"]
    link = links.issue(who.responsible, campaign, cls, teacher_name="Ana Pop", teacher_email="ana@scoala.ro")
    links.issue(who.responsible, campaign, cls)
    assert (link.version, link.teacher_name, link.teacher_email) == (2, "Ana Pop", "ana@scoala.ro")


def test_manual_reminder_needs_an_address_and_a_working_link(campaign, tree, who):
    cls = tree.classes["A1.1.0"]
    link = links.issue(who.responsible, campaign, cls)
    with pytest.raises(Invalid):
        links.remind(who.responsible, link)
    link.teacher_email = "ana@scoala.ro"
    with pytest.raises(Forbidden):
        links.remind(who.helper, link)
    links.remind(who.responsible, link)
    assert link.reminded_at is not None and [e.user_id for e in _audit("link.remind", link)] == [who.responsible.id]
    links.revoke(who.responsible, link)
    with pytest.raises(Conflict):
        links.remind(who.responsible, link)


def _link(campaign, cls, responsible, *, expires_in, email="t@scoala.ro", now):
    link = links.issue(responsible, campaign, cls, teacher_email=email, now=now)
    link.expires_at = now + expires_in
    session.flush()
    return link


def test_reminders_pick_exactly_the_unopened_links_about_to_expire(campaign, tree, who, make_user):
    now = utcnow()
    h = dt.timedelta(hours=1)
    r11, r12 = who.responsible, who.responsible_12
    r21, r22 = (make_user("unit_responsible", tree.units[k]) for k in ("A2.1", "A2.2"))
    due = _link(campaign, tree.classes["A1.1.0"], r11, expires_in=dt.timedelta(days=3) - h, now=now)
    edge = _link(campaign, tree.classes["A1.1.1"], r11, expires_in=dt.timedelta(days=3), now=now)
    later = _link(campaign, tree.classes["A1.2.0"], r12, expires_in=dt.timedelta(days=3) + h, now=now)
    opened = _link(campaign, tree.classes["A1.2.1"], r12, expires_in=h, now=now)
    opened.opened_at = now
    no_mail = _link(campaign, tree.classes["A2.1.0"], r21, expires_in=h, email=None, now=now)
    expired = _link(campaign, tree.classes["A2.1.1"], r21, expires_in=-h, now=now)
    revoked = links.revoke(r22, _link(campaign, tree.classes["A2.2.0"], r22, expires_in=h, now=now))
    locked = _link(campaign, tree.classes["A2.2.1"], r22, expires_in=h, now=now)
    state.transition(r22, campaign, tree.classes["A2.2.1"], "lock")
    session.flush()
    assert [x.id for x in links.due_for_reminder(now)] == [due.id, edge.id]
    assert links.claim_reminder(due, now) is True
    assert links.claim_reminder(due, now) is False  # claimed once, even by a second run
    assert [x.id for x in links.due_for_reminder(now)] == [edge.id]
    assert [e.actor for e in _audit("link.remind", due)] == ["system"]
    for other in (later, opened, no_mail, expired, revoked, locked):
        assert other.reminded_at is None
    # a re-issued link may be reminded again (the reminder mark belongs to a version)
    links.issue(r11, campaign, tree.classes["A1.1.0"], teacher_email="t@scoala.ro", days=2, now=now)
    assert [x.id for x in links.due_for_reminder(now)] == [due.id, edge.id]


def test_links_progress_counts_by_subtree(campaign, tree, who):
    c0, c1 = tree.classes["A1.1.0"], tree.classes["A1.1.1"]
    a = links.issue(who.responsible, campaign, c0)
    b = links.issue(who.responsible, campaign, c1)
    links.issue(who.responsible_12, campaign, tree.classes["A1.2.0"])
    a.opened_at = b.opened_at = utcnow()
    b.submitted_at = utcnow()
    gone = links.issue(who.responsible_12, campaign, tree.classes["A1.2.1"])
    links.revoke(who.responsible_12, gone)
    session.flush()
    unit = queries.links_progress(campaign, tree.units["A1.1"])
    assert unit == {"issued": 2, "opened": 2, "submitted": 1}
    assert queries.links_progress(campaign, tree.schools["A1"]) == {"issued": 3, "opened": 2, "submitted": 1}
    assert queries.links_progress(campaign, tree.a) == queries.links_progress(campaign, tree.ministry) \
        == queries.links_progress(campaign, None) == {"issued": 3, "opened": 2, "submitted": 1}
    assert queries.links_progress(campaign, tree.b) == {"issued": 0, "opened": 0, "submitted": 0}
