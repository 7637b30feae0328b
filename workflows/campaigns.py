"""Campaign life cycle: draft → running (launch) → closed → archived (read-only). Only the commission acts.

Launch snapshots the tree: one state row per active inspectorate, school and unit (under active ancestors) and per
class of the campaign's school year in those units, plus an empty values row per form section; later network
changes do not alter the running campaign. Several campaigns may run at once.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import String, cast, func, insert, literal, select
from sqlalchemy.orm import aliased

from core import audit
from core.db import session, utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound
from forms.operations import get_definition_row, get_ruleset
from tenants.models import Node, SchoolClass, SchoolYear, User
from tenants.policy import roles_at
from workflows import notify
from workflows.errors import refuse
from workflows.models import Campaign, CampaignState, CampaignValues

DEFAULT_FORMS = {"unit": "segregation.unit_form", "class": "segregation.class_table",
                 "extended": "segregation.extended"}
DEFAULT_RULESET = "segregation"


def _root() -> Node:
    root = session.execute(select(Node).where(Node.parent_id.is_(None), Node.level == "ministry")
                           .order_by(Node.id).limit(1)).scalar()
    if root is None:
        raise refuse(Conflict, "no_ministry")
    return root


def _require_commission(user: User, node: Node) -> None:
    if "commission" not in roles_at(user, node):
        raise refuse(Forbidden, "commission_only")


def _pin(section: str, key: str | None, version: int | None) -> tuple[str, int]:
    key = key or DEFAULT_FORMS[section]
    try:
        row = get_definition_row(key, version)
    except NotFound:
        raise refuse(Invalid, "form_not_published", details={f"{section}_form": key}, form=key, version=version,
                     section=section) from None
    if row.scope != section:
        raise refuse(Invalid, "form_wrong_scope", details={f"{section}_form": key}, form=key, scope=row.scope,
                     section=section)
    return row.key, row.version


def create_campaign(actor: User, *, name: str, school_year: SchoolYear, deadline: dt.date,
                    opens_on: dt.date | None = None, unit_form: tuple[str | None, int | None] = (None, None),
                    class_form: tuple[str | None, int | None] = (None, None),
                    extended_form: tuple[str | None, int | None] = (None, None),
                    ruleset: tuple[str | None, int | None] = (None, None)) -> Campaign:
    """A draft campaign pinning form and ruleset versions (each ``(key, version)``; None: the shipped key, the
    latest published version)."""
    root = _root()
    _require_commission(actor, root)
    name = (name or "").strip()
    if not name:
        raise refuse(Invalid, "name_required", details={"name": "required"})
    if opens_on is not None and opens_on > deadline:
        raise refuse(Invalid, "opens_after_deadline", details={"deadline": "before opening"})
    pins = {s: _pin(s, *p) for s, p in (("unit", unit_form), ("class", class_form), ("extended", extended_form))}
    try:
        rs = get_ruleset(ruleset[0] or DEFAULT_RULESET, ruleset[1])
    except NotFound:
        raise refuse(Invalid, "ruleset_not_published", details={"ruleset": ruleset[0] or DEFAULT_RULESET},
                     ruleset=ruleset[0] or DEFAULT_RULESET, version=ruleset[1]) from None
    c = Campaign(name=name, school_year_id=school_year.id, root_id=root.id, status="draft", deadline=deadline,
                 opens_on=opens_on, unit_form_key=pins["unit"][0], unit_form_version=pins["unit"][1],
                 class_form_key=pins["class"][0], class_form_version=pins["class"][1],
                 extended_form_key=pins["extended"][0], extended_form_version=pins["extended"][1],
                 ruleset_key=rs.key, ruleset_version=rs.version, created_by_id=actor.id)
    session.add(c)
    session.flush()
    audit.record("campaign.create", user=actor, obj=c, node_id=root.id, new=_summary(c))
    return c


def _summary(c: Campaign) -> dict:
    return {"name": c.name, "status": c.status, "school_year_id": c.school_year_id, "deadline": c.deadline,
            "opens_on": c.opens_on, "forms": {s: list(c.form_pin(s)) for s in ("unit", "class", "extended")},
            "ruleset": [c.ruleset_key, c.ruleset_version]}


def _snapshot(c: Campaign) -> dict[str, int]:
    """INSERT … SELECT, level by level: each row joins its parent's row, so a node under an inactive (hence
    absent) ancestor is left out, and the work is a handful of statements whatever the size of the country."""
    counts: dict[str, int] = {}
    now = utcnow()
    parent = aliased(CampaignState)
    for level in ("inspectorate", "school", "unit"):
        cols = ["campaign_id", "level", "node_id", "parent_id", "path", "county_id", "school_id", "state",
                "locked", "excluded", "extended", "updated_at"]
        base = select(literal(c.id), literal(level), Node.id)
        if level == "inspectorate":
            q = base.add_columns(literal(None), Node.path, Node.id, literal(None)).where(
                Node.parent_id == c.root_id)
        else:
            q = (base.add_columns(parent.id, Node.path, Node.county_id,
                                  Node.id if level == "school" else Node.school_id)
                 .join(parent, (parent.node_id == Node.parent_id) & (parent.campaign_id == c.id)
                       & parent.class_id.is_(None)))
        q = q.add_columns(literal("not_started"), literal(False), literal(False), literal("none"), literal(now)) \
            .where(Node.level == level, Node.active.is_(True))
        session.execute(insert(CampaignState).from_select(cols, q))
    unit_state = aliased(CampaignState)
    q = (select(literal(c.id), literal("class"), SchoolClass.unit_id, SchoolClass.id, unit_state.id,
                unit_state.path + literal("c") + cast(SchoolClass.id, String) + literal("/"),
                unit_state.county_id, unit_state.school_id, literal("not_started"), literal(False), literal(False),
                literal("none"), literal(now))
         .join(unit_state, (unit_state.node_id == SchoolClass.unit_id) & (unit_state.campaign_id == c.id)
               & (unit_state.level == "unit"))
         .where(SchoolClass.school_year_id == c.school_year_id))
    session.execute(insert(CampaignState).from_select(
        ["campaign_id", "level", "node_id", "class_id", "parent_id", "path", "county_id", "school_id", "state",
         "locked", "excluded", "extended", "updated_at"], q))
    # Counted afterwards: an INSERT … SELECT's rowcount is -1 on some drivers (psycopg through the ORM).
    counts.update(dict(session.execute(select(CampaignState.level, func.count()).where(
        CampaignState.campaign_id == c.id).group_by(CampaignState.level)).all()))
    for level, section in (("unit", "unit"), ("unit", "extended"), ("class", "class")):
        q = select(literal(c.id), CampaignState.id, literal(section), literal({}, type_=CampaignValues.values.type),
                   literal(0)).where(CampaignState.campaign_id == c.id, CampaignState.level == level)
        session.execute(insert(CampaignValues).from_select(["campaign_id", "state_id", "section", "values",
                                                            "version"], q))
    return counts


def launch_campaign(actor: User, campaign: Campaign, message: str) -> dict[str, int]:
    """Start collection: snapshot the participating nodes and classes, and invite the inspectorates (after the
    commit). Returns the number of rows per level."""
    campaign = session.execute(select(Campaign).where(Campaign.id == campaign.id).with_for_update()
                               .execution_options(populate_existing=True)).scalar_one()
    root = session.get(Node, campaign.root_id)
    _require_commission(actor, root)
    if campaign.status != "draft":
        raise refuse(Conflict, "launch_not_draft", status=campaign.status)
    message = (message or "").strip()
    if not message:
        raise refuse(Invalid, "invitation_required", details={"message": "required"})
    counts = _snapshot(campaign)
    campaign.status, campaign.launched_at, campaign.invitation = "running", utcnow(), message
    session.flush()
    audit.record("campaign.launch", user=actor, obj=campaign, node_id=root.id, old={"status": "draft"},
                 new={"status": "running", "rows": counts})
    county_ids = session.execute(select(CampaignState.node_id).where(
        CampaignState.campaign_id == campaign.id, CampaignState.level == "inspectorate")).scalars().all()
    notify.campaign_launched(campaign, county_ids, message)
    return counts


def _move(actor: User, campaign: Campaign, frm: str, to: str, stamp: str) -> Campaign:
    campaign = session.execute(select(Campaign).where(Campaign.id == campaign.id).with_for_update()
                               .execution_options(populate_existing=True)).scalar_one()
    _require_commission(actor, session.get(Node, campaign.root_id))
    if campaign.status != frm:
        raise refuse(Conflict, "wrong_status", status=campaign.status, expected=frm)
    campaign.status = to
    setattr(campaign, stamp, utcnow())
    session.flush()
    audit.record(f"campaign.{to}", user=actor, obj=campaign, node_id=campaign.root_id, old={"status": frm},
                 new={"status": to})
    return campaign


def close_campaign(actor: User, campaign: Campaign) -> Campaign:
    """Stop collection: every node becomes read-only."""
    return _move(actor, campaign, "running", "closed", "closed_at")


def archive_campaign(actor: User, campaign: Campaign) -> Campaign:
    return _move(actor, campaign, "closed", "archived", "archived_at")


__all__ = ["archive_campaign", "close_campaign", "create_campaign", "launch_campaign"]
