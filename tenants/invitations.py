"""Invitations: signed, expiring, single-use links that give one person one role on one node.

Who may invite whom, and where, is the data in :data:`INVITES`. The link carries only the invitation id and a
random nonce, signed with its own salt; the row decides whether it still works (expiry, revocation, use), and a
resend replaces the nonce so every older link dies. Accepting creates the account (or, for an existing account,
only the membership) in the same transaction as the audit entry.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets as pysecrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Select, String, and_, exists, select, update
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from core import audit
from core.db import Base, session, utcnow
from core.errors import Conflict, Forbidden, Invalid
from tenants import operations, passwords
from tenants.models import Membership, Node, User
from tenants.policy import ROLE_LEVEL, ROLES, grants
from tenants.queries import subtree_filter

SALT = "arbor.invitation"
DEFAULT_DAYS = 7
# A signature older than this is refused whatever the row says (a resend signs anew).
MAX_AGE = dt.timedelta(days=90)
STATES = ("pending", "accepted", "expired", "revoked")

_SCHOOL_STAFF = frozenset({"director", "school_admin", "teacher", "statistics"})
# Inviter's role → {level of the target node → roles it may invite there}. The target node must also lie in the
# subtree of the inviter's membership carrying that role.
INVITES: dict[str, dict[str, frozenset[str]]] = {
    # Platform administrators manage accounts: any staff role anywhere.
    "admin": {"ministry": frozenset({"commission", "admin", "statistics"}),
              "inspectorate": frozenset({"isg", "inspector", "statistics"}),
              "school": _SCHOOL_STAFF,
              "unit": frozenset({"unit_responsible", "unit_helper"})},
    # The commission names each county's inspector general (and may add inspectors).
    "commission": {"inspectorate": frozenset({"isg", "inspector"})},
    # The inspectorate builds the county team and invites each school's director.
    "isg": {"inspectorate": frozenset({"inspector"}), "school": frozenset({"director", "school_admin"})},
    "inspector": {"inspectorate": frozenset({"inspector"}), "school": frozenset({"director", "school_admin"})},
    # The director names each unit's responsible and the school's staff.
    "director": {"school": frozenset({"school_admin", "teacher"}), "unit": frozenset({"unit_responsible"})},
    # The unit responsible adds helpers.
    "unit_responsible": {"unit": frozenset({"unit_helper"})},
}


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("sent_count >= 0", name="sent_count"),
        Index("ix_invitations_email", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(24), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)  # lower-case
    name: Mapped[str] = mapped_column(String(160), nullable=False)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    # SHA-256 of the nonce in the current link; a resend replaces it, so older links stop working.
    nonce_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    sent_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    node: Mapped[Node] = relationship(lazy="joined")
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    @property
    def scope_node_id(self) -> int:
        return self.node_id

    def state(self, now: dt.datetime | None = None) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if aware(self.expires_at) <= (now or utcnow()) else "pending"

    def __repr__(self) -> str:
        return f"<Invitation {self.id} {self.role} at node {self.node_id}>"


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive UTC datetimes; PostgreSQL aware ones."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


# --- who may invite whom ---

def invitable_roles(user: User | None, node: Node) -> list[str]:
    """Roles ``user`` may invite on ``node``, in the order of :data:`tenants.policy.ROLES`."""
    allowed: set[str] = set()
    for g in grants(user):
        if node.path.startswith(g.path):
            allowed |= INVITES.get(g.role, {}).get(node.level, frozenset())
    return [r for r in ROLES if r in allowed and ROLE_LEVEL[r] in (None, node.level)]


def can_invite(user: User | None, node: Node, role: str) -> bool:
    return role in invitable_roles(user, node)


def inviting_paths(user: User | None) -> list[str]:
    """Roots of the subtrees where the user may invite someone (whose invitations they may see and manage)."""
    return sorted({g.path for g in grants(user) if g.role in INVITES})


# --- links ---

def _serializer(secret_keys: list[str]) -> URLSafeTimedSerializer:
    # With several keys (rotation), the last one signs and every one verifies.
    return URLSafeTimedSerializer(list(secret_keys), salt=SALT)


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _new_link(inv: Invitation, secret_keys: list[str]) -> str:
    nonce = pysecrets.token_urlsafe(16)
    inv.nonce_hash = _hash(nonce)
    return _serializer(secret_keys).dumps({"i": inv.id, "n": nonce})


def open_link(token: str, secret_keys: list[str]) -> tuple[Invitation | None, str]:
    """The invitation a link names and its state: ``pending`` (usable), ``accepted``, ``revoked``, ``expired``, or
    ``invalid`` (tampered, superseded by a resend, unknown) — then the invitation is None, so nothing leaks."""
    try:
        data = _serializer(secret_keys).loads(token, max_age=int(MAX_AGE.total_seconds()))
        inv_id, nonce = int(data["i"]), str(data["n"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None, "invalid"
    inv = session.get(Invitation, inv_id)
    if inv is None or not hmac.compare_digest(inv.nonce_hash, _hash(nonce)):
        return None, "invalid"
    return inv, inv.state()


# --- operations (audit, flush; the caller commits) ---

def _audit(action: str, inv: Invitation, actor: User | None, **extra) -> None:
    audit.record(action, user=actor, actor=None if actor else "system", obj=inv, node_id=inv.node_id, **extra)


def _pending_clause(now: dt.datetime):
    return and_(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now)


def create(inviter: User, node: Node, *, email: str, name: str, role: str, secret_keys: list[str],
           days: int = DEFAULT_DAYS) -> tuple[Invitation, str]:
    """Invite ``email`` to hold ``role`` on ``node``; returns the invitation and its link token (mail it)."""
    email = (email or "").strip().lower()
    name = " ".join((name or "").split())
    if not can_invite(inviter, node, role):
        raise Forbidden("your role may not invite this role here")
    if "@" not in email or len(email) > 254 or not name or len(name) > 160:
        raise Invalid("an e-mail address and a name are needed", "incomplete")
    has_role = session.execute(
        select(Membership.id).join(User, Membership.user_id == User.id)
        .where(User.email == email, Membership.node_id == node.id, Membership.role == role)).first()
    if has_role:
        raise Conflict("this person already holds this role here", "has_role")
    now = utcnow()
    pending = session.execute(select(Invitation.id).where(
        Invitation.email == email, Invitation.node_id == node.id, Invitation.role == role,
        _pending_clause(now))).first()
    if pending:
        raise Conflict("an invitation for this person and role is already pending here: resend it instead", "pending")
    inv = Invitation(node_id=node.id, role=role, email=email, name=name, invited_by_id=inviter.id,
                     created_at=now, expires_at=now + dt.timedelta(days=days), nonce_hash="", sent_count=1,
                     last_sent_at=now)
    session.add(inv)
    session.flush()
    token = _new_link(inv, secret_keys)
    session.flush()
    _audit("invitation.create", inv, inviter, new={"email": email, "name": name, "role": role,
                                                  "expires_at": inv.expires_at.isoformat()})
    return inv, token


def _manageable(actor: User, inv: Invitation) -> None:
    if not can_invite(actor, inv.node, inv.role):
        raise Forbidden("your role may not manage this invitation")


def resend(inv: Invitation, actor: User, *, secret_keys: list[str], days: int = DEFAULT_DAYS) -> str:
    """A new link (the old one dies) with a fresh expiry; returns its token."""
    _manageable(actor, inv)
    state = inv.state()
    if state in ("accepted", "revoked"):
        raise Conflict(f"the invitation is {state}")
    now = utcnow()
    token = _new_link(inv, secret_keys)
    inv.expires_at = now + dt.timedelta(days=days)
    inv.sent_count += 1
    inv.last_sent_at = now
    session.flush()
    _audit("invitation.resend", inv, actor, new={"sent_count": inv.sent_count,
                                                "expires_at": inv.expires_at.isoformat()})
    return token


def revoke(inv: Invitation, actor: User) -> None:
    _manageable(actor, inv)
    if inv.accepted_at is not None:
        raise Conflict("the invitation was already accepted")
    if inv.revoked_at is not None:
        return
    inv.revoked_at = utcnow()
    session.flush()
    _audit("invitation.revoke", inv, actor)


def check_password(password: str, email: str | None = None, name: str | None = None) -> None:
    """The platform's password policy; raises Invalid with the codes of ``tenants.passwords.PROBLEMS`` as details."""
    codes = passwords.password_problems(password or "", email=email, name=name)
    if codes:
        raise Invalid("; ".join(passwords.PROBLEMS.get(c, c) for c in codes), codes)


def accept(token: str, secret_keys: list[str], *, user: User | None = None, name: str | None = None,
           password: str | None = None) -> User:
    """Use the link once. With ``user`` (signed in, same e-mail) only the membership is added; otherwise the
    account is created with the chosen password. Returns the user who now holds the role."""
    inv, state = open_link(token, secret_keys)
    if inv is None or state != "pending":
        raise Conflict(f"the invitation is {state}")
    if user is not None:
        if user.email.lower() != inv.email:
            raise Forbidden("this invitation was sent to another e-mail address")
    else:
        if session.execute(select(User.id).where(User.email == inv.email)).first():
            raise Conflict("an account with this e-mail exists: sign in to accept")
        check_password(password or "", inv.email, name or inv.name)
    # Claim the row first: of two racing acceptances only one updates it.
    now = utcnow()
    claimed = session.execute(
        update(Invitation).where(Invitation.id == inv.id, Invitation.nonce_hash == inv.nonce_hash,
                                 _pending_clause(now))
        .values(accepted_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise Conflict("the invitation was used or changed meanwhile")
    if user is None:
        user = User(email=inv.email, name=" ".join((name or "").split())[:160] or inv.name,
                    password_hash=passwords.hash_password(password))
        session.add(user)
        session.flush()
        audit.record("user.create", actor=f"invitation {inv.id}", obj=user, new={"email": user.email})
    operations.add_membership(user, inv.node, inv.role, actor=user)
    session.refresh(inv)
    inv.accepted_by_id = user.id
    session.flush()
    _audit("invitation.accept", inv, user, new={"user_id": user.id, "role": inv.role})
    return user


# --- queries ---

def invitations_in_scope(user: User | None, state: str | None = None, node: Node | None = None) -> Select:
    """Invitations on nodes where the user may invite, newest first; optionally by state and under ``node``."""
    q = select(Invitation).join(Node, Invitation.node_id == Node.id).where(subtree_filter(inviting_paths(user)))
    if node is not None:
        q = q.where(Node.path.startswith(node.path, autoescape=True))
    now = utcnow()
    if state == "pending":
        q = q.where(_pending_clause(now))
    elif state == "accepted":
        q = q.where(Invitation.accepted_at.is_not(None))
    elif state == "revoked":
        q = q.where(Invitation.revoked_at.is_not(None), Invitation.accepted_at.is_(None))
    elif state == "expired":
        q = q.where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at <= now)
    return q.order_by(Invitation.created_at.desc(), Invitation.id.desc())


def schools_without_accounts(county: Node) -> Select:
    """Schools of the county where nobody holds any role, on the school or any of its units."""
    held = aliased(Node)
    someone = (select(Membership.id).join(held, Membership.node_id == held.id)
               .where(held.school_id == Node.id))
    return (select(Node).where(Node.level == "school", Node.county_id == county.id, Node.active.is_(True),
                               ~exists(someone))
            .order_by(Node.name, Node.id))


def pending_for(node_ids: list[int]) -> dict[int, Invitation]:
    """The newest pending invitation of each of the given nodes."""
    if not node_ids:
        return {}
    rows = session.execute(select(Invitation).where(Invitation.node_id.in_(node_ids), _pending_clause(utcnow()))
                           .order_by(Invitation.created_at)).scalars().all()
    return {inv.node_id: inv for inv in rows}
