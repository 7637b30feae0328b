"""Background jobs as rows (their status survives the queue and is scoped like everything else); roll-up
snapshots; reports, their rendered files and signatures."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

JOB_STATES = ("queued", "running", "done", "failed")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint("status IN ('queued','running','done','failed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), nullable=False)
    queue: Mapped[str] = mapped_column(String(20), nullable=False, default="default")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    # The node whose subtree the job works on: scoping and 404s go through it.
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False, index=True)
    params: Mapped[Any] = mapped_column(JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="queued")
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # percent
    message: Mapped[str | None] = mapped_column(String(255), nullable=True)
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    @property
    def scope_node_id(self) -> int:
        return self.node_id


REPORT_LEVELS = ("unit", "school", "inspectorate", "ministry")
REPORT_FORMATS = ("pdf", "xlsx", "csv")


class Snapshot(Base):
    """The roll-up aggregate of one node (unit, school, inspectorate, or the ministry: the nation) in a campaign.

    Written when the node is submitted (and again after a reopen + submit or an extended section), from its own
    data (a unit: its class tables) or its children's snapshots (above the unit), so a parent never reads the raw
    tables of its subtree. ``aggregate`` is :meth:`forms.indicators.Aggregate.to_dict`; ``details`` holds what the
    report needs besides the sums (a unit's item results and risk flags, exclusions with reasons, the children's
    breakdown). One row per node and campaign, rewritten in place with ``version`` + 1; reports keep history."""

    __tablename__ = "snapshots"
    __table_args__ = (
        UniqueConstraint("campaign_id", "node_id", name="uq_snapshots_campaign_node"),
        CheckConstraint("level IN ('unit','school','inspectorate','ministry')", name="level"),
        Index("ix_snapshots_campaign_parent", "campaign_id", "parent_node_id"),
        Index("ix_snapshots_campaign_county_risk", "campaign_id", "county_id", "level", "at_risk"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"), nullable=False)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False)
    # The campaign_states row of the node (NULL for the ministry, which has none).
    state_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_states.id", ondelete="RESTRICT"),
                                                 nullable=True)
    parent_node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), nullable=True)
    level: Mapped[str] = mapped_column(String(12), nullable=False)
    path: Mapped[str] = mapped_column(String(80), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    ruleset_key: Mapped[str] = mapped_column(String(80), nullable=False)
    ruleset_version: Mapped[int] = mapped_column(Integer, nullable=False)
    aggregate: Mapped[Any] = mapped_column(JSON, nullable=False)
    details: Mapped[Any] = mapped_column(JSON, nullable=False, default=dict)
    # Denormalised for the inspectorate's lists (filter by risk without reading JSON).
    at_risk: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    missing_data: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    risk_codes: Mapped[Any] = mapped_column(JSON, nullable=False, default=list)  # e.g. ["ethnicity.class"]
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)

    @property
    def scope_node_id(self) -> int:
        return self.node_id


class Report(Base):
    """One immutable version of the report of a node in a campaign (PostgreSQL refuses UPDATE and DELETE).

    ``data`` is the whole content as JSON (what the API returns and every format renders); ``sha256`` is the hash
    of its canonical JSON. A new version is written when the data change (extended monitoring, reopen) and the
    reports above are re-issued; earlier versions stay readable. ``reason``: ``submitted``, ``on_demand``,
    ``reissued``, ``extended``."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("campaign_id", "node_id", "version", name="uq_reports_campaign_node_version"),
        CheckConstraint("level IN ('unit','school','inspectorate','ministry')", name="level"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"), nullable=False)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False, index=True)
    level: Mapped[str] = mapped_column(String(12), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(String(20), nullable=False)
    provisional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # built before submission
    ruleset_key: Mapped[str] = mapped_column(String(80), nullable=False)
    ruleset_version: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)

    files: Mapped[list[ReportFile]] = relationship(back_populates="report", order_by="ReportFile.format")

    @property
    def scope_node_id(self) -> int:
        return self.node_id


class ReportFile(Base):
    """One rendered file of a report version, with the SHA-256 of its bytes (immutable like the report)."""

    __tablename__ = "report_files"
    __table_args__ = (
        UniqueConstraint("report_id", "format", name="uq_report_files_report_format"),
        CheckConstraint("format IN ('pdf','xlsx','csv')", name="format"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="RESTRICT"), nullable=False)
    format: Mapped[str] = mapped_column(String(8), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)

    report: Mapped[Report] = relationship(back_populates="files")


class ReportSignature(Base):
    """The inspector general's signature of a county report version: signer, time and the report's hash.

    ``void_at`` is set when the report is re-issued (a new version then needs a new signature)."""

    __tablename__ = "report_signatures"
    __table_args__ = (Index("ix_report_signatures_report", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="RESTRICT"), nullable=False)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    signed_at: Mapped[dt.datetime] = mapped_column(nullable=False, default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # the report's sha256 when signed
    void_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    void_reason: Mapped[str | None] = mapped_column(String(120), nullable=True)

    report: Mapped[Report] = relationship()

    @property
    def scope_node_id(self) -> int:
        return self.report.node_id
