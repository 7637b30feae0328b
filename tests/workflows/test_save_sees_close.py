"""A save re-reads the campaign in the statement that locks its rows (instead of a refresh of its own): a close
committed by another transaction after the saver loaded the campaign is still seen (PostgreSQL, two sessions)."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core import db as core_db
from core.errors import Conflict
from tenants.models import SchoolClass, User
from tests.workflows.test_concurrency import pg  # noqa: F401  (the fixture: a committed database of its own)
from workflows import values
from workflows.models import Campaign

pytestmark = [pytest.mark.postgres, pytest.mark.no_rollback]


@pytest.mark.parametrize("how", ["save", "transition"])
def test_a_close_committed_after_the_campaign_was_loaded_is_seen(pg, how):  # noqa: F811
    tree, who, campaign = pg
    s = core_db.session
    cid, class_id, resp_id = campaign.id, tree.classes["A1.1.0"].id, who.responsible.id
    s.remove()
    c = s.get(Campaign, cid)
    assert c.status == "running"  # loaded, as a request does first
    with Session(core_db.session_factory.kw["bind"]) as other:  # another transaction closes it and commits
        other.get(Campaign, cid).status = "closed"
        other.commit()
    with pytest.raises(Conflict) as e:
        if how == "save":
            values.save_values(s.get(User, resp_id), c, s.get(SchoolClass, class_id), {"last_benches.seats": 3}, 0)
        else:
            from workflows import state as sm
            sm.transition(s.get(User, resp_id), c, s.get(SchoolClass, class_id), "lock")
    assert e.value.code == "campaign_read_only" or "closed" in str(e.value.details or e.value.message)
    assert c.status == "closed"
    s.rollback()
