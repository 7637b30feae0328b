"""The class-table API hot path, made cheaper (token, user and memberships in one statement; the state row and its
ancestors in one; the pinned definition from the process cache), keeps every check: a token revoked, a user
disabled or a membership withdrawn between two requests is refused on the next one, and the chain read in one
statement is exactly the one read by path."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from core.db import session, utcnow
from tenants import operations
from tenants.models import Membership
from workflows import state as sm

API = "/api/v1/campaigns"


@pytest.fixture
def client(api_client):
    return api_client


def _token(user, scopes="read write"):
    tok, raw = operations.issue_token(user, "hot path", scopes)
    session.commit()
    return tok, {"Authorization": f"Bearer {raw}"}


def _table(campaign, tree, key="A1.1.0"):
    return f"{API}/{campaign.id}/classes/{tree.classes[key].id}/table"


def test_a_token_revoked_between_two_requests_is_refused_on_the_next(client, tree, who, campaign):
    tok, headers = _token(who.responsible)
    r = client.get(_table(campaign, tree), headers=headers)
    assert r.status_code == 200
    operations.revoke_token(tok)
    session.commit()
    assert client.get(_table(campaign, tree), headers=headers).status_code == 401
    body = {"values": {"single_parent": 1}, "version": r.json["version"]}
    assert client.put(_table(campaign, tree), headers=headers, json=body).status_code == 401


def test_a_token_that_expired_or_whose_user_was_disabled_is_refused_on_the_next_request(client, tree, who, campaign):
    tok, headers = _token(who.responsible)
    assert client.get(_table(campaign, tree), headers=headers).status_code == 200
    tok.expires_at = utcnow()
    session.commit()
    assert client.get(_table(campaign, tree), headers=headers).status_code == 401
    _tok2, headers2 = _token(who.helper)
    assert client.get(_table(campaign, tree), headers=headers2).status_code == 200
    who.helper.active = False
    session.commit()
    assert client.get(_table(campaign, tree), headers=headers2).status_code == 401


def test_a_membership_withdrawn_between_two_requests_is_seen_on_the_next(client, tree, who, campaign):
    _tok, headers = _token(who.responsible)
    r = client.get(_table(campaign, tree), headers=headers)
    assert r.status_code == 200
    for m in session.execute(select(Membership).where(Membership.user_id == who.responsible.id)).scalars():
        session.delete(m)
    session.commit()
    session.expire_all()
    assert client.get(_table(campaign, tree), headers=headers).status_code == 404
    body = {"values": {"single_parent": 1}, "version": r.json["version"]}
    assert client.put(_table(campaign, tree), headers=headers, json=body).status_code == 404


def test_a_read_only_token_still_reads_and_may_not_write(client, tree, who, campaign):
    _tok, headers = _token(who.responsible, "read")
    r = client.get(_table(campaign, tree), headers=headers)
    assert r.status_code == 200
    body = {"values": {"single_parent": 1}, "version": r.json["version"]}
    assert client.put(_table(campaign, tree), headers=headers, json=body).status_code == 403


def test_get_and_put_of_a_class_table_take_few_statements(client, tree, who, campaign):
    _tok, headers = _token(who.responsible)
    seen: list[str] = []
    bind = session.get_bind()

    def count(_conn, _cursor, statement, *_a):
        seen.append(statement)
    client.get(_table(campaign, tree), headers=headers)  # warm the definition cache
    event.listen(bind, "before_cursor_execute", count)
    try:
        r = client.get(_table(campaign, tree), headers=headers)
        n_get = len(seen)
        seen.clear()
        r2 = client.put(_table(campaign, tree), headers=headers,
                        json={"values": {"single_parent": 1}, "version": r.json["version"]})
        n_put = len(seen)
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert r.status_code == 200 and r2.status_code == 200, r2.get_data(as_text=True)
    assert r2.json["version"] == r.json["version"] + 1 and r2.json["state"]["state"] == "in_progress"
    # token+user+memberships, class, campaign, state+ancestors, values (+ the token's last use once a minute)
    assert n_get <= 6, n_get
    # + locks, campaign refresh, UPDATE, event, state, audit (lock, previous hash, INSERT on PostgreSQL)
    assert n_put <= 15, n_put


@pytest.mark.parametrize("target", ["class", "unit", "school", "county"])
def test_the_chain_read_in_one_statement_is_the_chain_read_by_path(tree, who, campaign, target):
    obj = {"class": tree.classes["A1.1.0"], "unit": tree.units["A1.1"], "school": tree.schools["A1"],
           "county": tree.a}[target]
    chain = sm.chain_for(campaign, obj)
    by_path = sm.read_chain(sm.state_for(campaign, obj))
    assert chain.me is by_path.me
    assert [a.id for a in chain.ancestors] == [a.id for a in by_path.ancestors]
    assert len(chain.ancestors) == {"class": 3, "unit": 2, "school": 1, "county": 0}[target]


def test_a_chain_whose_paths_disagree_with_its_parents_is_read_by_path(tree, who, campaign):
    """Rows whose parent_id chain does not carry the ancestor paths (a hand-made or odd tree) fall back."""
    me = sm.state_for(campaign, tree.classes["A1.1.0"])
    unit = session.get(type(me), me.parent_id)
    unit.path = unit.path.rstrip("/") + "x/"  # the class's path no longer names it
    session.flush()
    chain = sm.chain_for(campaign, tree.classes["A1.1.0"])
    by_path = sm.read_chain(me)
    assert [a.id for a in chain.ancestors] == [a.id for a in by_path.ancestors]
    assert unit.id not in [a.id for a in chain.ancestors]


@pytest.mark.parametrize("target,section", [("class", "class"), ("unit", "unit"), ("unit", "extended")])
def test_read_form_answers_as_campaign_and_chain_then_get_values(tree, who, campaign, target, section):
    from workflows import values as wv
    obj = tree.classes["A1.1.0"] if target == "class" else tree.units["A1.1"]
    c, chain, fv = wv.read_form(campaign.id, obj, section)
    c2, chain2 = sm.campaign_and_chain(campaign.id, obj)
    fv2 = wv.get_values(c2, chain2.me, section)
    assert c is c2 is campaign and chain.me is chain2.me
    assert [a.id for a in chain.ancestors] == [a.id for a in chain2.ancestors]
    assert (fv.section, fv.values, fv.version, fv.definition) == (fv2.section, fv2.values, fv2.version, fv2.definition)


def test_read_form_refuses_as_before(tree, who, campaign):
    from core.errors import Invalid, NotFound
    from workflows import values as wv
    with pytest.raises(NotFound, match="no such campaign"):
        wv.read_form(campaign.id + 1000, tree.classes["A1.1.0"], "class")
    with pytest.raises(Invalid):
        wv.read_form(campaign.id, tree.classes["A1.1.0"], "unit")
    with pytest.raises(Invalid):
        wv.read_form(campaign.id, tree.schools["A1"], "unit")  # a school's row has no unit section
    late = operations.create_class(tree.units["A1.1"], tree.year, name="9Z", grade_level=9)  # after the launch
    with pytest.raises(NotFound, match="does not take part"):
        wv.read_form(campaign.id, late, "class")
