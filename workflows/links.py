"""Form-teacher links (seed 003): a class table filled without an account, through an expiring signed link.

The token is signed with itsdangerous (HMAC-SHA-256, its own salt) and carries only the link's id and version;
the :class:`~workflows.models.ClassLink` row decides whether it still works (:func:`refusal`). Revoking and
re-issuing bump the version, so every older token dies as "superseded". No Flask here: callers pass the secret
keys (``[*SECRET_KEY_FALLBACKS, SECRET_KEY]``; the last one signs, every one verifies).

This module is the core (tokens, issue, revoke, the refusal rules); the pages, the API, reminders and the QR
sheet build on it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from core import audit
from core.db import session, utcnow
from core.errors import Conflict, Forbidden, Invalid
from tenants.models import Node, SchoolClass, User
from tenants.policy import can
from workflows import state as wf
from workflows.models import Campaign, CampaignState, ClassLink

SALT = "arbor.class-link"
DEFAULT_DAYS = 14
MAX_DAYS = 120
# Why a link does not open, in the order they are checked. Each has its own page saying what to do.
REFUSALS = ("invalid", "superseded", "revoked", "expired", "closed", "excluded", "locked", "submitted")
# edit_refusal codes (workflows.errors) -> the link's refusal
_EDIT_TO_LINK = {"campaign_read_only": "closed", "excluded_from_collection": "excluded", "locked": "locked",
                 "locked_above": "locked", "submitted": "submitted", "submitted_above": "submitted"}


# --- tokens -------------------------------------------------------------------------------------------------

def _serializer(secret_keys: list[str]) -> URLSafeSerializer:
    return URLSafeSerializer(list(secret_keys), salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def token_for(link: ClassLink, secret_keys: list[str]) -> str:
    """The token of the link's current version (deterministic: the same link and version give the same token)."""
    return _serializer(secret_keys).dumps({"l": link.id, "v": link.version})


def read_token(token: str, secret_keys: list[str]) -> tuple[int, int] | None:
    """``(link_id, version)`` of a well-signed token, or None (tampered, other salt or key, garbage)."""
    try:
        data = _serializer(secret_keys).loads(token)
        return int(data["l"]), int(data["v"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def address_hash(address: str | None, secret_keys: list[str]) -> str:
    """A keyed hash of a client address for the audit trail (the address itself is never stored)."""
    key = (secret_keys[-1] if secret_keys else "").encode()
    return hashlib.blake2b((address or "").encode(), key=key[:64], digest_size=8).hexdigest()


# --- the rules ----------------------------------------------------------------------------------------------

def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def refusal(link: ClassLink | None, version: int | None = None, now: dt.datetime | None = None) -> str | None:
    """Why ``link`` (at token ``version``) cannot be used now — one of :data:`REFUSALS` — or None when it can."""
    if link is None:
        return "invalid"
    now = now or utcnow()
    if version is not None and version != link.version:
        return "superseded"
    if link.revoked_at is not None:
        return "revoked"
    if aware(link.expires_at) <= now:
        return "expired"
    campaign = link.campaign
    if campaign.status != "running":
        return "closed"
    problem = wf.edit_refusal(campaign, wf.read_chain(link.state), "class")
    if problem is not None:
        return _EDIT_TO_LINK.get(problem.code, "locked")
    return None


def open_token(token: str, secret_keys: list[str], now: dt.datetime | None = None
               ) -> tuple[ClassLink | None, str | None]:
    """The link a token names and why it cannot be used (None when it can). A bad token names no link."""
    ids = read_token(token, secret_keys)
    if ids is None:
        return None, "invalid"
    link = session.get(ClassLink, ids[0])
    if link is None:
        return None, "invalid"
    return link, refusal(link, ids[1], now)


def actor_for(link: ClassLink) -> wf.LinkActor:
    """The workflow actor of a link: may save and submit its own class table, nothing else."""
    return wf.LinkActor(link.class_id, link.id)


# --- issuing ------------------------------------------------------------------------------------------------

def expiry_for(campaign: Campaign, days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> dt.datetime:
    """``days`` from now, never past the end (UTC) of the campaign's deadline day."""
    if not 1 <= int(days) <= MAX_DAYS:
        raise Invalid(f"A link is valid for 1 to {MAX_DAYS} days.", details={"days": "out_of_range"})
    now = now or utcnow()
    end = dt.datetime.combine(campaign.deadline + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return min(now + dt.timedelta(days=int(days)), end)


def link_of(campaign: Campaign, school_class: SchoolClass) -> ClassLink | None:
    return session.execute(select(ClassLink).where(ClassLink.campaign_id == campaign.id,
                                                   ClassLink.class_id == school_class.id)).scalar_one_or_none()


def _check_manager(actor: User, node) -> None:
    if not can(actor, "links.manage", node):
        raise Forbidden("Only the unit responsible issues and revokes form-teacher links.")


def issue(actor: User, campaign: Campaign, school_class: SchoolClass, *, days: int = DEFAULT_DAYS,
          teacher_name: str | None = None, teacher_email: str | None = None,
          now: dt.datetime | None = None) -> ClassLink:
    """Issue the class's link, or re-issue it (version + 1: every earlier token dies). Audited; the caller
    commits and builds the URL with :func:`token_for`."""
    _check_manager(actor, school_class.unit)
    state = wf.state_for(campaign, school_class)
    now = now or utcnow()
    expires_at = expiry_for(campaign, days, now)
    if expires_at <= now:
        raise Conflict("The campaign's deadline has passed; no new links can be issued.")
    problem = wf.edit_refusal(campaign, wf.read_chain(state), "class")
    if problem is not None:
        raise Conflict(problem.message, details={"code": problem.code})
    link = link_of(campaign, school_class)
    old = None
    if link is None:
        link = ClassLink(campaign_id=campaign.id, state_id=state.id, class_id=school_class.id,
                         unit_id=school_class.unit_id, version=1, created_by_id=actor.id, created_at=now)
        session.add(link)
        action = "link.issue"
    else:
        old = {"version": link.version, "expires_at": aware(link.expires_at).isoformat(),
               "revoked": link.revoked_at is not None}
        link.version += 1
        link.revoked_at = None
        link.opened_at = link.reminded_at = link.emailed_at = None
        action = "link.reissue"
    link.expires_at, link.issued_at = expires_at, now
    link.teacher_name = (teacher_name or "").strip() or None if teacher_name is not None else link.teacher_name
    link.teacher_email = (teacher_email or "").strip().lower() or None if teacher_email is not None \
        else link.teacher_email
    session.flush()
    audit.record(action, user=actor, obj=link, node_id=link.unit_id, old=old,
                 new={"version": link.version, "expires_at": expires_at.isoformat(), "class_id": link.class_id,
                      "campaign_id": campaign.id})
    return link


def revoke(actor: User, link: ClassLink, now: dt.datetime | None = None) -> ClassLink:
    """Revoke the link (version + 1 too). Audited; the caller commits."""
    _check_manager(actor, link.school_class.unit)
    if link.revoked_at is not None:
        raise Conflict("This link is already revoked.")
    old = {"version": link.version}
    link.version += 1
    link.revoked_at = now or utcnow()
    session.flush()
    audit.record("link.revoke", user=actor, obj=link, node_id=link.unit_id, old=old,
                 new={"version": link.version, "revoked": True})
    return link


# --- the issuing side: the unit's class list, bulk issue, mails and reminders ---------------------------------

# What the unit sees per class (:func:`status_of`).
STATUSES = ("not_issued", "issued", "opened", "saved", "submitted", "revoked", "expired")
REMIND_BEFORE = dt.timedelta(days=3)  # unopened links are reminded this long before they expire
_EMAIL = re.compile(r"^[^@\s,;:<>()\[\]\"]+@[^@\s,;:<>()\[\]\"]+\.[^@\s,;:<>()\[\]\"]+$")  # one plain address


def status_of(link: ClassLink | None, now: dt.datetime | None = None) -> str:
    """One of :data:`STATUSES`. Saving and submitting count only when they happened under the current issue."""
    if link is None:
        return "not_issued"
    if link.revoked_at is not None:
        return "revoked"
    issued = aware(link.issued_at)
    if link.submitted_at is not None and aware(link.submitted_at) >= issued:
        return "submitted"
    if aware(link.expires_at) <= (now or utcnow()):
        return "expired"
    if link.saved_at is not None and aware(link.saved_at) >= issued:
        return "saved"
    return "opened" if link.opened_at is not None else "issued"


def clean_teacher(name: str | None, email: str | None) -> tuple[str | None, str | None]:
    """The form teacher's name and e-mail as stored (stripped, lower-case address), or Invalid naming the field."""
    name = (name or "").strip() or None
    email = (email or "").strip().lower() or None
    if name is not None and len(name) > 120:
        raise Invalid("The teacher's name is too long (120 characters at most).", details={"teacher_name": "too_long"})
    if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
        raise Invalid("This is not an e-mail address.", details={"teacher_email": "invalid"})
    return name, email


def unit_classes(campaign: Campaign, unit: Node) -> list[tuple[CampaignState, ClassLink | None]]:
    """The unit's classes in the campaign (its class state rows, by grade and name) with their links."""
    me = wf.state_for(campaign, unit)
    q = (select(CampaignState, ClassLink)
         .join(SchoolClass, SchoolClass.id == CampaignState.class_id)
         .outerjoin(ClassLink, ClassLink.state_id == CampaignState.id)
         .where(CampaignState.campaign_id == campaign.id, CampaignState.parent_id == me.id,
                CampaignState.level == "class")
         .options(selectinload(CampaignState.school_class))
         .order_by(SchoolClass.grade_level, SchoolClass.name, SchoolClass.id))
    return [(st, link) for st, link in session.execute(q).all()]


def issue_blockers(campaign: Campaign, unit: Node, rows) -> dict[int, wf.Refusal | None]:
    """For each class state row of ``unit`` (from :func:`unit_classes`): why no link can be issued for it now,
    or None. The unit's chain is read once for the whole list."""
    unit_chain = wf.read_chain(wf.state_for(campaign, unit))
    above = [*unit_chain.ancestors, unit_chain.me]
    return {st.id: wf.edit_refusal(campaign, wf.Chain(st, above), "class") for st, _link in rows}


@dataclass
class Bulk:
    """What :func:`issue_all` did: links issued or re-issued, working links kept, classes that cannot take one."""
    issued: list[ClassLink] = field(default_factory=list)
    kept: list[ClassLink] = field(default_factory=list)
    skipped: list[CampaignState] = field(default_factory=list)


def issue_all(actor: User, campaign: Campaign, unit: Node, *, days: int = DEFAULT_DAYS,
              now: dt.datetime | None = None) -> Bulk:
    """Issue a link to every class of ``unit`` without a working one (never issued, revoked, expired); a working
    link is kept (it may already be on paper), a class that is submitted, locked or excluded is skipped. Each
    issue is audited like a single one; the caller commits."""
    _check_manager(actor, unit)
    now = now or utcnow()
    if campaign.status != "running":
        raise Conflict("The campaign is not running; no links can be issued.", details={"code": "not_running"})
    if expiry_for(campaign, days, now) <= now:
        raise Conflict("The campaign's deadline has passed; no new links can be issued.")
    out = Bulk()
    rows = unit_classes(campaign, unit)
    blockers = issue_blockers(campaign, unit, rows)
    for st, link in rows:
        if blockers[st.id] is not None:
            out.skipped.append(st)
        elif link is not None and refusal(link, now=now) is None:
            out.kept.append(link)
        else:
            out.issued.append(issue(actor, campaign, st.school_class, days=days, now=now))
    return out


def mark_emailed(actor: User | None, link: ClassLink, now: dt.datetime | None = None) -> ClassLink:
    """Record that the current version was e-mailed to the teacher (the caller sends it). Audited."""
    link.emailed_at = now or utcnow()
    session.flush()
    audit.record("link.email", user=actor, obj=link, node_id=link.unit_id, new={"version": link.version})
    return link


def remind(actor: User, link: ClassLink, now: dt.datetime | None = None) -> ClassLink:
    """The unit sends the teacher a reminder of a working link (the caller sends the mail). Audited."""
    _check_manager(actor, link.school_class.unit)
    if not link.teacher_email:
        raise Invalid("The link has no teacher's e-mail address to remind.", details={"teacher_email": "missing"})
    why = refusal(link, now=now)
    if why is not None:
        raise Conflict("This link no longer works; issue it again instead.", details={"code": why})
    link.reminded_at = now or utcnow()
    session.flush()
    audit.record("link.remind", user=actor, obj=link, node_id=link.unit_id, new={"version": link.version})
    return link


def due_for_reminder(now: dt.datetime | None = None, before: dt.timedelta = REMIND_BEFORE) -> list[ClassLink]:
    """Links to remind automatically: with a teacher's address, never opened, not yet reminded, not revoked,
    expiring within ``before`` (and not yet expired), that still work (campaign running, class editable)."""
    now = now or utcnow()
    q = (select(ClassLink).join(Campaign, Campaign.id == ClassLink.campaign_id)
         .where(Campaign.status == "running", ClassLink.revoked_at.is_(None), ClassLink.opened_at.is_(None),
                ClassLink.reminded_at.is_(None), ClassLink.teacher_email.is_not(None),
                ClassLink.expires_at > now, ClassLink.expires_at <= now + before)
         .order_by(ClassLink.expires_at, ClassLink.id))
    return [link for link in session.execute(q).scalars() if refusal(link, now=now) is None]


def claim_reminder(link: ClassLink, now: dt.datetime | None = None) -> bool:
    """Mark an automatic reminder as sent, once: a conditional UPDATE, so two runs never remind twice. Audited
    (actor "system") when this call won."""
    now = now or utcnow()
    won = session.execute(update(ClassLink).where(ClassLink.id == link.id, ClassLink.reminded_at.is_(None),
                                                  ClassLink.version == link.version)
                          .values(reminded_at=now).execution_options(synchronize_session=False)).rowcount == 1
    if won:
        session.refresh(link)
        audit.record("link.remind", actor="system", obj=link, node_id=link.unit_id,
                     new={"version": link.version, "automatic": True})
    return won


__all__ = ["DEFAULT_DAYS", "REFUSALS", "REMIND_BEFORE", "STATUSES", "Bulk", "actor_for", "address_hash",
           "claim_reminder", "clean_teacher", "due_for_reminder", "expiry_for", "issue", "issue_all",
           "issue_blockers", "link_of", "mark_emailed", "open_token", "read_token", "refusal", "remind", "revoke",
           "status_of", "token_for", "unit_classes"]
