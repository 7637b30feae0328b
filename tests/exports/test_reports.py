"""Report versions: data and files stored with their SHA-256, generation at submission (after the commit, in-process),
re-issue up the tree after extended monitoring with the county signature voided, and the inspector general's
signature with a fresh second factor. PostgreSQL: the stored rows cannot be changed."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from core import db as core_db
from core.audit import AuditEntry
from core.db import session
from core.errors import Conflict, Forbidden, Invalid
from exports import reports
from exports.models import Job, Report, ReportFile, ReportSignature
from tests import support
from tests.exports.test_reports_support import EXTENDED_VALUES, report_engine, submit_county
from tests.workflows.conftest import launch, people, submit_unit
from workflows import state, values

__all__ = ["report_engine"]


@pytest.fixture
def who(tree, make_user):
    return people(tree, make_user)


@pytest.fixture
def campaign(who, tree):
    return launch(who, tree)


def _versions(campaign, node) -> list[tuple[int, str]]:
    session.expire_all()
    return [(r.version, r.reason) for r in session.execute(reports.versions(campaign.id, node.id)).scalars()][::-1]


def _code(user) -> str:
    return support.totp_code(support.TOTP_SECRET, user)


def _sign_count() -> int:
    return session.execute(select(func.count()).select_from(ReportSignature)).scalar_one()


# --- one version ------------------------------------------------------------------------------------------

def test_a_version_stores_its_data_and_files_with_their_hashes(report_engine, campaign, tree, who):
    unit = tree.units["A1.1"]
    r = reports.generate(campaign, unit, reason="on_demand", actor=who.responsible)
    assert (r.version, r.level, r.reason, r.created_by_id) == (1, "unit", "on_demand", who.responsible.id)
    assert r.sha256 == reports.data_sha256(r.data) and len(r.sha256) == 64
    assert r.data["version"] == 1 and r.data["node"]["id"] == unit.id
    assert (r.ruleset_key, r.ruleset_version) == (r.data["ruleset"]["key"], r.data["ruleset"]["version"])
    files = session.execute(select(ReportFile).where(ReportFile.report_id == r.id)).scalars().all()
    assert sorted(f.format for f in files) == ["csv", "pdf", "xlsx"]
    for f in files:
        assert f.sha256 == reports.sha256(f.content) and f.size == len(f.content) > 0
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "report.generate")).scalar_one()
    assert entry.new["sha256"] == r.sha256 and entry.object_id == str(r.id)


def test_a_new_version_when_the_data_change_and_the_old_ones_stay(report_engine, campaign, tree, who):
    school = tree.schools["A1"]
    first = reports.generate(campaign, school, reason="on_demand")
    assert first.provisional and reports.generate(campaign, school, reason="on_demand").id == first.id  # unchanged
    submit_unit(campaign, tree, "A1.1", who.responsible)  # the school's provisional data change
    session.commit()
    second = reports.generate(campaign, school, reason="on_demand")
    assert (first.version, second.version) == (1, 2)
    assert reports._content(first.data) != reports._content(second.data)
    assert [r.id for r in session.execute(reports.versions(campaign.id, school.id)).scalars()] == [second.id,
                                                                                                   first.id]
    assert reports.latest(campaign.id, school.id).id == second.id
    assert not reports.is_latest(first) and reports.is_latest(second)
    assert reports.file_of(first, "pdf").report_id == first.id  # the old version's files stay downloadable
    # a re-issue (the data below changed) is always a new version
    assert reports.generate(campaign, school, reason="reissued").version == 3


def test_an_unknown_reason_is_refused(report_engine, campaign, tree):
    with pytest.raises(ValueError):
        reports.generate(campaign, tree.units["A1.1"], reason="whatever")


# --- at submission, after the commit ---------------------------------------------------------------------

def test_submitting_a_unit_generates_its_report_after_the_commit(report_engine, campaign, tree, who):
    unit = tree.units["A1.1"]
    submit_unit(campaign, tree, "A1.1", who.responsible)
    assert _versions(campaign, unit) == []  # nothing before the commit
    job = session.execute(select(Job).where(Job.kind == reports.TASK, Job.node_id == unit.id)).scalar_one()
    assert (job.status, job.params["reason"], job.user_id) == ("queued", "submitted", None)
    session.commit()
    session.refresh(job)
    assert job.status == "done", job.error
    assert _versions(campaign, unit) == [(1, "submitted")]
    assert job.result["report_id"] == reports.latest(campaign.id, unit.id).id
    assert reports.latest(campaign.id, unit.id).provisional is False
    # the school is not submitted: no report of its own yet, and nothing re-issued above
    assert _versions(campaign, tree.schools["A1"]) == []


def test_one_job_per_node_however_often_the_snapshot_is_written_in_a_transaction(report_engine, campaign, tree):
    unit, school = tree.units["A1.1"], tree.schools["A1"]
    reports.generate(campaign, school, reason="on_demand")
    # the school's report is provisional (not submitted): a unit's snapshot does not re-issue it
    reports.on_snapshot(campaign.id, unit.id, "submitted")
    reports.on_snapshot(campaign.id, unit.id, "submitted")
    reports.on_snapshot(campaign.id, school.id, "reissued")
    kinds = session.execute(select(Job.node_id, Job.params).where(Job.kind == reports.TASK)).all()
    assert [(n, p["reason"]) for n, p in kinds] == [(unit.id, "submitted")]


# --- extended monitoring: re-issue up the tree, the signature voided --------------------------------------

def test_extended_monitoring_reissues_unit_school_and_county_and_voids_the_signature(report_engine, campaign,
                                                                                     tree, who):
    unit, school, county = tree.units["A1.1"], tree.schools["A1"], tree.a
    submit_county(campaign, tree, who)
    session.commit()
    assert _versions(campaign, unit) == [(1, "submitted")]
    assert _versions(campaign, school) == [(1, "submitted")]
    assert _versions(campaign, county) == [(1, "submitted")]
    county_v1 = reports.latest(campaign.id, county.id)
    assert county_v1.provisional is False and reports.signature_state(county_v1) == "awaiting"

    sig = reports.sign(who.isg, county_v1, _code(who.isg))
    session.commit()
    assert (sig.signer_id, sig.sha256, sig.void_at) == (who.isg.id, county_v1.sha256, None)
    assert reports.signature_state(county_v1) == "signed"

    state.transition(who.inspector, campaign, unit, "request-extended")
    cur = values.get_values(campaign, unit, "extended")
    values.save_values(who.responsible, campaign, unit, EXTENDED_VALUES, cur.version, section="extended")
    state.transition(who.responsible, campaign, unit, "submit-extended")
    session.commit()

    assert _versions(campaign, unit) == [(1, "submitted"), (2, "extended")]
    assert _versions(campaign, school) == [(1, "submitted"), (2, "reissued")]
    assert _versions(campaign, county) == [(1, "submitted"), (2, "reissued")]
    assert _versions(campaign, tree.schools["A2"]) == [(1, "submitted")]  # nothing changed under A2
    session.refresh(sig)
    assert sig.void_at is not None and "version 2" in sig.void_reason
    assert reports.signature_state(county_v1) == "void"
    county_v2 = reports.latest(campaign.id, county.id)
    assert reports.signature_state(county_v2) == "awaiting"  # a new signature is required
    assert session.execute(select(AuditEntry).where(AuditEntry.action == "report.signature_void")).scalar_one()

    with pytest.raises(Conflict, match="newer version"):
        reports.sign(who.isg, county_v1, _code(who.isg))
    new = reports.sign(who.isg, county_v2, _code(who.isg))
    assert new.sha256 == county_v2.sha256 and reports.signature_state(county_v2) == "signed"


# --- the signature ----------------------------------------------------------------------------------------

@pytest.fixture
def county_report(report_engine, campaign, tree, who):
    submit_county(campaign, tree, who)
    session.commit()
    return reports.latest(campaign.id, tree.a.id)


def test_a_wrong_or_replayed_code_signs_nothing(county_report, who):
    with pytest.raises(Invalid):
        reports.sign(who.isg, county_report, "000000" if _code(who.isg) != "000000" else "111111")
    with pytest.raises(Invalid):
        reports.sign(who.isg, county_report, "")
    assert _sign_count() == 0
    code = _code(who.isg)
    reports.sign(who.isg, county_report, code)
    session.commit()
    assert _sign_count() == 1
    with pytest.raises(Conflict, match="already signed"):
        reports.sign(who.isg, county_report, code)
    assert _sign_count() == 1


def test_a_used_code_is_not_fresh(county_report, who):
    code = _code(who.isg)
    from tenants import factors
    assert factors.verify(who.isg, "totp", code)  # e.g. the code that signed the user in
    with pytest.raises(Invalid):
        reports.sign(who.isg, county_report, code)
    assert _sign_count() == 0


def test_only_the_inspector_general_signs_and_only_the_county_report(county_report, campaign, tree, who,
                                                                     make_user):
    with pytest.raises(Forbidden):
        reports.sign(who.inspector, county_report, _code(who.inspector))
    with pytest.raises(Forbidden):
        reports.sign(make_user("isg", tree.b), county_report, support.totp_code())
    unit_report = reports.latest(campaign.id, tree.units["A1.1"].id)
    with pytest.raises(Forbidden):  # the unit's report lies in the ISG's subtree, but is not a county report
        reports.sign(who.responsible, unit_report, _code(who.responsible))
    with pytest.raises(Conflict, match="county report"):
        reports.sign(who.isg, unit_report, _code(who.isg))
    assert _sign_count() == 0


def test_a_provisional_county_report_is_not_signed(report_engine, campaign, tree, who):
    r = reports.generate(campaign, tree.a, reason="on_demand")
    assert r.provisional
    with pytest.raises(Conflict, match="provisional"):
        reports.sign(who.isg, r, _code(who.isg))


# --- PostgreSQL: immutable rows -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reports_pg(pg_url):
    url = support.fresh_pg_database(pg_url, "arbor_reports")
    support.migrate(url)
    eng = core_db.make_engine(url)
    yield eng
    eng.dispose()
    support.drop_pg_database(url)


@pytest.fixture
def on_pg(app, reports_pg):
    """The global session on a PostgreSQL database of its own, in a transaction rolled back at the end."""
    saved = dict(core_db.session_factory.kw)
    conn = reports_pg.connect()
    trans = conn.begin()
    core_db.session.remove()
    core_db.session_factory.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield conn
    finally:
        core_db.session.remove()
        trans.rollback()
        conn.close()
        core_db.session_factory.configure(bind=saved["bind"], join_transaction_mode=saved["join_transaction_mode"])


@pytest.mark.postgres
@pytest.mark.parametrize("sql", ["UPDATE reports SET reason = 'reissued' WHERE id = :rid",
                                 "UPDATE reports SET data = '{}' WHERE id = :rid",
                                 "DELETE FROM reports WHERE id = :rid",
                                 "UPDATE report_files SET content = 'x' WHERE report_id = :rid",
                                 "DELETE FROM report_files WHERE report_id = :rid"])
def test_postgresql_refuses_to_change_a_stored_report(on_pg, sql):
    from sqlalchemy.exc import DBAPIError
    t = support.build_tree()
    who = people(t, lambda role, node: support.make_user(role, node, f"{role}-{node.id}@pg.reports.test"))
    c = launch(who, t)
    r = reports.generate(c, t.units["A1.1"], reason="on_demand")
    rid, sha = r.id, r.sha256
    with pytest.raises(DBAPIError, match="(?i)immutable|not allowed|refuse|cannot"):
        with session.begin_nested():
            session.execute(text(sql), {"rid": rid})
    session.expire_all()
    again = session.get(Report, rid)
    assert again.sha256 == sha and again.reason == "on_demand" and len(again.files) == 3
