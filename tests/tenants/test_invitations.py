"""Invitations: who may invite whom, the signed single-use link, acceptance, and the scoped queries."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from core.audit import AuditEntry
from core.db import session, utcnow
from core.errors import Conflict, Forbidden, Invalid
from tenants import invitations as inv_ops, operations, queries
from tenants.invitations import Invitation
from tenants.models import Membership, User
from tenants.passwords import verify_password

# The app configures fast password hashing for tests.
pytestmark = pytest.mark.usefixtures("app")
KEYS = ["test-secret"]
GOOD_PASSWORD = "verde-pădure-liniștită-42"


@pytest.fixture
def people(tree, make_user):
    return {
        "admin": make_user("admin", tree.ministry),
        "commission": make_user("commission", tree.ministry),
        "isg": make_user("isg", tree.a),
        "inspector": make_user("inspector", tree.a),
        "director": make_user("director", tree.schools["A1"]),
        "responsible": make_user("unit_responsible", tree.units["A1.1"]),
        "teacher": make_user("teacher", tree.schools["A1"]),
    }


def _invite(by, node, role="director", email="nou@scoala.ro", name="Ion Nou"):
    return inv_ops.create(by, node, email=email, name=name, role=role, secret_keys=KEYS)


def _actions(action):
    return session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars().all()


def test_who_may_invite_whom_where(tree, people):
    roles = inv_ops.invitable_roles
    assert roles(people["commission"], tree.a) == ["isg", "inspector"]
    assert roles(people["commission"], tree.schools["A1"]) == []
    assert roles(people["isg"], tree.a) == ["inspector"]
    assert roles(people["inspector"], tree.schools["A2"]) == ["director", "school_admin"]
    assert roles(people["isg"], tree.schools["B1"]) == []  # another county
    assert roles(people["isg"], tree.b) == []
    assert roles(people["isg"], tree.units["A1.1"]) == []
    assert roles(people["director"], tree.schools["A1"]) == ["school_admin", "teacher"]
    assert roles(people["director"], tree.units["A1.2"]) == ["unit_responsible"]
    assert roles(people["director"], tree.schools["A2"]) == []
    assert roles(people["responsible"], tree.units["A1.1"]) == ["unit_helper"]
    assert roles(people["responsible"], tree.units["A1.2"]) == []
    assert roles(people["teacher"], tree.schools["A1"]) == []
    assert "isg" in roles(people["admin"], tree.b) and "unit_helper" in roles(people["admin"], tree.units["B1.1"])
    for node in (tree.ministry, tree.a, tree.schools["A1"], tree.units["A1.1"]):
        for role in roles(people["admin"], node):
            assert inv_ops.ROLE_LEVEL[role] in (None, node.level)


def test_create_records_a_pending_invitation(tree, people):
    inv, token = _invite(people["isg"], tree.schools["A1"], email="  Nou@Scoala.RO ")
    assert (inv.email, inv.role, inv.node_id, inv.invited_by_id) == ("nou@scoala.ro", "director",
                                                                      tree.schools["A1"].id, people["isg"].id)
    assert inv.state() == "pending" and inv.sent_count == 1
    assert inv_ops.aware(inv.expires_at) - inv_ops.aware(inv.created_at) == dt.timedelta(days=7)
    from itsdangerous import URLSafeTimedSerializer
    ok, payload = URLSafeTimedSerializer(KEYS, salt=inv_ops.SALT).loads_unsafe(token)
    assert ok and set(payload) == {"i", "n"} and payload["i"] == inv.id  # the link carries no personal data
    [entry] = _actions("invitation.create")
    assert entry.user_id == people["isg"].id and entry.node_id == tree.schools["A1"].id
    assert token not in str(entry.new) and inv.nonce_hash not in str(entry.new)


def test_create_refuses_roles_and_places_out_of_reach(tree, people):
    with pytest.raises(Forbidden):
        _invite(people["isg"], tree.schools["B1"])
    with pytest.raises(Forbidden):
        _invite(people["isg"], tree.a, role="isg")
    with pytest.raises(Forbidden):
        _invite(people["teacher"], tree.schools["A1"], role="teacher")
    with pytest.raises(Invalid):
        _invite(people["isg"], tree.schools["A1"], email="not-an-address")


def test_duplicates_are_refused(tree, people):
    _invite(people["isg"], tree.schools["A1"])
    with pytest.raises(Conflict) as e:
        _invite(people["inspector"], tree.schools["A1"], email="NOU@scoala.ro")
    assert e.value.details == "pending"
    _invite(people["isg"], tree.schools["A1"], role="school_admin")  # another role is another invitation
    with pytest.raises(Conflict) as e:
        _invite(people["isg"], tree.schools["A1"], email=people["director"].email)
    assert e.value.details == "has_role"


def test_accepting_creates_the_account_and_exactly_the_membership(tree, people):
    inv, token = _invite(people["isg"], tree.schools["A1"])
    user = inv_ops.accept(token, KEYS, name="Ion  Nou-Popescu", password=GOOD_PASSWORD)
    assert (user.email, user.name) == ("nou@scoala.ro", "Ion Nou-Popescu")
    assert verify_password(user.password_hash, GOOD_PASSWORD)
    assert [(m.node_id, m.role) for m in user.memberships] == [(tree.schools["A1"].id, "director")]
    assert inv.state() == "accepted" and inv.accepted_by_id == user.id
    assert inv_ops.open_link(token, KEYS) == (inv, "accepted")
    [entry] = _actions("invitation.accept")
    assert entry.user_id == user.id and entry.object_id == str(inv.id)
    [created] = [e for e in _actions("user.create") if e.object_id == str(user.id)]
    assert created.actor == f"invitation {inv.id}"
    with pytest.raises(Conflict):
        inv_ops.accept(token, KEYS, password=GOOD_PASSWORD)


def test_the_password_policy_applies(tree, people):
    _inv, token = _invite(people["isg"], tree.schools["A1"])
    with pytest.raises(Invalid) as e:
        inv_ops.accept(token, KEYS, password="short")
    assert "too_short" in e.value.details
    assert session.execute(select(User).where(User.email == "nou@scoala.ro")).scalar() is None
    assert inv_ops.open_link(token, KEYS)[1] == "pending"


def test_an_existing_account_only_gains_the_membership(tree, people, make_user):
    someone = make_user("teacher", tree.schools["A2"], email="profa@scoala.ro")
    hash_before = someone.password_hash
    _inv, token = _invite(people["isg"], tree.schools["A1"], email="profa@scoala.ro")
    with pytest.raises(Conflict):  # must sign in, not create a second account
        inv_ops.accept(token, KEYS, password=GOOD_PASSWORD)
    with pytest.raises(Forbidden):
        inv_ops.accept(token, KEYS, user=people["teacher"])
    assert inv_ops.accept(token, KEYS, user=someone) is someone
    assert someone.password_hash == hash_before
    assert sorted((m.node_id, m.role) for m in someone.memberships) == sorted(
        [(tree.schools["A2"].id, "teacher"), (tree.schools["A1"].id, "director")])


def test_links_that_do_not_work(tree, people):
    inv, token = _invite(people["isg"], tree.schools["A1"])
    assert inv_ops.open_link(token, KEYS) == (inv, "pending")
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token + "x", "", "garbage"):
        assert inv_ops.open_link(bad, KEYS) == (None, "invalid")
    assert inv_ops.open_link(token, ["another-key"]) == (None, "invalid")
    from itsdangerous import URLSafeTimedSerializer
    forged = URLSafeTimedSerializer(KEYS, salt="arbor.password-reset").dumps({"i": inv.id, "n": "x"})
    assert inv_ops.open_link(forged, KEYS) == (None, "invalid")  # another purpose's salt


def test_key_rotation_keeps_links_working(tree, people):
    inv, token = _invite(people["isg"], tree.schools["A1"])
    assert inv_ops.open_link(token, ["new-key", *KEYS]) == (inv, "pending")


def test_resend_kills_the_old_link_and_renews_expiry(tree, people):
    inv, old = _invite(people["isg"], tree.schools["A1"])
    inv.expires_at = utcnow() - dt.timedelta(minutes=1)
    session.flush()
    assert inv_ops.open_link(old, KEYS) == (inv, "expired")
    new = inv_ops.resend(inv, people["inspector"], secret_keys=KEYS)
    assert new != old and inv.sent_count == 2 and inv.last_sent_at is not None
    assert inv_ops.open_link(old, KEYS) == (None, "invalid")
    assert inv_ops.open_link(new, KEYS) == (inv, "pending")
    assert len(_actions("invitation.resend")) == 1
    with pytest.raises(Forbidden):
        inv_ops.resend(inv, people["director"], secret_keys=KEYS)


def test_revoke(tree, people):
    inv, token = _invite(people["isg"], tree.schools["A1"])
    with pytest.raises(Forbidden):
        inv_ops.revoke(inv, people["teacher"])
    inv_ops.revoke(inv, people["inspector"])
    assert inv_ops.open_link(token, KEYS) == (inv, "revoked")
    with pytest.raises(Conflict):
        inv_ops.accept(token, KEYS, password=GOOD_PASSWORD)
    with pytest.raises(Conflict):
        inv_ops.resend(inv, people["isg"], secret_keys=KEYS)
    inv_ops.revoke(inv, people["isg"])  # idempotent
    assert len(_actions("invitation.revoke")) == 1
    _inv2, token2 = _invite(people["isg"], tree.schools["A1"])  # a revoked invitation does not block a new one
    inv_ops.accept(token2, KEYS, password=GOOD_PASSWORD)
    with pytest.raises(Conflict):
        inv_ops.revoke(_inv2, people["isg"])


def test_only_one_of_two_racing_acceptances_wins(tree, people):
    inv, token = _invite(people["isg"], tree.schools["A1"])
    assert inv_ops.open_link(token, KEYS)[1] == "pending"
    # Another transaction used the link after this one loaded the row.
    session.execute(update(Invitation).where(Invitation.id == inv.id).values(accepted_at=utcnow())
                    .execution_options(synchronize_session=False))
    with pytest.raises(Conflict):
        inv_ops.accept(token, KEYS, password=GOOD_PASSWORD)
    assert session.execute(select(User).where(User.email == "nou@scoala.ro")).scalar() is None


def test_invitations_in_scope(tree, people, make_user):
    a1, _ = _invite(people["isg"], tree.schools["A1"], email="a1@x.ro")
    a2, _ = _invite(people["isg"], tree.schools["A2"], email="a2@x.ro")
    helper, _ = _invite(people["responsible"], tree.units["A1.1"], role="unit_helper", email="h@x.ro")
    isg_b = make_user("isg", tree.b)
    b1, _ = _invite(isg_b, tree.schools["B1"], email="b1@x.ro")

    def ids(user, **kw):
        return {i.id for i in session.execute(inv_ops.invitations_in_scope(user, **kw)).scalars()}

    assert ids(people["isg"]) == {a1.id, a2.id, helper.id}
    assert ids(isg_b) == {b1.id}
    assert ids(people["director"]) == {a1.id, helper.id}  # sees who was invited at the school…
    assert not inv_ops.can_invite(people["director"], a1.node, a1.role)  # …but manages only its own kind
    assert ids(people["teacher"]) == set()
    assert ids(people["commission"]) == {a1.id, a2.id, helper.id, b1.id}
    assert ids(people["isg"], node=tree.schools["A1"]) == {a1.id, helper.id}
    inv_ops.revoke(a2, people["isg"])
    a1.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()
    assert ids(people["isg"], state="pending") == {helper.id}
    assert ids(people["isg"], state="revoked") == {a2.id}
    assert ids(people["isg"], state="expired") == {a1.id}
    assert ids(people["isg"], state="accepted") == set()


def test_schools_without_accounts(tree, people, make_user):
    def names(county):
        return [s.name for s in session.execute(inv_ops.schools_without_accounts(county)).scalars()]

    # people has a director and a teacher at A1 (and a unit responsible at A1.1); A2 has nobody.
    assert names(tree.a) == ["Școala A2"]
    assert names(tree.b) == ["Școala B1", "Școala B2"]
    make_user("unit_helper", tree.units["B1.2"])  # someone on a unit counts for the school
    assert names(tree.b) == ["Școala B2"]
    operations.update_node(tree.schools["B2"], {"active": False})
    assert names(tree.b) == []
    inv, _ = _invite(people["isg"], tree.schools["A2"])
    assert inv_ops.pending_for([tree.schools["A2"].id, tree.schools["A1"].id]) == {tree.schools["A2"].id: inv}


def test_invitation_is_scoped_like_its_node(tree, people, make_user):
    inv, _ = _invite(people["isg"], tree.schools["A1"])
    assert queries.get_visible_or_404(Invitation, inv.id, people["director"]) is inv
    from core.errors import NotFound
    with pytest.raises(NotFound):
        queries.get_visible_or_404(Invitation, inv.id, make_user("isg", tree.b))


def test_accepted_membership_is_exactly_the_one_named(tree, people):
    _inv, token = _invite(people["responsible"], tree.units["A1.1"], role="unit_helper")
    user = inv_ops.accept(token, KEYS, password=GOOD_PASSWORD)
    rows = session.execute(select(Membership.node_id, Membership.role).where(Membership.user_id == user.id)).all()
    assert rows == [(tree.units["A1.1"].id, "unit_helper")]
