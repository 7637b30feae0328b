"""Campaign endpoints of API v1: campaigns (national), the workflow state of a node, its actions and history, and
the versioned values of class tables and unit forms. Thin adapters over :mod:`workflows`; documented in
:mod:`app.api.openapi`.

Campaigns are national: anyone who may view campaigns reads one by id. Everything below a campaign is scoped: the
node, class or unit in the URL loads through the caller's subtree (``@access(load=…)``, 404 outside it) and the
campaign is then looked up by id inside the view (404 when missing).
"""
from __future__ import annotations

import datetime as dt

from flask import jsonify, request

from app.access import access, actor
from app.api import bp
from app.api.views import node_json
from core.db import session
from core.errors import Forbidden, Invalid, NotFound
from tenants import policy
from tenants.models import Node, SchoolClass, SchoolYear
from workflows import campaigns as ops
from workflows import queries as wq
from workflows import state as sm
from workflows import values as wv
from workflows.models import Campaign, CampaignState

_PINS = ("unit_form", "class_form", "extended_form", "ruleset")


# --- helpers -----------------------------------------------------------------------------------------------

def _body() -> dict:
    data = request.get_json(silent=True)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object", details={"body": "not an object"})
    return data


def _campaign(campaign_id) -> Campaign:
    try:
        c = session.get(Campaign, int(campaign_id))
    except (TypeError, ValueError):
        c = None
    if c is None:
        raise NotFound("no such campaign")
    return c


def _date(data: dict, name: str, required: bool = False) -> dt.date | None:
    raw = data.get(name)
    if raw in (None, ""):
        if required:
            raise Invalid(f"{name} is required", details={name: "required"})
        return None
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD)", details={name: "not a date"}) from None


def _pin(data: dict, name: str) -> tuple[str | None, int | None]:
    """``{"key": …, "version": …}`` (both optional) → (key, version)."""
    raw = data.get(name)
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise Invalid(f"{name} must be an object with key and version", details={name: "not an object"})
    key, version = raw.get("key"), raw.get("version")
    if key is not None and not isinstance(key, str):
        raise Invalid(f"{name}.key must be a string", details={name: "bad key"})
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise Invalid(f"{name}.version must be a positive integer", details={name: "bad version"})
    return key, version


def _iso(value):
    return value.isoformat() if value is not None else None


def campaign_json(c: Campaign) -> dict:
    return {"id": c.id, "name": c.name, "status": c.status, "school_year_id": c.school_year_id,
            "school_year": c.school_year.name if c.school_year is not None else None,
            "opens_on": _iso(c.opens_on), "deadline": _iso(c.deadline), "invitation": c.invitation,
            "forms": {s: {"key": c.form_pin(s)[0], "version": c.form_pin(s)[1]} for s in ("unit", "class", "extended")},
            "ruleset": {"key": c.ruleset_key, "version": c.ruleset_version},
            "created_at": _iso(c.created_at), "launched_at": _iso(c.launched_at), "closed_at": _iso(c.closed_at),
            "archived_at": _iso(c.archived_at)}


def _state_json(st: CampaignState | None) -> dict:
    if st is None:  # the ministry: no state row of its own
        return {"level": "ministry", "state": None, "locked": False, "excluded": False, "exclusion_reason": None,
                "extended": None, "updated_at": None}
    return {"level": st.level, **st.snapshot(), "updated_at": _iso(st.updated_at)}


def _counts_json(counts: dict) -> dict:
    return {**counts, "last_activity": _iso(counts.get("last_activity"))}


def _node_state(campaign: Campaign, node: Node) -> dict:
    """A node's state in a campaign, its children's counts and the caller's actions (404: not taking part)."""
    user = actor()
    if node.level == "ministry":
        if campaign.status == "draft":
            raise NotFound("the campaign has not been launched")
        st, actions = None, []
    else:
        st = sm.state_for(campaign, node)
        actions = sm.available_actions(user, campaign, st)
    return {"campaign_id": campaign.id, "node": node_json(node), **_state_json(st),
            "children": _counts_json(wq.node_counts(campaign, node)),
            "actions": actions}


def _class_state(campaign: Campaign, school_class: SchoolClass) -> dict:
    st = sm.state_for(campaign, school_class)
    return {"campaign_id": campaign.id, "class_id": school_class.id, "unit_id": school_class.unit_id,
            "name": school_class.name, **_state_json(st), "actions": sm.available_actions(actor(), campaign, st)}


def _values_json(campaign: Campaign, fv: wv.FormValues, chain: sm.Chain) -> dict:
    st = chain.me
    blocker = sm.edit_blocker(campaign, chain, fv.section)
    return {"campaign_id": campaign.id, "section": fv.section, "values": fv.values, "version": fv.version,
            "state": _state_json(st), "editable": blocker is None, "read_only_reason": blocker}


def _save(campaign: Campaign, target, section: str | None):
    """``target``: the node or class, or its chain as just read (see :func:`workflows.state.chain_for`)."""
    data = _body()
    values, version = data.get("values"), data.get("version")
    problems = {}
    if not isinstance(values, dict):
        problems["values"] = "required: an object of field keys to values"
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        problems["version"] = "required: the version the changes are based on"
    if problems:
        raise Invalid("give values and the version they are based on", details={"fields": problems})
    fv = wv.save_values(actor(), campaign, target, values, version, section=section)
    return jsonify(_values_json(campaign, fv, fv.chain))


def _unit(node: Node) -> Node:
    if node.level != "unit":
        raise NotFound("not a unit")
    return node


def _unit_chain(campaign_id: int, node: Node) -> tuple[Campaign, sm.Chain]:
    """The campaign and the unit's chain in one statement (404: no campaign, not a unit, not taking part)."""
    if node.level != "unit":
        _campaign(campaign_id)  # a missing campaign is reported first
        _unit(node)
    return sm.campaign_and_chain(campaign_id, node)


def _section() -> str | None:
    section = request.args.get("section") or None
    if section not in (None, "unit", "extended"):
        raise Invalid("section must be unit or extended", details={"section": "unknown section"})
    return section


def _reason() -> str | None:
    reason = _body().get("reason")
    if reason is not None and not isinstance(reason, str):
        raise Invalid("reason must be a string", details={"reason": "not a string"})
    return reason


# --- campaigns ---------------------------------------------------------------------------------------------

@bp.route("/campaigns")
@access("campaigns.view")
def list_campaigns():
    status = request.args.get("status") or None
    if status is not None and status not in ("draft", "running", "closed", "archived"):
        raise Invalid("status must be draft, running, closed or archived", details={"status": "unknown status"})
    return jsonify({"items": [campaign_json(c) for c in session.execute(wq.campaigns(status)).scalars()]})


@bp.route("/campaigns", methods=["POST"])
@access("campaigns.manage")
def create_campaign():
    data = _body()
    year_id = data.get("school_year_id")
    year = session.get(SchoolYear, year_id) if isinstance(year_id, int) and not isinstance(year_id, bool) else None
    if year is None:
        raise Invalid("school_year_id must name a school year", details={"school_year_id": "unknown school year"})
    name = data.get("name")
    if not isinstance(name, str):
        raise Invalid("a campaign needs a name", details={"name": "required"})
    c = ops.create_campaign(actor(), name=name, school_year=year, deadline=_date(data, "deadline", required=True),
                            opens_on=_date(data, "opens_on"), **{p: _pin(data, p) for p in _PINS})
    return jsonify(campaign_json(c)), 201


@bp.route("/campaigns/<int:campaign_id>")
@access("campaigns.view")
def get_campaign(campaign_id: int):
    return jsonify(campaign_json(_campaign(campaign_id)))


@bp.route("/campaigns/<int:campaign_id>/launch", methods=["POST"])
@access("campaigns.view")
def launch_campaign(campaign_id: int):
    c = _campaign(campaign_id)
    if not policy.can(actor(), "campaigns.manage"):
        raise Forbidden("only the commission manages campaigns")
    message = _body().get("message")
    counts = ops.launch_campaign(actor(), c, message if isinstance(message, str) else "")
    return jsonify({**campaign_json(c), "rows": counts})


# --- nodes -------------------------------------------------------------------------------------------------

@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>")
@access("campaigns.view", load=Node)
def campaign_node(campaign_id: int, node: Node):
    return jsonify(_node_state(_campaign(campaign_id), node))


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/actions/<action>", methods=["POST"])
@access("campaigns.view", load=Node)
def campaign_node_action(campaign_id: int, node: Node, action: str):
    c = _campaign(campaign_id)
    if action not in sm.ACTIONS:
        raise NotFound(f"no action {action!r}; one of {', '.join(sm.ACTIONS)}")
    sm.transition(actor(), c, node, action, _reason())
    return jsonify(_node_state(c, node))


@bp.route("/campaigns/<int:campaign_id>/nodes/<int:node_id>/history")
@access("campaigns.view", load=Node)
def campaign_node_history(campaign_id: int, node: Node):
    c = _campaign(campaign_id)
    events = session.execute(wq.history(c, node)).scalars()
    return jsonify({"items": [{"id": e.id, "action": e.action, "actor": e.actor, "user_id": e.user_id,
                               "reason": e.reason, "before": e.before, "after": e.after, "at": _iso(e.at)}
                              for e in events]})


# --- classes and units -------------------------------------------------------------------------------------

@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>")
@access("campaigns.view", load=SchoolClass, arg="class_id", as_="school_class")
def campaign_class(campaign_id: int, school_class: SchoolClass):
    return jsonify(_class_state(_campaign(campaign_id), school_class))


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/actions/<action>", methods=["POST"])
@access("campaigns.view", load=SchoolClass, arg="class_id", as_="school_class")
def campaign_class_action(campaign_id: int, school_class: SchoolClass, action: str):
    c = _campaign(campaign_id)
    if action not in sm.ACTIONS:
        raise NotFound(f"no action {action!r}; one of {', '.join(sm.ACTIONS)}")
    sm.transition(actor(), c, school_class, action, _reason())
    return jsonify(_class_state(c, school_class))


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/table")
@access("campaigns.view", load=SchoolClass, arg="class_id", as_="school_class")
def get_class_table(campaign_id: int, school_class: SchoolClass):
    c, chain, fv = wv.read_form(campaign_id, school_class, "class")
    return jsonify(_values_json(c, fv, chain))


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/table", methods=["PUT"])
@access("campaigns.view", load=SchoolClass, arg="class_id", as_="school_class")
def put_class_table(campaign_id: int, school_class: SchoolClass):
    c, chain = sm.campaign_and_chain(campaign_id, school_class)
    return _save(c, chain, "class")


@bp.route("/campaigns/<int:campaign_id>/units/<int:unit_id>/form")
@access("campaigns.view", load=Node, arg="unit_id", as_="unit")
def get_unit_form(campaign_id: int, unit: Node):
    c, chain = _unit_chain(campaign_id, unit)
    return jsonify(_values_json(c, wv.get_values(c, chain.me, _section() or "unit"), chain))


@bp.route("/campaigns/<int:campaign_id>/units/<int:unit_id>/form", methods=["PUT"])
@access("campaigns.view", load=Node, arg="unit_id", as_="unit")
def put_unit_form(campaign_id: int, unit: Node):
    c, chain = _unit_chain(campaign_id, unit)
    return _save(c, chain, _section() or "unit")
