"""Stored form definitions, rulesets and nomenclatures.

Definitions and rulesets are versioned by ``(key, version)``; a published version is immutable (enforced here on
flush as well as in the operations), so a launched campaign can pin one and rely on it never changing.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, event,
                        inspect)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.errors import Conflict

STATUSES = ("draft", "published")
ORIGINS = ("builtin", "admin")


class FormDefinition(Base):
    __tablename__ = "form_definitions"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_form_definitions_key_version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("scope IN ('unit','class','extended')", name="scope"),
        CheckConstraint("status IN ('draft','published')", name="status"),
        CheckConstraint("origin IN ('builtin','admin')", name="origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    scope: Mapped[str] = mapped_column(String(10), nullable=False)
    # The whole definition as checked by forms.definitions.parse_definition (its "version" equals the column).
    body: Mapped[dict] = mapped_column(JSON, nullable=False)
    # sha256 of the body without its version: sync_builtin adds a version only when the content changed.
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="draft")
    # Shipped in forms/builtin/ or written by a platform administrator.
    origin: Mapped[str] = mapped_column(String(10), nullable=False, default="admin")
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    def __repr__(self) -> str:
        return f"<FormDefinition {self.key} v{self.version} {self.status}>"


class Ruleset(Base):
    """Parameters of the indicator computation (thresholds, weights, …) — a plain JSON object, versioned."""

    __tablename__ = "rulesets"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_rulesets_key_version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("status IN ('draft','published')", name="status"),
        CheckConstraint("origin IN ('builtin','admin')", name="origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    params: Mapped[dict] = mapped_column(JSON, nullable=False)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="draft")
    origin: Mapped[str] = mapped_column(String(10), nullable=False, default="admin")
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    def __repr__(self) -> str:
        return f"<Ruleset {self.key} v{self.version} {self.status}>"


class Nomenclature(Base):
    """A list of choices managed by platform administrators (ethnicities, teaching languages, …)."""

    __tablename__ = "nomenclatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), nullable=False, unique=True)
    title: Mapped[Any] = mapped_column(JSON, nullable=False)      # "text" or {"ro": …, "en": …}
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)

    items: Mapped[list[NomenclatureItem]] = relationship(back_populates="nomenclature",
                                                         order_by="NomenclatureItem.position, NomenclatureItem.id")


class NomenclatureItem(Base):
    """One choice. Its code is what collected data stores, so it never changes and items are deactivated, never
    deleted."""

    __tablename__ = "nomenclature_items"
    __table_args__ = (UniqueConstraint("nomenclature_id", "code", name="uq_nomenclature_items_nomenclature_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nomenclature_id: Mapped[int] = mapped_column(ForeignKey("nomenclatures.id", ondelete="RESTRICT"),
                                                 nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    label: Mapped[Any] = mapped_column(JSON, nullable=False)
    # Extra facts about the item, e.g. {"ethnicity": "hungarian"} for a teaching language.
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow, onupdate=utcnow)

    nomenclature: Mapped[Nomenclature] = relationship(back_populates="items")


# --- published versions are immutable ----------------------------------------------------------------------

_FROZEN = {FormDefinition: ("key", "version", "scope", "body", "checksum"), Ruleset: ("key", "version", "params",
                                                                                      "checksum")}


def _was_published(target) -> bool:
    hist = inspect(target).attrs.status.history
    before = hist.deleted[0] if hist.deleted else target.status
    return before == "published"


def _guard_update(_mapper, _conn, target) -> None:
    if not _was_published(target):
        return
    state = inspect(target)
    changed = [a for a in _FROZEN[type(target)] if state.attrs[a].history.has_changes()]
    if changed or target.status != "published":
        raise Conflict(f"{type(target).__name__} {target.key} v{target.version} is published and cannot change")


def _guard_delete(_mapper, _conn, target) -> None:
    if _was_published(target):
        raise Conflict(f"{type(target).__name__} {target.key} v{target.version} is published and cannot be deleted")


for _cls in _FROZEN:
    event.listen(_cls, "before_update", _guard_update)
    event.listen(_cls, "before_delete", _guard_delete)
