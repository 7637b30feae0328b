"""Tree, school-year structure, users and memberships.

The tree uses a materialised path (``/1/12/345/``) with a prefix index, plus the denormalised county and school
ids, so subtree and tenant checks are one indexed comparison even at national size.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

LEVELS = ("ministry", "inspectorate", "school", "unit")
CHILD_LEVEL = {"ministry": "inspectorate", "inspectorate": "school", "school": "unit", "unit": None}
ENVIRONMENTS = ("urban", "rural")
# 0 is the preparatory class; 1..12 are grades I..XII.
GRADE_LEVELS = tuple(range(0, 13))
EDUCATION_FORMS = ("day", "evening", "part_time", "distance")


class Node(Base):
    __tablename__ = "nodes"
    __table_args__ = (
        CheckConstraint("level IN ('ministry','inspectorate','school','unit')", name="level"),
        CheckConstraint("environment IS NULL OR environment IN ('urban','rural')", name="environment"),
        UniqueConstraint("level", "code", name="uq_nodes_level_code"),
        Index("ix_nodes_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
        Index("ix_nodes_parent_name", "parent_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=True)
    # Materialised path of ids, "/root/…/self/": a subtree is ``path LIKE '<prefix>%'``.
    path: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    # Denormalised ancestors for cheap tenant checks (NULL above their level).
    county_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), nullable=True, index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), nullable=True, index=True)
    # SIIIR code for schools/units, county code (CJ, IS, B) for inspectorates.
    code: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    # Lower-case name without diacritics ("scoala gimnaziala nr. 1"), what people actually type in a search.
    search_key: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    locality: Mapped[str | None] = mapped_column(String(120), nullable=True)
    environment: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # Comma-separated teaching languages, e.g. "ro,hu".
    languages: Mapped[str] = mapped_column(String(80), nullable=False, default="ro")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow, onupdate=utcnow)

    parent: Mapped[Node | None] = relationship(remote_side=[id], foreign_keys=[parent_id])

    @property
    def scope_node_id(self) -> int:
        return self.id

    def is_within(self, other: Node) -> bool:
        return self.path.startswith(other.path)

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/") if p]

    def __repr__(self) -> str:
        return f"<Node {self.level} {self.code} {self.name!r}>"


def search_key(text: str) -> str:
    """Fold case and strip diacritics (ș ş ț ţ ă â î and any other combining mark)."""
    import unicodedata
    decomposed = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


class SchoolYear(Base):
    __tablename__ = "school_years"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(9), nullable=False, unique=True)  # "2025-2026"
    starts_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    current: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("unit_id", "name", name="uq_buildings_unit_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    classrooms: Mapped[int | None] = mapped_column(Integer, nullable=True)

    unit: Mapped[Node] = relationship()

    @property
    def scope_node_id(self) -> int:
        return self.unit_id


class SchoolClass(Base):
    """A class (formațiune de studiu) of one unit in one school year; the catalog uses the same entity."""

    __tablename__ = "classes"
    __table_args__ = (
        UniqueConstraint("unit_id", "school_year_id", "name", name="uq_classes_unit_year_name"),
        CheckConstraint("grade_level BETWEEN 0 AND 12", name="grade_level"),
        CheckConstraint("pupils >= 0", name="pupils"),
        CheckConstraint("education_form IN ('day','evening','part_time','distance')", name="education_form"),
        Index("ix_classes_year_unit", "school_year_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False)
    school_year_id: Mapped[int] = mapped_column(ForeignKey("school_years.id", ondelete="RESTRICT"), nullable=False)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"), nullable=True)
    name: Mapped[str] = mapped_column(String(40), nullable=False)  # "5A", "Pregătitoare B"
    grade_level: Mapped[int] = mapped_column(Integer, nullable=False)
    teaching_language: Mapped[str] = mapped_column(String(8), nullable=False, default="ro")
    education_form: Mapped[str] = mapped_column(String(12), nullable=False, default="day")
    pupils: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Combined-grade class (clasă simultană): pupils of several grade levels taught together.
    combined: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    unit: Mapped[Node] = relationship()
    school_year: Mapped[SchoolYear] = relationship()

    @property
    def scope_node_id(self) -> int:
        return self.unit_id


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(160), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Bumped on logout, password change, factor change and disable: every older session cookie dies.
    session_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    locale: Mapped[str | None] = mapped_column(String(5), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                         lazy="selectin")

    # Flask-Login protocol, kept here so tenants stays free of Flask imports.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # The session version is part of the id, so a bumped version invalidates every older cookie.
        return f"{self.id}:{self.session_version}"


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "node_id", "role", name="uq_memberships_user_node_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(24), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    node: Mapped[Node] = relationship(lazy="joined")


class ApiToken(Base):
    """A personal access token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(String(12), nullable=False)  # shown in lists to tell tokens apart
    # Space-separated scopes: "read" and/or "write".
    scopes: Mapped[str] = mapped_column(String(80), nullable=False, default="read write")
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    user: Mapped[User] = relationship()

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class ImportBatch(Base):
    """An uploaded network or structure file: parsed, checked and planned before anything is written."""

    __tablename__ = "import_batches"
    __table_args__ = (
        CheckConstraint("kind IN ('network','structure')", name="kind"),
        CheckConstraint("status IN ('preview','invalid','applying','applied','discarded')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    # The subtree the file may touch: the ministry for the whole country, an inspectorate for its county, …
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    school_year_id: Mapped[int | None] = mapped_column(ForeignKey("school_years.id"), nullable=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="preview")
    rows: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # normalised rows
    plan: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)  # creates/updates/unchanged/missing
    errors: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # [{"row", "column", "message"}]
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    applied_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    @property
    def scope_node_id(self) -> int:
        return self.node_id
