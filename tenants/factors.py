"""Second factors: TOTP (authenticator app), one-time codes by e-mail or SMS, and single-use recovery codes.

- TOTP: 30-second steps, 6 digits, a drift of one step either way; a code is accepted at most once because the
  factor keeps the last step used and only a later step is accepted (one atomic UPDATE, so two concurrent uses
  of one code cannot both win).
- E-mail/SMS codes: 6 digits from ``secrets``, argon2id-hashed, valid 10 minutes, single use, bound to the attempt
  (a random id in the signed session; the row keeps its SHA-256), burnt after 5 wrong guesses.
- Recovery codes: 10, 80 random bits each, SHA-256 at rest, single use.

Who must have a factor: every staff role (:data:`tenants.policy.STAFF_ROLES`); pupils and parents may turn one on.
Every change audits and bumps the user's session version (every other session of the user ends).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time

import pyotp
from sqlalchemy import delete, func, or_, select, update

from core import audit
from core.db import session, utcnow
from core.errors import Conflict, Invalid
from tenants import passwords, policy
from tenants.factor_models import FACTOR_KINDS, AuthCode, RecoveryCode, UserFactor
from tenants.models import User

STEP = 30
DRIFT = 1  # steps accepted either side of now
CODE_TTL = dt.timedelta(minutes=10)
CODE_MAX_FAILURES = 5
RECOVERY_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt
ISSUER = "Arbor"


def requires_second_factor(user: User) -> bool:
    """Staff must use a second factor (Order 3896/2023 art. 6(3), 14(2)); pupils and parents may."""
    return policy.is_staff(user)


def factors_of(user: User) -> list[UserFactor]:
    return list(session.execute(select(UserFactor).where(UserFactor.user_id == user.id)
                                .order_by(UserFactor.kind)).scalars())


def factor(user: User, kind: str) -> UserFactor | None:
    return session.execute(select(UserFactor).where(UserFactor.user_id == user.id, UserFactor.kind == kind)).scalar()


def has_factor(user: User) -> bool:
    return session.execute(select(UserFactor.id).where(UserFactor.user_id == user.id).limit(1)).first() is not None


# --- TOTP ---

def new_totp_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG data: URI (the CSP allows data: images)."""
    import segno
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


def _totp_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step within the drift window whose code is ``code``, or None."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP)
    found = None
    for step in range(current - DRIFT, current + DRIFT + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def verify_totp(f: UserFactor, code: str, now: float | None = None) -> bool:
    """True once per code: the step must be later than the last step this factor accepted."""
    step = _totp_step(f.secret or "", code, now)
    if step is None:
        return False
    result = session.execute(
        update(UserFactor)
        .where(UserFactor.id == f.id, or_(UserFactor.last_step.is_(None), UserFactor.last_step < step))
        .values(last_step=step, last_used_at=utcnow())
        .execution_options(synchronize_session=False))
    session.expire(f)
    return result.rowcount == 1


def check_totp_secret(secret: str, code: str, now: float | None = None) -> int | None:
    """For enrolment: the step of a correct code for a secret not saved yet."""
    return _totp_step(secret, code, now)


# --- e-mail and SMS codes ---

def attempt_hash(attempt: str) -> str:
    return hashlib.sha256(attempt.encode()).hexdigest()


def issue_code(user: User, channel: str, purpose: str, attempt: str, destination: str) -> str:
    """A fresh 6-digit code for this attempt (older live codes of the attempt die); returns the code to send."""
    if channel not in ("email", "sms"):
        raise Invalid("unknown channel")
    now = utcnow()
    ah = attempt_hash(attempt)
    session.execute(update(AuthCode).where(AuthCode.user_id == user.id, AuthCode.attempt_hash == ah,
                                           AuthCode.purpose == purpose, AuthCode.used_at.is_(None))
                    .values(used_at=now).execution_options(synchronize_session=False))
    code = f"{secrets.randbelow(10 ** 6):06d}"
    session.add(AuthCode(user_id=user.id, channel=channel, purpose=purpose, destination=destination,
                         attempt_hash=ah, code_hash=passwords.hash_password(code), created_at=now,
                         expires_at=now + CODE_TTL))
    session.flush()
    return code


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def check_code(user: User, purpose: str, attempt: str, code: str, channel: str | None = None) -> AuthCode | None:
    """The live code of this attempt, if ``code`` matches it; it is used up. Wrong guesses count against it."""
    q = (select(AuthCode).where(AuthCode.user_id == user.id, AuthCode.purpose == purpose,
                                AuthCode.attempt_hash == attempt_hash(attempt or ""), AuthCode.used_at.is_(None))
         .order_by(AuthCode.id.desc()).limit(1))
    if channel:
        q = q.where(AuthCode.channel == channel)
    row = session.execute(q).scalar()
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    now = utcnow()
    if row is None or _aware(row.expires_at) <= now:
        return None
    if len(code) != 6 or not passwords.verify_password(row.code_hash, code):
        burnt = row.failures + 1 >= CODE_MAX_FAILURES
        session.execute(update(AuthCode).where(AuthCode.id == row.id)
                        .values(failures=AuthCode.failures + 1, used_at=now if burnt else None)
                        .execution_options(synchronize_session=False))
        session.expire(row)
        return None
    won = session.execute(update(AuthCode).where(AuthCode.id == row.id, AuthCode.used_at.is_(None))
                          .values(used_at=now).execution_options(synchronize_session=False)).rowcount == 1
    session.expire(row)
    return row if won else None


# --- recovery codes ---

def _recovery_hash(code: str) -> str:
    normal = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    return hashlib.sha256(f"arbor-recovery:{normal}".encode()).hexdigest()


def generate_recovery_codes(user: User, actor: User | None = None) -> list[str]:
    """Ten new codes (every older one dies); the plain codes are returned once and never stored."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    session.add_all([RecoveryCode(user_id=user.id, code_hash=_recovery_hash(c)) for c in codes])
    session.flush()
    audit.record("factor.recovery_codes", user=actor or user, obj=user, new={"count": RECOVERY_COUNT})
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    result = session.execute(update(RecoveryCode)
                             .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _recovery_hash(code),
                                    RecoveryCode.used_at.is_(None))
                             .values(used_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount == 1


def recovery_codes_left(user: User) -> int:
    return session.execute(select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == user.id,
                                                                     RecoveryCode.used_at.is_(None))).scalar() or 0


# --- the second step of a sign-in (or a re-authentication) ---

def verify(user: User, method: str, code: str, *, purpose: str = "login", attempt: str = "") -> bool:
    """Check a second-factor answer. ``method``: totp, email, sms or recovery."""
    if method == "totp":
        f = factor(user, "totp")
        return f is not None and verify_totp(f, code)
    if method in ("email", "sms"):
        f = factor(user, method)
        if f is None:
            return False
        row = check_code(user, purpose, attempt, code, channel=method)
        if row is not None:
            f.last_used_at = utcnow()
            session.flush()
        return row is not None
    if method == "recovery":
        return has_factor(user) and use_recovery_code(user, code)
    return False


# --- enrolment and removal ---

def enrol(user: User, kind: str, *, secret: str | None = None, destination: str | None = None,
          last_step: int | None = None, actor: User | None = None) -> UserFactor:
    """Save a proven factor (replacing an older one of the same kind), audit, end every other session."""
    from tenants.operations import bump_session_version
    if kind not in FACTOR_KINDS:
        raise Invalid("unknown factor")
    if kind == "totp" and not secret:
        raise Invalid("a TOTP factor needs its secret")
    f = factor(user, kind)
    replaced = f is not None
    if f is None:
        f = UserFactor(user_id=user.id, kind=kind)
        session.add(f)
    f.secret = secret if kind == "totp" else None
    f.destination = destination if kind != "totp" else None
    f.last_step = last_step
    f.confirmed_at = utcnow()
    session.flush()
    audit.record("factor.replace" if replaced else "factor.enrol", user=actor or user, obj=f,
                 new={"kind": kind, "destination": _masked(destination)})
    bump_session_version(user, f"factor {kind} enrolled")
    return f


def remove(user: User, kind: str, actor: User | None = None) -> None:
    """Remove one factor. Staff keep at least one; the last one gone takes the recovery codes with it."""
    from tenants.operations import bump_session_version
    f = factor(user, kind)
    if f is None:
        return
    others = [x for x in factors_of(user) if x.kind != kind]
    if not others and requires_second_factor(user):
        raise Conflict("your role needs a second factor: add another one before removing this one")
    session.delete(f)
    if not others:
        session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()
    audit.record("factor.remove", user=actor or user, object_type="user_factors", object_id=f.id,
                 old={"kind": kind, "destination": _masked(f.destination)})
    bump_session_version(user, f"factor {kind} removed")


def disable_all(user: User, actor: User | None = None) -> None:
    """Turn two-step sign-in off (pupils and parents only)."""
    from tenants.operations import bump_session_version
    if requires_second_factor(user):
        raise Conflict("your role needs a second factor")
    kinds = [f.kind for f in factors_of(user)]
    if not kinds:
        return
    session.execute(delete(UserFactor).where(UserFactor.user_id == user.id))
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()
    audit.record("factor.disable", user=actor or user, obj=user, old={"kinds": kinds})
    bump_session_version(user, "second factor turned off")


def add_confirmed_totp(user: User, secret: str) -> UserFactor:
    """A TOTP factor with a known secret, without a code (demo data and tests; never from a request)."""
    f = UserFactor(user_id=user.id, kind="totp", secret=secret, confirmed_at=utcnow())
    session.add(f)
    session.flush()
    audit.record("factor.enrol", actor="system", obj=f, new={"kind": "totp", "seeded": True})
    return f


def _masked(destination: str | None) -> str | None:
    """'+40722123456' → '+407…456', 'ana.pop@x.ro' → 'an…@x.ro': enough to recognise, not to copy."""
    if not destination:
        return None
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:2]}…@{domain}"
    return f"{destination[:4]}…{destination[-3:]}"


masked = _masked
