"""Second factors, one-time codes, recovery codes and the small list of signed-in sessions.

Secrets that only need to be compared are stored hashed (codes: argon2id; recovery codes: SHA-256 of 80 random
bits). A TOTP secret has to be read back to compute codes, so it is stored as is; the database is the trust
boundary for it, as for the password hashes.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

FACTOR_KINDS = ("totp", "email", "sms")
CODE_PURPOSES = ("login", "enrol", "reauth")


class UserFactor(Base):
    """One second factor of a user: an authenticator app (TOTP), or codes sent by e-mail or SMS."""

    __tablename__ = "user_factors"
    __table_args__ = (
        CheckConstraint("kind IN ('totp','email','sms')", name="kind"),
        UniqueConstraint("user_id", "kind", name="uq_user_factors_user_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    # TOTP: the base32 secret. E-mail/SMS: NULL.
    secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # E-mail address or phone number the codes go to (fixed at enrolment, when it was proven); NULL for TOTP.
    destination: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # TOTP: the last 30-second time step accepted; a code of that step or an earlier one is refused (no replay).
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # When a correct code proved the factor (the pending secret or address lives in the session until then).
    confirmed_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class AuthCode(Base):
    """A 6-digit code sent by e-mail or SMS: hashed, valid 10 minutes, single use, bound to one attempt."""

    __tablename__ = "auth_codes"
    __table_args__ = (
        CheckConstraint("channel IN ('email','sms')", name="channel"),
        CheckConstraint("purpose IN ('login','enrol','reauth')", name="purpose"),
        CheckConstraint("failures >= 0", name="failures"),
        Index("ix_auth_codes_user_attempt", "user_id", "attempt_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    purpose: Mapped[str] = mapped_column(String(8), nullable=False)
    destination: Mapped[str] = mapped_column(String(254), nullable=False)
    # SHA-256 of the random attempt id kept in the signed session: a code works only for the attempt it was sent to.
    attempt_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(255), nullable=False)  # argon2id
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # Wrong guesses against this code; at the limit the code is burnt.
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class RecoveryCode(Base):
    """One of ten single-use recovery codes; only the SHA-256 of the normalised code is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class UserSession(Base):
    """A completed sign-in, listed on the profile. The cookie is what authenticates; this row only describes it,
    and it counts as active while its ``version`` equals the user's session version and it is not timed out."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    # Keyed hash of the client address (not the address itself) and a shortened user agent.
    address_hash: Mapped[str] = mapped_column(String(16), nullable=False)
    agent: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    # How the second step was passed: totp, email, sms, recovery, enrol, or none (no factor).
    method: Mapped[str] = mapped_column(String(10), nullable=False, default="none")
