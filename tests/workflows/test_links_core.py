"""The link core: tokens carry id + version, the row decides (each refusal), issue/re-issue/revoke bump versions."""
from __future__ import annotations

import datetime as dt

import pytest

from core.errors import Conflict, Forbidden
from workflows import links, state
from workflows.models import ClassLink

KEYS = ["old-key", "current-key"]


def test_a_token_names_id_and_version_and_verifies_with_any_key(campaign, tree, who):
    link = links.issue(who.responsible, campaign, tree.classes["A1.1.0"])
    token = links.token_for(link, KEYS)
    assert links.read_token(token, KEYS) == (link.id, 1)
    assert links.read_token(token, ["current-key"]) == (link.id, 1)  # the last key signs
    assert links.read_token(token, ["old-key"]) is None
    assert links.read_token(links.token_for(link, ["old-key"]), KEYS) == (link.id, 1)  # rotation: old verifies
    assert links.open_token(token, KEYS) == (link, None)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
    lambda t: "x" + t,
    lambda t: "",
])
def test_a_tampered_token_names_no_link(campaign, tree, who, mangle):
    link = links.issue(who.responsible, campaign, tree.classes["A1.1.0"])
    assert links.open_token(mangle(links.token_for(link, KEYS)), KEYS) == (None, "invalid")


def test_a_token_of_another_salt_is_invalid(campaign, tree, who):
    from itsdangerous import URLSafeSerializer
    link = links.issue(who.responsible, campaign, tree.classes["A1.1.0"])
    forged = URLSafeSerializer(KEYS, salt="arbor.invitation").dumps({"l": link.id, "v": link.version})
    assert links.open_token(forged, KEYS) == (None, "invalid")


def test_reissue_and_revoke_supersede_older_tokens(campaign, tree, who):
    cls = tree.classes["A1.1.0"]
    first = links.token_for(links.issue(who.responsible, campaign, cls), KEYS)
    link = links.issue(who.responsible, campaign, cls)
    assert link.version == 2
    assert links.open_token(first, KEYS)[1] == "superseded"
    second = links.token_for(link, KEYS)
    links.revoke(who.responsible, link)
    assert links.open_token(second, KEYS)[1] == "superseded"
    assert links.refusal(link) == "revoked"
    with pytest.raises(Conflict):
        links.revoke(who.responsible, link)


def test_expiry_is_capped_by_the_deadline_and_checked(campaign, tree, who):
    end = dt.datetime.combine(campaign.deadline + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    now = end - dt.timedelta(days=4, hours=12)
    link = links.issue(who.responsible, campaign, tree.classes["A1.1.0"], now=now)
    assert link.expires_at == end  # the end of the deadline day, not 14 days later
    assert links.refusal(link, now=now) is None
    assert links.refusal(link, now=end) == "expired"
    fresh = links.issue(who.responsible, campaign, tree.classes["A1.1.1"], now=end - dt.timedelta(days=30))
    assert fresh.expires_at == end - dt.timedelta(days=16)


def test_locked_submitted_and_closed_refuse(campaign, tree, who):
    from tests.workflows.conftest import fill_class
    cls = tree.classes["A1.1.0"]
    link = links.issue(who.responsible, campaign, cls)
    state.transition(who.responsible, campaign, cls, "lock")
    assert links.refusal(link) == "locked"
    state.transition(who.responsible, campaign, cls, "unlock")
    fill_class(campaign, cls, who.responsible)
    state.transition(who.responsible, campaign, cls, "submit")
    assert links.refusal(link) == "submitted"
    campaign.status = "closed"
    assert links.refusal(link) == "closed"


def test_only_the_unit_responsible_of_the_unit_issues(campaign, tree, who):
    for user in (who.helper, who.responsible_12, who.director):
        with pytest.raises(Forbidden):
            links.issue(user, campaign, tree.classes["A1.1.0"])
    link = links.issue(who.responsible, campaign, tree.classes["A1.1.0"])
    with pytest.raises(Forbidden):
        links.revoke(who.responsible_12, link)
    assert isinstance(link, ClassLink) and link.unit_id == tree.units["A1.1"].id
