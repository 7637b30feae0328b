"""The append-only, hash-chained audit log.

Every operation that matters calls :func:`record` inside its own transaction, so the entry commits or rolls back
with the change it describes. Each entry stores the hash of the previous one; :func:`verify` walks the chain.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, session, utcnow

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=True)
    # Who acted when there is no user: "link 42", "system", "cli".
    actor: Mapped[str] = mapped_column(String(80), nullable=False)
    action: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    object_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=True,
                                                index=True)
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)


def _digest(prev_hash: str, fields: dict) -> str:
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def _utc(at: dt.datetime) -> dt.datetime:
    """The same instant in UTC: SQLite hands back naive UTC, PostgreSQL an aware value in the session's TimeZone."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def _jsonable(value):
    """What a JSON column hands back for ``value``: hashing and storing the same normal form keeps them equal
    (dates become ISO strings, tuples lists, keys strings)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_json_default, ensure_ascii=False))


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _fields(e) -> dict:
    """The hashed content of an entry (an ORM object or a plain row)."""
    return {"at": _utc(e.at).isoformat(), "user_id": e.user_id, "actor": e.actor, "action": e.action,
            "object_type": e.object_type, "object_id": e.object_id, "node_id": e.node_id,
            "old": e.old, "new": e.new, "reason": e.reason}


def _lock_chain() -> None:
    """Serialise appends so two transactions never chain onto the same previous entry."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727001)"))


def record(action: str, *, user=None, actor: str | None = None, obj=None, object_type: str | None = None,
           object_id=None, node_id: int | None = None, old=None, new=None, reason: str | None = None) -> AuditEntry:
    """Append one audit entry in the current transaction and flush it."""
    if obj is not None:
        if getattr(obj, "id", 0) is None:  # a new object gets its id before the entry names it
            session.flush()
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    _lock_chain()
    prev = session.execute(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    # Whole seconds in UTC: both engines store and return exactly this, so the hash can be recomputed.
    entry = AuditEntry(at=utcnow().replace(microsecond=0), user_id=getattr(user, "id", None),
                       actor=(actor or (f"user {user.id}" if user is not None else "system"))[:80], action=action,
                       object_type=object_type, object_id=None if object_id is None else str(object_id),
                       node_id=node_id, old=_jsonable(old), new=_jsonable(new), reason=reason,
                       prev_hash=prev or GENESIS)
    entry.hash = _digest(entry.prev_hash, _fields(entry))
    session.add(entry)
    session.flush()
    return entry


def verify(batch: int = 5000) -> tuple[bool, int | None, str]:
    """Walk the chain in id order. Returns (ok, first_bad_id, message).

    Reads plain rows, not ORM objects, so entries already loaded in the session are checked as stored.
    """
    table = AuditEntry.__table__
    prev, last_id, count = GENESIS, 0, 0
    while True:
        rows = session.execute(select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch)).all()
        if not rows:
            return True, None, f"{count} entries, chain intact"
        for e in rows:
            if e.prev_hash != prev:
                after = f"entry {last_id}" if last_id else "the start of the log"
                return False, e.id, (f"entry {e.id}: link to the previous one ({after}) broken: an entry was "
                                     f"removed or altered")
            if _digest(e.prev_hash, _fields(e)) != e.hash:
                return False, e.id, f"entry {e.id}: content does not match its hash (altered)"
            prev, last_id, count = e.hash, e.id, count + 1
