"""A signature racing a re-issue on PostgreSQL (two threads, two sessions, a committed database of their own): the
signature waits for the re-issue writing a new county version, then refuses to sign the superseded one — so a
signature can never outlive a re-issue unvoided."""
from __future__ import annotations

import itertools
import threading
import time

import pytest
from sqlalchemy import func, select, text

from core import db as core_db
from core.errors import Conflict
from exports import render, reports
from exports.models import Report, ReportSignature
from tenants.models import Node, User
from tests import support
from tests.exports.test_reports_support import submit_county
from tests.workflows.conftest import launch, people
from workflows import notify
from workflows.models import Campaign

pytestmark = [pytest.mark.postgres, pytest.mark.no_rollback]
WAIT = 60


@pytest.fixture
def pg(app, pg_url, monkeypatch):
    url = support.fresh_pg_database(pg_url, "arbor_reportrace")
    support.migrate(url)
    eng = core_db.make_engine(url)
    old_bind = core_db.session_factory.kw.get("bind")
    core_db.session.remove()
    core_db.session_factory.configure(bind=eng)
    monkeypatch.setattr(notify.mail, "send", lambda *a, **k: None)
    seq = itertools.count(1)
    try:
        tree = support.build_tree()
        who = people(tree, lambda role, node: support.make_user(role, node, f"rrace{next(seq)}@test.arbor.ro"))
        campaign = launch(who, tree)
        core_db.session.commit()
        submit_county(campaign, tree, who)
        core_db.session.commit()  # the reports of the units, schools and the county are written after this commit
        yield eng, tree, who, campaign
    finally:
        core_db.session.remove()
        core_db.session_factory.configure(bind=old_bind)
        eng.dispose()
        support.drop_pg_database(url)


def _waiting_for_a_lock(eng) -> bool:
    with eng.connect() as c:
        return c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                              "AND datname = current_database()")).scalar_one() > 0


def test_a_signature_racing_a_reissue_waits_and_refuses_the_superseded_version(pg, monkeypatch):
    eng, tree, who, campaign = pg
    s = core_db.session
    v1 = reports.latest(campaign.id, tree.a.id)
    assert v1.version == 1 and not v1.provisional
    ids = {"campaign": campaign.id, "county": tree.a.id, "isg": who.isg.id, "v1": v1.id}
    code = support.totp_code()
    core_db.session.remove()

    in_render, gate = threading.Event(), threading.Event()
    plain = render.render

    def gated(fmt, data, lang="ro"):
        if threading.current_thread().name == "reissue" and fmt == render.FORMATS[1]:
            in_render.set()  # the new version and its PDF are flushed, the lock is held
            assert gate.wait(WAIT)
        return plain(fmt, data, lang)
    monkeypatch.setattr(render, "render", gated)

    results: dict = {}

    def reissue():
        try:
            sess = core_db.session
            reports.generate(sess.get(Campaign, ids["campaign"]), sess.get(Node, ids["county"]), reason="reissued")
            sess.commit()
            results["reissue"] = "ok"
        except Exception as e:  # reported to the test thread
            core_db.session.rollback()
            results["reissue"] = e
        finally:
            core_db.session.remove()

    def sign():
        try:
            sess = core_db.session
            reports.sign(sess.get(User, ids["isg"]), sess.get(Report, ids["v1"]), code)
            sess.commit()
            results["sign"] = "ok"
        except Exception as e:
            core_db.session.rollback()
            results["sign"] = e
        finally:
            core_db.session.remove()

    a = threading.Thread(target=reissue, name="reissue")
    a.start()
    assert in_render.wait(WAIT), results
    b = threading.Thread(target=sign, name="sign")
    b.start()
    deadline = time.monotonic() + WAIT
    while not _waiting_for_a_lock(eng):  # the signature is blocked behind the re-issue
        assert b.is_alive() and time.monotonic() < deadline, results
        time.sleep(0.02)
    gate.set()
    a.join(WAIT)
    b.join(WAIT)
    assert results["reissue"] == "ok"
    assert isinstance(results["sign"], Conflict) and "newer version" in results["sign"].message
    s = core_db.session
    assert s.execute(select(func.count()).select_from(ReportSignature)).scalar_one() == 0
    assert reports.latest(campaign.id, tree.a.id).version == 2
