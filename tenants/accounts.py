"""Self-service account operations: profile details, password change and reset, and the list of sessions.

Each operation audits and flushes; the caller commits once. A password change or reset bumps the session
version, so every session cookie issued before it stops working.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_, select, update

from core import audit
from core.db import session, utcnow
from core.errors import Invalid
from tenants import passwords
from tenants.factor_models import UserSession
from tenants.models import User


class PasswordRejected(Invalid):
    """The new password breaks the policy; ``details`` holds the codes of :data:`tenants.passwords.PROBLEMS`."""


def update_profile(user: User, *, name: str, phone: str | None, actor: User | None = None) -> bool:
    name = " ".join((name or "").split())
    phone = (phone or "").strip() or None
    if not name:
        raise Invalid("the name is required", {"name": "required"})
    old = {"name": user.name, "phone": user.phone}
    new = {"name": name, "phone": phone}
    if old == new:
        return False
    user.name, user.phone = name, phone
    session.flush()
    audit.record("user.update", user=actor or user, obj=user, old={k: v for k, v in old.items() if new[k] != v},
                 new={k: v for k, v in new.items() if old[k] != v})
    return True


def set_active(user: User, active: bool, actor: User | None = None, reason: str | None = None) -> None:
    """Disable or re-enable an account; disabling ends every session at once."""
    from tenants.operations import bump_session_version
    if user.active == active:
        return
    user.active = active
    session.flush()
    audit.record("user.enable" if active else "user.disable", user=actor, actor=None if actor else "system",
                 obj=user, reason=reason)
    if not active:
        bump_session_version(user, "account disabled")


def _set_password(user: User, new_password: str) -> None:
    problems = passwords.password_problems(new_password, email=user.email, name=user.name)
    if problems:
        raise PasswordRejected("; ".join(passwords.PROBLEMS[p] for p in problems), problems)
    user.password_hash = passwords.hash_password(new_password)
    user.session_version += 1
    session.flush()


def change_password(user: User, current_password: str, new_password: str) -> bool:
    """False when the current password is wrong; raises PasswordRejected when the new one breaks the policy."""
    if not passwords.verify_password(user.password_hash, current_password or ""):
        audit.record("user.password_change_failed", user=user, obj=user, reason="wrong current password")
        return False
    _set_password(user, new_password)
    audit.record("user.password_change", user=user, obj=user)
    return True


def reset_password(user: User, new_password: str) -> None:
    """Set a password through a reset link (the caller has checked the link). Does not sign anyone in."""
    _set_password(user, new_password)
    audit.record("user.password_reset", user=user, obj=user)


def user_by_email(email: str) -> User | None:
    return session.execute(select(User).where(User.email == (email or "").strip().lower())).scalar()


# --- sessions ---

def start_session(user: User, *, address_hash: str, agent: str, method: str, keep_for: dt.timedelta) -> UserSession:
    """Record a completed sign-in; drops this user's rows that can no longer be active."""
    now = utcnow()
    session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                              or_(UserSession.version != user.session_version,
                                                  UserSession.created_at < now - keep_for)))
    row = UserSession(user_id=user.id, version=user.session_version, created_at=now, last_seen_at=now,
                      address_hash=address_hash, agent=(agent or "")[:120], method=method)
    session.add(row)
    session.flush()
    return row


def touch_session(user: User, session_id: int, *, version: int | None = None) -> None:
    values = {"last_seen_at": utcnow()}
    if version is not None:
        values["version"] = version
    session.execute(update(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
                    .values(**values)
                    .execution_options(synchronize_session=False))


def active_sessions(user: User, *, idle: dt.timedelta, absolute: dt.timedelta) -> list[UserSession]:
    now = utcnow()
    return list(session.execute(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.version == user.session_version,
                                  UserSession.last_seen_at > now - idle, UserSession.created_at > now - absolute)
        .order_by(UserSession.created_at.desc())).scalars())


def end_other_sessions(user: User, keep_session_id: int | None) -> None:
    """Every session but the caller's ends: the version moves on and the caller's row moves with it."""
    from tenants.operations import bump_session_version
    bump_session_version(user, "log out other sessions")
    if keep_session_id is not None:
        touch_session(user, keep_session_id, version=user.session_version)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                              UserSession.version != user.session_version))
