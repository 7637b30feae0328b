"""Campaigns, the per-node/per-class workflow state rows a launch snapshots, form values and history."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from tenants.models import Node, SchoolClass, SchoolYear

CAMPAIGN_STATUSES = ("draft", "running", "closed", "archived")
STATES = ("not_started", "in_progress", "submitted")
EXTENDED_STATES = ("none", "requested", "submitted")
STATE_LEVELS = ("inspectorate", "school", "unit", "class")
SECTIONS = ("unit", "class", "extended")


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("status IN ('draft','running','closed','archived')", name="status"),
        CheckConstraint("opens_on IS NULL OR opens_on <= deadline", name="calendar"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), nullable=False)
    school_year_id: Mapped[int] = mapped_column(ForeignKey("school_years.id", ondelete="RESTRICT"), nullable=False)
    # The ministry node the campaign runs under (its scope for tenant checks).
    root_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="draft")
    # Pinned versions: a running campaign never changes forms or thresholds under its users.
    unit_form_key: Mapped[str] = mapped_column(String(80), nullable=False)
    unit_form_version: Mapped[int] = mapped_column(Integer, nullable=False)
    class_form_key: Mapped[str] = mapped_column(String(80), nullable=False)
    class_form_version: Mapped[int] = mapped_column(Integer, nullable=False)
    extended_form_key: Mapped[str] = mapped_column(String(80), nullable=False)
    extended_form_version: Mapped[int] = mapped_column(Integer, nullable=False)
    ruleset_key: Mapped[str] = mapped_column(String(80), nullable=False)
    ruleset_version: Mapped[int] = mapped_column(Integer, nullable=False)
    opens_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    deadline: Mapped[dt.date] = mapped_column(Date, nullable=False)
    invitation: Mapped[str | None] = mapped_column(Text, nullable=True)  # the launch message to inspectorates
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    launched_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    archived_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    school_year: Mapped[SchoolYear] = relationship()

    @property
    def scope_node_id(self) -> int:
        return self.root_id

    def form_pin(self, section: str) -> tuple[str, int]:
        return {"unit": (self.unit_form_key, self.unit_form_version),
                "class": (self.class_form_key, self.class_form_version),
                "extended": (self.extended_form_key, self.extended_form_version)}[section]

    def __repr__(self) -> str:
        return f"<Campaign {self.id} {self.name!r} {self.status}>"


class CampaignState(Base):
    """The workflow state of one node (inspectorate, school, unit) or one class in one campaign.

    Rows are written at launch and never added or removed afterwards: later network changes do not alter a
    running campaign. ``path`` is the node's materialised path (a class: its unit's path + ``c<id>/``), so a
    subtree is one prefix comparison; ``county_id``/``school_id`` group national counts cheaply."""

    __tablename__ = "campaign_states"
    __table_args__ = (
        UniqueConstraint("campaign_id", "path", name="uq_campaign_states_campaign_path"),
        CheckConstraint("level IN ('inspectorate','school','unit','class')", name="level"),
        CheckConstraint("state IN ('not_started','in_progress','submitted')", name="state"),
        CheckConstraint("extended IN ('none','requested','submitted')", name="extended"),
        CheckConstraint("(level = 'class') = (class_id IS NOT NULL)", name="class_row"),
        CheckConstraint("excluded = false OR exclusion_reason IS NOT NULL", name="exclusion_reason"),
        Index("ix_campaign_states_campaign_parent", "campaign_id", "parent_id", "state"),
        Index("ix_campaign_states_campaign_county", "campaign_id", "county_id", "level", "state"),
        Index("ix_campaign_states_campaign_path", "campaign_id", "path",
              postgresql_ops={"path": "text_pattern_ops"}),
        Index("ix_campaign_states_campaign_node", "campaign_id", "node_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"), nullable=False)
    level: Mapped[str] = mapped_column(String(12), nullable=False)
    # The node itself, or for a class row the class's unit.
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="RESTRICT"), nullable=True,
                                                 index=True)
    # The state row one level up (NULL for inspectorates: the commission sits above them).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_states.id", ondelete="RESTRICT"),
                                                  nullable=True)
    path: Mapped[str] = mapped_column(String(80), nullable=False)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), nullable=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="not_started")
    locked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    excluded: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    exclusion_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    extended: Mapped[str] = mapped_column(String(10), nullable=False, default="none")
    updated_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)  # last workflow activity

    campaign: Mapped[Campaign] = relationship()
    node: Mapped[Node] = relationship(foreign_keys=[node_id])
    school_class: Mapped[SchoolClass | None] = relationship()

    @property
    def scope_node_id(self) -> int:
        return self.node_id

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state, "locked": self.locked, "excluded": self.excluded,
                "exclusion_reason": self.exclusion_reason, "extended": self.extended}

    @property
    def ancestor_paths(self) -> list[str]:
        """Paths of the state rows above this one that can exist (inspectorate … parent), top first."""
        parts = self.path.strip("/").split("/")
        return ["/" + "/".join(parts[:i]) + "/" for i in range(2, len(parts))]

    def __repr__(self) -> str:
        return f"<CampaignState {self.level} {self.path} {self.state}{' locked' if self.locked else ''}>"


class CampaignValues(Base):
    """The values of one form section (unit form, class table or extended section) of one state row.

    ``version`` is 0 until the first save (the values are then the form's defaults); every save is
    ``UPDATE … WHERE version = :expected``, so of two saves based on one version exactly one wins."""

    __tablename__ = "campaign_values"
    __table_args__ = (
        UniqueConstraint("state_id", "section", name="uq_campaign_values_state_section"),
        CheckConstraint("section IN ('unit','class','extended')", name="section"),
        CheckConstraint("version >= 0", name="version"),
        Index("ix_campaign_values_campaign_section", "campaign_id", "section"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"), nullable=False)
    state_id: Mapped[int] = mapped_column(ForeignKey("campaign_states.id", ondelete="RESTRICT"), nullable=False)
    section: Mapped[str] = mapped_column(String(10), nullable=False)
    values: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(80), nullable=True)  # "user 12", "link 3 class 45"


class WorkflowEvent(Base):
    """One workflow transition or save on one state row: the node's history."""

    __tablename__ = "workflow_events"
    __table_args__ = (Index("ix_workflow_events_state_at", "state_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"), nullable=False,
                                             index=True)
    state_id: Mapped[int] = mapped_column(ForeignKey("campaign_states.id", ondelete="RESTRICT"), nullable=False)
    action: Mapped[str] = mapped_column(String(24), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=True)
    actor: Mapped[str] = mapped_column(String(80), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)


class ClassLink(Base):
    """The form teacher's signed link to one class table of one campaign (seed 003: no account needed).

    One row per class and campaign. The token carries only ``id`` and ``version``; this row decides whether it
    still works. Revoking sets ``revoked_at``; re-issuing bumps ``version`` (old tokens become "superseded"),
    clears ``revoked_at`` and sets a new ``expires_at``. ``opened_at``/``saved_at``/``submitted_at`` are what the
    unit sees per class; the audit log holds every use as ``link <id>``."""

    __tablename__ = "class_links"
    __table_args__ = (
        UniqueConstraint("campaign_id", "class_id", name="uq_class_links_campaign_class"),
        CheckConstraint("version >= 1", name="version"),
        Index("ix_class_links_campaign_unit", "campaign_id", "unit_id"),
        Index("ix_class_links_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"), nullable=False)
    state_id: Mapped[int] = mapped_column(ForeignKey("campaign_states.id", ondelete="RESTRICT"), nullable=False)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="RESTRICT"), nullable=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    expires_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # The only personal data involved: who the link is for (optional).
    teacher_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    teacher_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    issued_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)  # of the current version
    emailed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    opened_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    saved_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    campaign: Mapped[Campaign] = relationship()
    state: Mapped[CampaignState] = relationship()
    school_class: Mapped[SchoolClass] = relationship()

    @property
    def scope_node_id(self) -> int:
        return self.unit_id

    def __repr__(self) -> str:
        return f"<ClassLink {self.id} v{self.version} class {self.class_id}>"
