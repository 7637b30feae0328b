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

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from core import audit
from core.db import session, utcnow
from core.errors import Conflict, Forbidden, Invalid
from tenants.models import SchoolClass, User
from tenants.policy import can
from workflows import state as wf
from workflows.models import Campaign, ClassLink

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


__all__ = ["DEFAULT_DAYS", "REFUSALS", "actor_for", "address_hash", "expiry_for", "issue", "link_of", "open_token",
           "read_token", "refusal", "revoke", "token_for"]
