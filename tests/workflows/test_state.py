"""Each transition rule of the state machine, with its messages."""
import pytest
from sqlalchemy import select

from core import audit
from core.db import session
from core.errors import Conflict, Forbidden, Invalid
from workflows import campaigns, state
from workflows.models import WorkflowEvent
from workflows.state import LinkActor, available_actions, transition
from tests.workflows.conftest import fill_class, fill_unit, submit_unit


def st(campaign, target):
    return state.state_for(campaign, target)


def test_lock_and_unlock_only_by_the_level_directly_above(campaign, tree, who):
    assert transition(who.commission, campaign, tree.a, "lock").locked
    with pytest.raises(Forbidden):
        transition(who.inspector, campaign, tree.a, "unlock")
    transition(who.commission, campaign, tree.a, "unlock")
    with pytest.raises(Forbidden):
        transition(who.commission, campaign, tree.schools["A1"], "lock")  # two levels down
    transition(who.inspector, campaign, tree.schools["A1"], "lock")
    with pytest.raises(Conflict, match="already locked"):
        transition(who.isg, campaign, tree.schools["A1"], "lock")
    with pytest.raises(Forbidden):
        transition(who.director, campaign, tree.schools["A1"], "unlock")
    transition(who.inspector, campaign, tree.schools["A1"], "unlock")
    transition(who.director, campaign, tree.units["A1.1"], "lock")
    transition(who.responsible_12, campaign, tree.classes["A1.2.0"], "lock")
    with pytest.raises(Conflict, match="not locked"):
        transition(who.responsible_12, campaign, tree.classes["A1.2.1"], "unlock")


def test_membership_must_cover_the_node(campaign, tree, who):
    with pytest.raises(Forbidden):
        transition(who.inspector_b, campaign, tree.schools["A1"], "lock")
    with pytest.raises(Forbidden):
        transition(who.director_a2, campaign, tree.units["A1.1"], "lock")
    with pytest.raises(Forbidden):
        transition(who.responsible_12, campaign, tree.classes["A1.1.0"], "submit")
    with pytest.raises(Forbidden):
        transition(who.teacher, campaign, tree.classes["A1.1.0"], "submit")


def test_a_lock_above_blocks_everything_below(campaign, tree, who):
    transition(who.inspector, campaign, tree.schools["A1"], "lock")
    with pytest.raises(Conflict, match="locked above: the school Școala A1 is locked"):
        transition(who.director, campaign, tree.units["A1.1"], "lock")
    with pytest.raises(Conflict, match="locked above"):
        fill_class(campaign, tree.classes["A1.1.0"], who.helper)
    assert available_actions(who.responsible, campaign, tree.classes["A1.1.0"]) == []
    assert "unlock" in available_actions(who.inspector, campaign, tree.schools["A1"])


def test_submit_a_class_needs_valid_values(campaign, tree, who):
    with pytest.raises(Invalid) as e:
        transition(who.helper, campaign, tree.classes["A1.1.0"], "submit")
    assert e.value.details["errors"][0]["field"] == "last_benches.seats"
    fill_class(campaign, tree.classes["A1.1.0"], who.helper)
    s = transition(who.helper, campaign, tree.classes["A1.1.0"], "submit")
    assert s.state == "submitted"
    assert st(campaign, tree.units["A1.1"]).state == "in_progress"
    assert st(campaign, tree.a).state == "in_progress"
    with pytest.raises(Conflict, match="already submitted"):
        transition(who.helper, campaign, tree.classes["A1.1.0"], "submit")


def test_a_form_teacher_link_submits_only_its_class(campaign, tree, who):
    c0, c1 = tree.classes["A1.1.0"], tree.classes["A1.1.1"]
    fill_class(campaign, c0, LinkActor(c0.id, 7))
    assert transition(f"link:{c0.id}:7", campaign, c0, "submit").state == "submitted"
    with pytest.raises(Forbidden):
        transition(LinkActor(c0.id), campaign, c1, "submit")
    with pytest.raises(Forbidden):
        transition(LinkActor(c0.id), campaign, c0, "reopen", reason="x")
    ev = session.execute(select(WorkflowEvent).where(WorkflowEvent.action == "submit")).scalar_one()
    assert ev.actor == f"link 7 class {c0.id}" and ev.user_id is None


def test_unit_submit_waits_for_its_classes_and_a_valid_form(campaign, tree, who):
    unit = tree.units["A1.1"]
    with pytest.raises(Conflict, match="^2 classes not submitted$"):
        transition(who.responsible, campaign, unit, "submit")
    fill_class(campaign, tree.classes["A1.1.0"], who.helper)
    transition(who.helper, campaign, tree.classes["A1.1.0"], "submit")
    with pytest.raises(Conflict, match="^1 class not submitted$"):
        transition(who.responsible, campaign, unit, "submit")
    fill_class(campaign, tree.classes["A1.1.1"], who.helper)
    transition(who.helper, campaign, tree.classes["A1.1.1"], "submit")
    with pytest.raises(Forbidden):
        transition(who.helper, campaign, unit, "submit")  # helpers fill, the responsible reports complete
    with pytest.raises(Invalid, match="unit has 2 problem"):
        transition(who.responsible, campaign, unit, "submit")
    fill_unit(campaign, unit, who.responsible)
    assert transition(who.responsible, campaign, unit, "submit").state == "submitted"


def test_school_and_county_submit_count_only_non_excluded_children(campaign, tree, who):
    submit_unit(campaign, tree, "A1.1", who.responsible)
    with pytest.raises(Conflict, match="1 unit not submitted"):
        transition(who.director, campaign, tree.schools["A1"], "submit")
    with pytest.raises(Invalid, match="reason is required"):
        transition(who.inspector, campaign, tree.units["A1.2"], "exclude")
    s = transition(who.inspector, campaign, tree.units["A1.2"], "exclude", reason="closed for repairs")
    assert s.excluded and s.exclusion_reason == "closed for repairs"
    with pytest.raises(Conflict, match="excluded from collection"):
        fill_class(campaign, tree.classes["A1.2.0"], who.responsible_12)
    transition(who.director, campaign, tree.schools["A1"], "submit")
    with pytest.raises(Conflict, match="1 school not submitted"):
        transition(who.isg, campaign, tree.a, "submit")
    transition(who.inspector, campaign, tree.schools["A2"], "exclude", reason="merged")
    with pytest.raises(Forbidden):
        transition(who.director, campaign, tree.a, "submit")
    assert transition(who.isg, campaign, tree.a, "submit").state == "submitted"
    with pytest.raises(Conflict, match="county|inspectorate Inspectorat A is submitted"):
        transition(who.inspector, campaign, tree.schools["A2"], "include")


def test_reopen_from_the_top_down_with_a_reason(campaign, tree, who):
    submit_unit(campaign, tree, "A1.1", who.responsible)
    transition(who.inspector, campaign, tree.units["A1.2"], "exclude", reason="no pupils")
    transition(who.director, campaign, tree.schools["A1"], "submit")
    transition(who.inspector, campaign, tree.schools["A2"], "exclude", reason="merged")
    transition(who.inspector, campaign, tree.a, "submit")
    with pytest.raises(Conflict, match="the inspectorate Inspectorat A is submitted: it must be reopened first"):
        transition(who.inspector, campaign, tree.schools["A1"], "reopen", reason="typo")
    with pytest.raises(Invalid, match="reason"):
        transition(who.commission, campaign, tree.a, "reopen")
    transition(who.commission, campaign, tree.a, "reopen", reason="school A1 asked")
    with pytest.raises(Conflict, match="school Școala A1 is submitted"):
        transition(who.director, campaign, tree.units["A1.1"], "reopen", reason="typo")
    transition(who.inspector, campaign, tree.schools["A1"], "reopen", reason="typo")
    transition(who.director, campaign, tree.units["A1.1"], "reopen", reason="typo")
    with pytest.raises(Conflict, match="submitted: the class"):
        fill_class(campaign, tree.classes["A1.1.0"], who.responsible)
    transition(who.responsible, campaign, tree.classes["A1.1.0"], "reopen", reason="typo")
    fill_class(campaign, tree.classes["A1.1.0"], who.responsible)
    with pytest.raises(Conflict, match="not submitted"):
        transition(who.responsible, campaign, tree.classes["A1.1.0"], "reopen", reason="again")
    events = session.execute(select(WorkflowEvent.action, WorkflowEvent.reason).where(
        WorkflowEvent.action == "reopen")).all()
    assert [r for _, r in events] == ["school A1 asked", "typo", "typo", "typo"]


def test_extended_monitoring_round_trip_after_submission(campaign, tree, who):
    unit = tree.units["A1.1"]
    submit_unit(campaign, tree, "A1.1", who.responsible)
    with pytest.raises(Conflict, match="not requested"):
        transition(who.responsible, campaign, unit, "submit-extended")
    with pytest.raises(Forbidden):
        transition(who.director, campaign, unit, "request-extended")
    transition(who.inspector, campaign, unit, "request-extended")
    assert "submit-extended" in available_actions(who.responsible, campaign, unit)
    from workflows import values
    with pytest.raises(Conflict, match="submitted"):
        fill_unit(campaign, unit, who.responsible)  # only the extended section opens
    cur = values.get_values(campaign, unit, "extended")
    with pytest.raises(Invalid):
        transition(who.responsible, campaign, unit, "submit-extended")
    values.save_values(who.helper, campaign, unit, {"commission.established": True, "plan.exists": False},
                       cur.version, section="extended")
    assert transition(who.responsible, campaign, unit, "submit-extended").extended == "submitted"
    with pytest.raises(Conflict, match="extended section is submitted"):
        values.save_values(who.helper, campaign, unit, {"plan.exists": True}, 1, section="extended")


def test_every_transition_is_audited_and_in_the_history(campaign, tree, who):
    from workflows import queries
    transition(who.inspector, campaign, tree.schools["A1"], "lock")
    transition(who.inspector, campaign, tree.schools["A1"], "unlock")
    hist = session.execute(queries.history(campaign, tree.schools["A1"])).scalars().all()
    assert [(e.action, e.before["locked"], e.after["locked"]) for e in hist] == [("lock", False, True),
                                                                                ("unlock", True, False)]
    assert hist[0].user_id == who.inspector.id
    ok, _, msg = audit.verify()
    assert ok, msg
    from core.audit import AuditEntry
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "workflow.lock")).scalar_one()
    assert entry.old["locked"] is False and entry.new["locked"] is True and entry.node_id == tree.schools["A1"].id


def test_notifications_go_to_the_people_concerned(campaign, tree, who):
    from exports.models import Job
    def mails():
        return [(j.params["to"], j.params["subject"]) for j in session.execute(
            select(Job).where(Job.kind == "mail.send").order_by(Job.id)).scalars()]
    before = len(mails())
    transition(who.inspector, campaign, tree.schools["A1"], "lock")
    new = mails()[before:]
    assert [to for to, _ in new] == [who.director.email]
    assert "locked" in new[0][1]
    transition(who.inspector, campaign, tree.schools["A1"], "unlock")
    submit_unit(campaign, tree, "A1.1", who.responsible)
    assert mails()[-1][0] == who.director.email  # a unit submission goes up to its director


def test_closed_and_archived_campaigns_are_read_only(campaign, tree, who):
    campaigns.close_campaign(who.commission, campaign)
    with pytest.raises(Conflict, match="campaign is closed"):
        transition(who.inspector, campaign, tree.schools["A1"], "lock")
    with pytest.raises(Conflict, match="campaign is closed"):
        fill_class(campaign, tree.classes["A1.1.0"], who.helper)
    assert available_actions(who.inspector, campaign, tree.schools["A1"]) == []
    campaigns.archive_campaign(who.commission, campaign)
    assert campaign.status == "archived"


def test_available_actions_per_role(campaign, tree, who):
    assert available_actions(who.commission, campaign, tree.a) == ["lock"]
    assert available_actions(who.inspector, campaign, tree.schools["A1"]) == ["lock", "exclude"]
    assert available_actions(who.inspector, campaign, tree.units["A1.1"]) == ["exclude", "request-extended"]
    assert available_actions(who.director, campaign, tree.units["A1.1"]) == ["lock"]
    assert available_actions(who.responsible, campaign, tree.classes["A1.1.0"]) == ["lock", "submit"]
    assert available_actions(who.inspector_b, campaign, tree.schools["A1"]) == []


def test_launch_reports_the_snapshot_sizes(db, tree, make_user):
    """The counts returned (and audited) at launch are the real row counts, on every engine."""
    import datetime as dt

    from forms.operations import sync_builtin
    from workflows import campaigns
    sync_builtin()
    commission = make_user("commission", tree.ministry)
    c = campaigns.create_campaign(commission, name="Test", school_year=tree.year, deadline=dt.date(2026, 3, 31))
    counts = campaigns.launch_campaign(commission, c, "Începem.")
    assert counts == {"inspectorate": 2, "school": 4, "unit": 8, "class": 16}
